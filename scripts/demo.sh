#!/usr/bin/env bash
# The README's first command: install, build, write a small synthetic MiniMax-M2 model,
# serve it on an embedded 2-worker cluster (two tensor-parallel ranks in one process) and
# stream a generation from it over gRPC. The weights are random, so the text is too.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
"$here/scripts/setup.sh"
"$here/scripts/build.sh" release tandem
tandem=$here/build/release/tandem
model=$here/build/demo/minimax-m2-small.gguf
log=$here/build/demo/serve.log
mkdir -p "$(dirname "$model")"

echo "== tandem synth: MiniMax-M2 layout shrunk to 4 layers x 32 experts, Q3_K_XL recipe"
"$tandem" synth --arch minimax-m2 --recipe q3_k_xl --layers 4 --experts 32 --embd 1024 --heads 24 --kv-heads 4 \
  --ff 512 --out "$model"

echo
echo "== tandem serve --ranks 2 (each rank holds half the heads, experts' FFN rows and vocabulary)"
"$tandem" serve -m "$model" --ranks 2 --listen 127.0.0.1:0 --ctx 1024 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
address=
for _ in $(seq 1 120); do
  address=$(sed -n 's/^serving on //p' "$log")
  [ -n "$address" ] && break
  kill -0 $server 2>/dev/null || { cat "$log"; echo "demo: the server did not start" >&2; exit 1; }
  sleep 0.5
done
[ -n "$address" ] || { cat "$log"; echo "demo: the server did not start within 60 s" >&2; exit 1; }
sed -n '/^plan for/,/^serving on/p' "$log"

echo
echo "== tandem generate --addr $address (streamed as it is sampled)"
"$tandem" generate --addr "$address" --prompt "The quick brown fox" -n 48 --temp 0.8 --seed 1
kill -TERM $server
wait $server || true
trap - EXIT
echo
echo "== done: the server shut down cleanly"
