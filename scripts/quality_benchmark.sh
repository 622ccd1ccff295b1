#!/usr/bin/env bash
# Issue 7's quality benchmark: the Tiny Shakespeare notebook recipe (byte-level BPE 512, context 256,
# 8 layers, 16 heads, n_embd 128, dropout 0.2, AdamW lr 1e-3, batch 32, clip 1.0, 90/10 split)
# trained by gradstack, then by PyTorch on the same token file with the same schedule and
# evaluation (apps/bench/torch_train.py curve), and both validation curves drawn in one plot.
#
#   scripts/quality_benchmark.sh [--data FILE] [--out DIR] [--steps N] [--torch-steps M] [--plot-only]
#
# --steps: the length of the schedule and of gradstack's run (default 2000); --torch-steps: where
# PyTorch stops on that same schedule (default 300: it is several times slower here; 0 skips it).
# Writes DIR/gradstack (a `gradstack train` run), DIR/torch_metrics.csv and DIR/curves.png;
# --plot-only redraws DIR/curves.png from the CSVs already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/../shared/data/tinyshakespeare/input.txt"
out="$root/runs/quality"
steps=2000
torch_steps=300
plot_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --torch-steps) torch_steps="$2"; shift 2 ;;
        --plot-only) plot_only=1; shift ;;
        *) echo "error: unknown argument '$1' (see the top of $0)" >&2; exit 2 ;;
    esac
done
have_torch=0
if [ "$plot_only" = 1 ]; then
    [ -f "$out/torch_metrics.csv" ] && have_torch=1
else
    [ -f "$data" ] || { echo "error: $data: no such file (pass --data FILE)" >&2; exit 1; }
    bin="$root/build/bin/gradstack"
    [ -x "$bin" ] || bash "$root/scripts/build.sh"
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
    eval_every=$(( steps >= 500 ? 50 : (steps >= 10 ? steps / 10 : 1) ))
    mkdir -p "$out"

    "$bin" train-tokenizer --data "$data" --vocab-size 512 --out "$out/tokenizer"
    "$bin" train --data "$data" --out "$out/gradstack" --tokenizer "$out/tokenizer" \
        --n-layer 8 --n-head 16 --n-embd 128 --context 256 --dropout 0.2 --batch-size 32 \
        --lr 1e-3 --clip 1.0 --val-fraction 0.1 --steps "$steps" --eval-every "$eval_every" \
        --eval-batches 10 --log-every 10 --save-every "$steps"

    if [ "$torch_steps" -gt 0 ]; then
        tokens=$(ls "$out"/gradstack/tokens/tokens-*.bin | head -n 1)
        if LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \
            "$root/apps/bench/torch_train.py" curve --tokens "$tokens" --out "$out/torch_metrics.csv" \
            --steps "$steps" --stop-after "$torch_steps" --eval-every "$eval_every" --eval-batches 10 \
            --threads "$OMP_NUM_THREADS"; then
            have_torch=1
        else
            echo "the PyTorch run failed (scripts/setup.sh --bench installs PyTorch); plotting gradstack only" >&2
        fi
    fi
fi
g="$out/gradstack/metrics.csv" t="$out/torch_metrics.csv"
loss="'$g' using 1:3 with linespoints pt 7 ps 0.5 lw 2 title 'gradstack validation', '$g' using 1:2 with lines title 'gradstack train'"
accuracy="'$g' using 1:4 with linespoints pt 7 ps 0.5 lw 2 title 'gradstack'"
if [ "$have_torch" = 1 ]; then
    loss="$loss, '$t' using 1:3 with linespoints pt 5 ps 0.5 lw 2 title 'PyTorch validation', '$t' using 1:2 with lines title 'PyTorch train'"
    accuracy="$accuracy, '$t' using 1:4 with linespoints pt 5 ps 0.5 lw 2 title 'PyTorch'"
fi
gnuplot <<EOF
set terminal pngcairo size 1000,700 font 'sans,10'
set output '$out/curves.png.tmp'
set datafile separator ','
set key autotitle columnhead
set multiplot layout 2,1 title 'Tiny Shakespeare recipe (BPE 512, 8 x 128, 16 heads, context 256)'
set xlabel 'step'
set grid
set ylabel 'loss (nats)'
plot $loss
set ylabel 'next-token accuracy'
plot $accuracy
unset multiplot
EOF
mv "$out/curves.png.tmp" "$out/curves.png"
echo "gradstack: $out/gradstack/metrics.csv; PyTorch: $out/torch_metrics.csv; plot: $out/curves.png"
