#!/usr/bin/env bash
# Configures and builds gradstack in build/ (Release, -O3 -march=native, OpenMP).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
