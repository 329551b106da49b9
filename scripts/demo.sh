#!/usr/bin/env bash
# The README's first command: install, build, write a small synthetic MiniMax-M2 model
# and inspect it. (Later: serve it on an embedded 2-worker cluster and stream text.)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
"$here/scripts/setup.sh"
"$here/scripts/build.sh" release tandem
tandem=$here/build/release/tandem
model=$here/build/demo/minimax-m2-small.gguf
mkdir -p "$(dirname "$model")"

echo "== tandem synth: MiniMax-M2 layout shrunk to 4 layers x 32 experts, Q3_K_XL recipe"
"$tandem" synth --arch minimax-m2 --recipe q3_k_xl --layers 4 --experts 32 --embd 1024 --heads 16 --kv-heads 4 \
  --ff 512 --out "$model"
echo
echo "== tandem inspect --nodes 2"
"$tandem" inspect "$model" --nodes 2
