#!/usr/bin/env bash
# Install every dependency tandem needs, idempotently, on Debian 12 / Ubuntu 24.04
# (x86-64 and arm64). Python test tools go into a venv under the build dir.
#   scripts/setup.sh [BUILD_DIR]     (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}

packages=(
  build-essential cmake ninja-build ccache pkg-config git clang
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libucx-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libpcre2-dev nlohmann-json3-dev
  python3 python3-venv python3-pip
)

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

# Python test tools (oracles): a venv under the build dir, pip's wheel cache kept in ~/.cache/pip.
venv=$build/venv
# llama-cpp-python is built from source once (CPU only, several minutes on 2 cores) into a
# wheel directory of its own, so later runs and CI reuse it. Built portable (not
# -march=native): on CPUs with AMX, ggml's native build takes its AMX matrix path, which
# crashes on the oracle's small quantized models (llama.cpp 0.3.36, Sapphire Rapids).
llama_version=0.3.36
llama_wheels=${XDG_CACHE_HOME:-$HOME/.cache}/tandem-wheels/llama-cpp-python-$llama_version-portable-$(uname -m)
pyreqs=(gguf==0.19.0 numpy jinja2)
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$build"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import gguf, numpy, llama_cpp, jinja2" 2>/dev/null; then
  echo "setup: installing python test tools into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${pyreqs[@]}"
  if ! ls "$llama_wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "setup: building llama-cpp-python $llama_version once into $llama_wheels (several minutes)"
    portable="-DGGML_NATIVE=OFF"
    [ "$(uname -m)" = x86_64 ] && portable="$portable -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
    CMAKE_ARGS="-DGGML_CUDA=OFF $portable" "$venv/bin/pip" wheel -q --disable-pip-version-check --no-cache-dir \
      --no-deps -w "$llama_wheels" "llama-cpp-python==$llama_version"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check --find-links "$llama_wheels" "llama-cpp-python==$llama_version"
else
  echo "setup: python test tools present in $venv"
fi
