#!/usr/bin/env bash
# Fuzzes gradstack's file readers with libFuzzer, each target for a bounded time: builds tests/fuzz
# with clang and AddressSanitizer in build-fuzz/ (only the libraries the targets need), writes the
# seed corpora with our own writers, then runs each target on one core.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   (default 60 seconds each, every target)
# Targets: fuzz_safetensors fuzz_npy fuzz_json_input fuzz_config fuzz_tokenizer_files
#          fuzz_openai_tokenizer fuzz_token_cache
# Prints one line per target: executions, executions per second, new corpus entries, crashes.
# Exit status 0: no crash. A crashing input is saved as build-fuzz/fuzz/TARGET/crash-* (replay it
# with build-fuzz/bin/TARGET FILE). Interesting inputs are kept in build-fuzz/fuzz/TARGET/corpus
# between runs. Installs clang's fuzzer runtime with apt-get if missing. FUZZ_JOBS (default 2)
# is the build's parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
all=(fuzz_safetensors fuzz_npy fuzz_json_input fuzz_config fuzz_tokenizer_files
     fuzz_openai_tokenizer fuzz_token_cache)
targets=("$@")
if ((${#targets[@]} == 0)); then targets=("${all[@]}"); fi

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
cmake --build build-fuzz -j"${FUZZ_JOBS:-2}" --target "${targets[@]}" make_fuzz_corpus

work=build-fuzz/fuzz
rm -rf "$work/seeds"
build-fuzz/bin/make_fuzz_corpus "$work/seeds"

status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus"
  dict=()
  case "$t" in
    fuzz_safetensors) dict=(-dict=tests/fuzz/safetensors.dict) ;;
    fuzz_json_input|fuzz_config) dict=(-dict=tests/fuzz/json.dict) ;;
  esac
  log="$work/$t/last.log"
  # detect_leaks=0: the OpenMP runtime's thread pool is still alive at exit. One thread.
  if ! OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=0 "build-fuzz/bin/$t" \
      -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 "${dict[@]}" \
      -artifact_prefix="$work/$t/" "$work/$t/corpus" "$work/seeds/$t" >"$log" 2>&1; then
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  news=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  crashes=$(find "$work/$t" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  summary+=("$(printf '%-24s %12s runs %8s exec/s %6s new %3s crash files' "$t" "${runs:-?}" \
    "${speed:-?}" "${news:-?}" "$crashes")")
  echo "${summary[-1]}"
  if grep -q "ERROR: \|==ERROR\|deadly signal" "$log"; then tail -40 "$log"; fi
done
echo "fuzz: ${#targets[@]} target(s), $seconds s each"
printf '%s\n' "${summary[@]}"
exit $status
