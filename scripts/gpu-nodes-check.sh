#!/usr/bin/env bash
# Two nodes on one GPU box: `serve --nodes 2` plus one `tandem worker`, both on the CUDA
# backend, for each collective between them (ucx: staged through host memory; nccl: device
# memory, the step recorded in one CUDA graph). Checks that each gives the same greedy
# tokens as one rank, prints decode tok/s, then kills the worker in the middle of a long
# generation: the client must get UNAVAILABLE within 2 s, and a restarted worker must
# bring the group back to the same tokens.
#
#   scripts/gpu-nodes-check.sh MODEL.gguf [TANDEM_BINARY]
#
# Both processes may share one GPU. NCCL refuses two ranks of one communicator on one GPU
# of one host ("Duplicate GPU detected"), so each process gets its own NCCL_HOSTID: NCCL
# then sees two hosts and joins them with its network transport (sockets on loopback),
# as it would join two Sparks over Ethernet. On a box with two GPUs give the worker
# DEVICE=1 and NCCL joins them with its in-box transports instead (P2P over NVLink/PCIe).
set -euo pipefail

model=${1:?usage: scripts/gpu-nodes-check.sh MODEL.gguf [TANDEM_BINARY]}
tandem=${2:-build/release/tandem}
device=${DEVICE:-0}
backend=${BACKEND:-cuda}              # cpu: a dry run of the script without a GPU
collectives=${COLLECTIVES:-ucx nccl}
# f32 activations: the ranks' partial sums then differ from one rank's only in the order
# of additions; int8 (the GPU default) may flip a near-tie greedy token.
activations=${ACTIVATIONS:-f32}
work=${LOGDIR:-$(mktemp -d)}  # the processes' logs
mkdir -p "$work"
export NCCL_NVLS_ENABLE=0 NCCL_DEBUG=${NCCL_DEBUG:-WARN}
# One box: NCCL's sockets on loopback (a box's InfiniBand ports may be down or absent).
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo} NCCL_IB_DISABLE=${NCCL_IB_DISABLE:-1}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

prompt=9707,11,1879,0,576,374,264
port=$((20000 + RANDOM % 20000))

# Waits until `tandem serve` (log $1) says it serves, or fails after $2 seconds.
wait_serving() {
  for _ in $(seq 1 $(($2 * 10))); do
    grep -q "serving on" "$1" && return 0
    grep -q "^error" "$1" && { cat "$1"; return 1; }
    sleep 0.1
  done
  echo "no 'serving on' in $1 within $2 s:"; tail -20 "$1"; return 1
}

# Greedy token ids from the server at $1 (n = $2).
tokens() {
  "$tandem" generate --addr "$1" --tokens "$prompt" -n "$2" --temp 0 --print-ids --timeout 60 2>"$work/gen.err"
}
decode_rate() { grep -o "decode [0-9.]* tok/s" "$work/gen.err" | tail -1; }

start_worker() {  # $1: control address, $2: log
  NCCL_HOSTID=tandem-worker "$tandem" worker --join "$1" -m "$model" --backend "$backend" --device "$device" \
    --activations "$activations" >"$2" 2>&1 &
  pids+=($!)
  worker_pid=$!
}

echo "== 1 rank"
"$tandem" serve -m "$model" --listen "127.0.0.1:$port" --backend "$backend" --activations "$activations" \
  >"$work/one.log" 2>&1 &
pids+=($!)
wait_serving "$work/one.log" 120
want=$(tokens "127.0.0.1:$port" 24)
echo "tokens: $want"
echo "$(decode_rate)"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

status=0
for collective in $collectives; do
  echo "== 2 nodes, --collective $collective"
  api=$((port + 1)) control=$((port + 2))
  port=$((port + 10))
  NCCL_HOSTID=tandem-rank0 "$tandem" serve -m "$model" --listen "127.0.0.1:$api" --control "127.0.0.1:$control" \
    --nodes 2 --backend "$backend" --activations "$activations" --collective "$collective" \
    >"$work/serve-$collective.log" 2>&1 &
  pids+=($!)
  serve_pid=$!
  start_worker "127.0.0.1:$control" "$work/worker-$collective.log"
  wait_serving "$work/serve-$collective.log" 180
  grep -E "ranks joined over" "$work/serve-$collective.log" | tail -1
  got=$(tokens "127.0.0.1:$api" 24)
  if [[ "$got" == "$want" ]]; then echo "same 24 tokens as 1 rank; $(decode_rate)"; else
    echo "DIFFERENT tokens: $got"; status=1; fi
  got=$(tokens "127.0.0.1:$api" 256)
  echo "256 tokens: $(decode_rate)"

  echo "-- the worker killed in the middle of a generation"
  ( "$tandem" generate --addr "127.0.0.1:$api" --tokens "$prompt" -n 3000 --temp 0 --print-ids --timeout 20 \
      >"$work/long.out" 2>"$work/long.err"; echo "rc=$?" >>"$work/long.err" ) &
  gen=$!
  sleep 1.5
  kill -9 "$worker_pid"
  killed=$(date +%s.%N)
  wait "$gen" || true
  ended=$(date +%s.%N)
  echo "client ended $(awk "BEGIN { printf \"%.2f\", $ended - $killed }") s after the kill: $(grep -o 'UNAVAILABLE[^.]*' "$work/long.err" | head -1)"
  if ! grep -q UNAVAILABLE "$work/long.err"; then
    echo "no UNAVAILABLE:"; cat "$work/long.err"; status=1
    # Where rank 0 waits (when gdb is there).
    gdb -p "$serve_pid" -batch -ex "thread apply all bt 12" 2>/dev/null | grep -E "^#|^Thread" >"$work/serve-stacks.txt" || true
  fi
  start_worker "127.0.0.1:$control" "$work/worker2-$collective.log"
  back=""
  for _ in $(seq 1 60); do
    if got=$(tokens "127.0.0.1:$api" 24) && [[ -n "$got" ]]; then back=yes; break; fi
    sleep 1
  done
  if [[ "$back" == yes && "$got" == "$want" ]]; then echo "a restarted worker rejoined: same 24 tokens"; else
    echo "after the restart: '$got' $(tail -2 "$work/gen.err")"; status=1; fi
  kill "$serve_pid" "$worker_pid" 2>/dev/null || true
  wait "$serve_pid" "$worker_pid" 2>/dev/null || true
  grep -iE "warn|error" "$work/serve-$collective.log" | grep -v "^$" | tail -8 || true
done
exit $status
