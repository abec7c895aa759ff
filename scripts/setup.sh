#!/usr/bin/env bash
# Installs what llfc needs on a fresh Debian machine with Node 20: the system packages that
# are missing (C++ toolchain, cmake, Eigen; DejaVu fonts and Chromium for the HTML report's
# PNG plots and browser test), the npm dependencies (onnxruntime-node without its
# CUDA download), the native addon built from source, and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
[ -f /usr/include/eigen3/Eigen/Core ] || missing+=(libeigen3-dev)
# The HTML report: a font for the PNG plots, and Chromium for its browser test.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "llfc setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# onnxruntime-node downloads its CUDA libraries on Linux x64 unless told to skip them.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
