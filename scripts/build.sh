#!/usr/bin/env bash
# Configure and build one preset (default: release). Used by test.sh and demo.sh.
#   scripts/build.sh [PRESET] [TARGET...]
# CUDA architectures: TANDEM_CUDA_ARCHS (default "90;121"; CI builds one).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
preset=${1:-release}
shift || true
cd "$here"
# relative paths in ccache keys: a clone elsewhere reuses the cache
export CCACHE_BASEDIR=$here
args=()
[ -n "${TANDEM_CUDA_ARCHS:-}" ] && args+=("-DTANDEM_CUDA_ARCHS=${TANDEM_CUDA_ARCHS}")
cmake --preset "$preset" "${args[@]}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build --preset "$preset" -j "$(nproc)" "${targets[@]}"
