#!/usr/bin/env bash
# Everything a GPU machine checks, in one go, in well under 10 minutes:
#   scripts/gpu_check.sh LOGDIR
# 1. prints what the machine has (nvidia-smi, nvcc, cmake, ninja, the compiler, PyTorch) and which
#    of gradstack's build libraries are missing;
# 2. unpacks the missing ones from .gpu-deps/debs/*.deb (fetched beforehand on a machine with
#    Debian's registry by scripts/gpu_deps.sh) into .gpu-deps/root with dpkg -x (or ar + tar);
# 3. builds with the CUDA backend on for sm_90 in build-gpu/;
# 4. runs the whole test suite (the CUDA device tests included) and the CUDA benchmarks
#    (`gradstack bench gpt|train --device cuda`, beside PyTorch when it is there).
# Logs go to LOGDIR: machine.txt, configure.log, build.log, ctest.log, test_cuda_device.log,
# bench_*.log, and summary.txt with each step's exit status and seconds.
set -uo pipefail
cd "$(dirname "$0")/.."
logdir=${1:?usage: scripts/gpu_check.sh LOGDIR}
mkdir -p "$logdir"
logdir=$(cd "$logdir" && pwd)
summary=$logdir/summary.txt
: > "$summary"
jobs=$(nproc)
extra=()

step() {  # step NAME TIMEOUT_S COMMAND...: runs it into LOGDIR/NAME.log, records status and time
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$logdir/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc in $((SECONDS - t0)) s" | tee -a "$summary"
  return $rc
}

# --- 1. the machine
{
  echo "== date"; date -u
  echo "== nvidia-smi"; nvidia-smi 2>&1 || echo "nvidia-smi: not found"
  echo "== nvcc"; (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1 | tail -2
  echo "== cmake"; cmake --version 2>&1 | head -1
  echo "== ninja"; ninja --version 2>&1 || echo "ninja: not found"
  echo "== c++"; c++ --version 2>&1 | head -1
  echo "== glibc"; ldd --version 2>&1 | head -1
  echo "== os"; head -2 /etc/os-release 2>/dev/null
  echo "== cpu"; nproc; grep -m1 "model name" /proc/cpuinfo
  echo "== python torch"; python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())" 2>&1 | tail -1
} > "$logdir/machine.txt" 2>&1
cat "$logdir/machine.txt"

# --- 2. build libraries: what is missing, and the unpacked .debs for it
missing=()
have_header() { echo "#include <$1>" | c++ -std=c++20 -x c++ -fsyntax-only - 2>/dev/null; }
for h in fmt/format.h CLI/CLI.hpp nlohmann/json.hpp Eigen/Core pcre2.h curl/curl.h openssl/sha.h \
         boost/test/unit_test.hpp httplib.h; do
  have_header "$h" || missing+=("$h")
done
ls /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so* > /dev/null 2>&1 || missing+=("openblas-openmp")
echo "missing build libraries: ${missing[*]:-none}" | tee -a "$summary"
prefix=$PWD/.gpu-deps/root
if (( ${#missing[@]} )); then
  if ! ls .gpu-deps/debs/*.deb > /dev/null 2>&1; then
    echo "no .gpu-deps/debs/*.deb here: run scripts/gpu_deps.sh on a machine with Debian's registry and carry .gpu-deps" | tee -a "$summary"
    exit 1
  fi
  mkdir -p "$prefix"
  for deb in .gpu-deps/debs/*.deb; do
    if command -v dpkg > /dev/null; then
      dpkg -x "$deb" "$prefix"
    else  # ar + tar: a .deb is an ar archive holding data.tar.*
      tmp=$(mktemp -d)
      (cd "$tmp" && ar x "$OLDPWD/$deb" && tar -xf data.tar.* -C "$prefix")
      rm -rf "$tmp"
    fi
  done
  # Debian's absolute symlinks (libfoo.so -> /usr/lib/...) point outside the prefix: re-aim them.
  find "$prefix" -type l | while read -r link; do
    target=$(readlink "$link")
    if [[ "$target" == /* && -e "$prefix$target" ]]; then ln -sfn "$prefix$target" "$link"; fi
  done
  arch_lib=$prefix/usr/lib/x86_64-linux-gnu
  export CPATH=$prefix/usr/include:$prefix/usr/include/x86_64-linux-gnu/openblas-openmp:$prefix/usr/include/eigen3${CPATH:+:$CPATH}
  export LIBRARY_PATH=$arch_lib:$arch_lib/openblas-openmp${LIBRARY_PATH:+:$LIBRARY_PATH}
  export LD_LIBRARY_PATH=$arch_lib:$arch_lib/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PKG_CONFIG_PATH=$arch_lib/pkgconfig:$prefix/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export PKG_CONFIG_SYSROOT_DIR=$prefix  # the .pc files say /usr
  # The config files' own folders too, for CMakes that do not search lib/x86_64-linux-gnu.
  export CMAKE_PREFIX_PATH=$prefix/usr:$arch_lib/cmake:$prefix/usr/share/cmake${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  extra=(-DOPENBLAS_OPENMP_LIB=$arch_lib/openblas-openmp/libopenblas.so.0
         -DOPENBLAS_OPENMP_INCLUDE=$prefix/usr/include/x86_64-linux-gnu/openblas-openmp)
fi

# --- 3. build
generator=(); command -v ninja > /dev/null && generator=(-G Ninja)
step configure 120 cmake -S . -B build-gpu "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DGRADSTACK_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 "${extra[@]}" || { cat "$logdir/configure.log" | tail -30; exit 1; }
step build 400 cmake --build build-gpu -j "$jobs" || { tail -40 "$logdir/build.log"; exit 1; }

# --- 4. tests and benchmarks
export OMP_NUM_THREADS=$jobs
# PyTorch beside our rows: the machine's own Python, where its CUDA build of torch lives.
command -v python3 > /dev/null && export GRADSTACK_PYTHON=$(command -v python3)
step test_cuda_device 240 build-gpu/bin/test_cuda --run_test=device --log_level=test_suite --report_level=detailed
step ctest 300 ctest --test-dir build-gpu --output-on-failure -j 4 -E playground_browser
bin=build-gpu/bin/gradstack
step bench_gpt 150 "$bin" bench gpt --device cuda
step bench_train 200 "$bin" bench train --device cuda --gpt2-batch 8 --gpt2-context 1024
cat "$summary"
