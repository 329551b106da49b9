#!/usr/bin/env bash
# NCCL's latency settings against tandem's decode step, on a box with a GPU per rank:
# for each transport (NVLink/P2P, and the network transport a pair of Sparks would use:
# NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1) and each protocol (NCCL's choice, LL, LL128,
# Simple) and channel cap, `tandem bench comm` times the step's messages (p50/p99) and
# `tandem bench decode --gpus own` the tok/s they give, with the q/k-norm overlap off and
# on. NCCL reads its environment once per process, so every setting is a process of its own.
#
#   scripts/nccl-settings-sweep.sh OUT_DIR [RANKS] [TANDEM_BINARY]
#
# Env: MODEL (bench decode's --synthetic spec, default minimax-m2:q3_k_xl:layers=20),
# DEPTHS (default "0 16384"), TOKENS (default 64). Writes OUT_DIR/comm-*.csv,
# OUT_DIR/decode-*.csv and prints one line per setting.
set -euo pipefail

out=${1:?usage: scripts/nccl-settings-sweep.sh OUT_DIR [RANKS] [TANDEM_BINARY]}
ranks=${2:-2}
tandem=${3:-build/release/tandem}
model=${MODEL:-minimax-m2:q3_k_xl:layers=20}
depths=${DEPTHS:-0 16384}
tokens=${TOKENS:-64}
mkdir -p "$out"
export NCCL_NVLS_ENABLE=0

gpus=$( (nvidia-smi --list-gpus 2>/dev/null || true) | wc -l)
if (( gpus < ranks )); then
  echo "error: $ranks ranks need a GPU each; this machine has $gpus (NCCL refuses two ranks on one GPU)" >&2
  exit 2
fi

# One setting: NAME then VAR=VALUE... for NCCL.
run() {
  local name=$1
  shift
  env "$@" "$tandem" bench comm --backends nccl --ranks "$ranks" --csv "$out/comm-$name.csv" > "$out/comm-$name.txt" 2>&1 ||
    echo "  comm $name failed: see $out/comm-$name.txt"
  local overlap
  for overlap in off on; do
    # shellcheck disable=SC2086  # DEPTHS is a list
    env "$@" "$tandem" bench decode --synthetic "$model" --backend cuda --ranks "$ranks" --gpus own --depth $depths \
      --tokens "$tokens" --qk-norm-overlap "$overlap" --csv "$out/decode-$name-overlap-$overlap.csv" \
      > "$out/decode-$name-overlap-$overlap.txt" 2>&1 || echo "  decode $name failed: see $out/decode-$name-overlap-$overlap.txt"
  done
  local per_token tok_s
  per_token=$(grep -m1 "comm per token" "$out/comm-$name.txt" | awk '{print $NF}' || true)
  tok_s=$(for f in "$out"/decode-"$name"-overlap-*.csv; do tail -n +2 "$f" | cut -d, -f5,7 | tr '\n' ' '; done)
  printf '%-28s comm/token p50 (graph) %8s us   decode depth,tok/s (overlap off | on): %s\n' "$name" "${per_token:-?}" "$tok_s"
}

for transport in nvlink net; do
  base=()
  [[ $transport == net ]] && base=(NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1)
  run "$transport-default" "${base[@]}"
  for proto in LL LL128 Simple; do run "$transport-$proto" "${base[@]}" NCCL_PROTO=$proto; done
  for channels in 1 2; do run "$transport-LL-${channels}ch" "${base[@]}" NCCL_PROTO=LL NCCL_MAX_NCHANNELS=$channels; done
done
