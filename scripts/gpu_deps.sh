#!/usr/bin/env bash
# Fetches, on a machine with Debian 12's package registry, the .deb files that scripts/gpu_check.sh
# unpacks on a GPU machine that has no registry (CUDA, CMake, ninja and a compiler, but not
# gradstack's libraries): the -dev packages of scripts/setup.sh's build dependencies and the
# runtime libraries they point to. They go to .gpu-deps/debs/ (git-ignored), about 20 MB.
#   scripts/gpu_deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-deps/debs
mkdir -p "$out"
packages=(
  libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev libeigen3-dev
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libcurl4-openssl-dev libcurl4 libssl-dev libssl3
  libnghttp2-14 librtmp1 libssh2-1 libpsl5 libbrotli1 libldap-2.5-0 libsasl2-2 libzstd1 libidn2-0
  libopenblas-openmp-dev libopenblas0-openmp libopenblas-dev libblas-dev liblapack-dev libgfortran5
  libboost-test-dev libboost-test1.74-dev libboost-test1.74.0 libboost1.74-dev
  libcpp-httplib-dev libcpp-httplib0.11 libbrotli-dev zlib1g-dev
  libgomp1
)
cd "$out"
apt-get download "${packages[@]}"
du -sh .
