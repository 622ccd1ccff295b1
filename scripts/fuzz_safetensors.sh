#!/usr/bin/env bash
# Fuzzes the safetensors reader with libFuzzer for a bounded time: builds tests/fuzz with clang and
# AddressSanitizer in build-fuzz/, writes a seed corpus with our own writer, runs the fuzzer.
#   scripts/fuzz_safetensors.sh [SECONDS]     (default 60)
# Exit status 0: no crash. A crashing input is saved as build-fuzz/fuzz/crash-* (replay it with
# build-fuzz/bin/fuzz_safetensors FILE). Installs clang's fuzzer runtime with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

packages=(clang libclang-rt-14-dev libomp-dev)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "fuzz: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
  -DGRADSTACK_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-fuzz -j2 --target fuzz_safetensors make_fuzz_corpus

work=build-fuzz/fuzz
mkdir -p "$work/corpus" "$work/seeds"
build-fuzz/bin/make_fuzz_corpus "$work/seeds"
# New interesting inputs go to corpus/ (kept between runs); seeds/ is rewritten each time.
# detect_leaks=0: the OpenMP runtime's thread pool is still alive at exit.
ASAN_OPTIONS=detect_leaks=0 build-fuzz/bin/fuzz_safetensors \
  -max_total_time="$seconds" -print_final_stats=1 -dict=tests/fuzz/safetensors.dict \
  -artifact_prefix="$work/" "$work/corpus" "$work/seeds"
