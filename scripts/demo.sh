#!/usr/bin/env bash
# Sets up, builds and runs the main demo. Extra arguments go to `gradstack demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build/bin/gradstack demo "$@"
