#!/usr/bin/env bash
# Builds and runs the host emulation test of the CUDA backend (no GPU, driver or nvcc needed;
# only g++ and the CUDA runtime headers). Usage: run.sh [BUILD_DIR]
# CUDA_INCLUDE overrides where cuda_runtime_api.h is looked for (default /usr/local/cuda/include);
# EIGEN_INCLUDE where Eigen is (default /usr/include/eigen3, Debian's libeigen3-dev: feature_stats.cc uses it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
native=$(cd "$here/../.." && pwd)
inc=${CUDA_INCLUDE:-/usr/local/cuda/include}
eigen=${EIGEN_INCLUDE:-/usr/include/eigen3}
if [ ! -f "$inc/cuda_runtime_api.h" ]; then
  echo "CUDA headers not found in $inc: emulation not built" >&2
  exit 3
fi
out=${1:-$(mktemp -d)}
mkdir -p "$out"
cxx=${CXX:-g++}
flags=(-std=c++17 -O2 -ffp-contract=off -fopenmp -Wall -Wextra -I"$inc" -I"$eigen" -I"$native" -I"$native/cuda" -I"$here")
"$cxx" "${flags[@]}" -fPIC -shared "$here/fake_cublas.cc" -o "$out/libfake_cublas.so" -ldl &
cublas_build=$!
"$cxx" "${flags[@]}" -rdynamic "$here/emulation_test.cc" "$here/fake_runtime.cc" "$native/cuda/device.cc" \
  "$native/interpolate.cc" "$native/feature_stats.cc" -ldl -o "$out/emulation_test"
wait "$cublas_build"
LLFC_CUBLAS="$out/libfake_cublas.so" "$out/emulation_test"
