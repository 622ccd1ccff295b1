#!/usr/bin/env bash
# Installs what gradstack needs to build and test, from Debian 12's packages. Idempotent: when
# everything is present it changes nothing (and needs no network). Run as root or with sudo.
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --bench  also PyTorch and NumPy (Debian's), the baseline of `gradstack bench`
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libeigen3-dev libfmt-dev libboost-test-dev nlohmann-json3-dev libcli11-dev
  libopenblas-openmp-dev libopenblas0-openmp   # the GEMM engine (OpenMP build: shares our threads)
  gnuplot-nox                                  # training plots
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

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
