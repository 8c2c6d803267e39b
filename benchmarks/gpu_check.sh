#!/bin/sh
# Prepares the input folder of benchmarks/gpu_check.py here (issue 14) and prints the command for the lent GPU
# machine. Needs this machine's full install (mediapipe, PyAV) and ../shared/data (else the demo's portraits):
#
#   benchmarks/gpu_check.sh [OUT] [CPU_MINUTES]        # default: out/gpu_inputs, 6 minutes of CPU training
#
# OUT stays under 40 MiB (checked) and is git-ignored; carry it with the working tree to the lent machine.
set -eu
cd "$(dirname "$0")/.."
OUT="${1:-out/gpu_inputs}"
MINUTES="${2:-6}"
PY="${PY:-.venv/bin/python}"
"$PY" benchmarks/gpu_check_inputs.py --out "$OUT" --cpu-minutes "$MINUTES"
