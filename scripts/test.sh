#!/usr/bin/env bash
# The README's second command: install everything, build, pass every test.
#   scripts/test.sh
# Runs the release build's full suite, then the parser and protocol tests again under
# ASan + UBSan (preset asan, ctest label "asan").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
"$here/scripts/setup.sh"
# One CUDA architecture is enough to prove the CUDA code compiles.
export TANDEM_CUDA_ARCHS=${TANDEM_CUDA_ARCHS:-90}
jobs=$(nproc)

echo "== release build"
"$here/scripts/build.sh" release
echo "== release tests"
ctest --preset release -j "$jobs"

echo "== asan build (parser and protocol tests)"
"$here/scripts/build.sh" asan asan_tests
echo "== asan tests"
ctest --preset asan -L asan -j "$jobs"
