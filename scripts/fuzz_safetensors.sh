#!/usr/bin/env bash
# Fuzzes the safetensors reader alone: scripts/fuzz.sh [SECONDS] fuzz_safetensors (kept for the
# commands that call it by this name). See scripts/fuzz.sh for every reader.
#   scripts/fuzz_safetensors.sh [SECONDS]     (default 60)
set -euo pipefail
exec "$(dirname "$0")/fuzz.sh" "${1:-60}" fuzz_safetensors
