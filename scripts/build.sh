#!/usr/bin/env bash
# Configures and builds gradstack in build/ (Release, -O3 -march=native, OpenMP).
set -euo pipefail
cd "$(dirname "$0")/.."
# The CUDA backend is built when the CUDA toolkit is found (GRADSTACK_CUDA=OFF leaves it out).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGRADSTACK_CUDA="${GRADSTACK_CUDA:-AUTO}"
cmake --build build -j "$(nproc)"
