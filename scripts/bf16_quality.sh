#!/usr/bin/env bash
# What `--dtype bf16` costs in quality, on a trained model: the perplexity of a held-out text under
# float32 and bf16 (gradstack score), and greedy continuations of many prompts under both
# (gradstack generate): how many are identical over their first NEW tokens, and where the others
# part.
#
#   scripts/bf16_quality.sh --model DIR [--text FILE | --demo-tail] [--prompts N] [--new N]
#
# --text FILE: the held-out text to score (and the prompts: the first line of each fortune, the
#   blocks between '%' lines, or of each paragraph). --demo-tail: the text the demo model (its
#   default --corpus) never trained on: the demo trains on the sorted fortune files joined and holds
#   out the last 10% of their tokens; this takes the last 5% of their bytes, inside that split.
# --prompts: how many prompts (default 50); --new: greedy tokens each (default 32).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/build/bin/gradstack"
model="" text="" demo_tail=0 prompts=50 new=32
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model="$2"; shift 2 ;;
        --text) text="$2"; shift 2 ;;
        --demo-tail) demo_tail=1; shift ;;
        --prompts) prompts="$2"; shift 2 ;;
        --new) new="$2"; shift 2 ;;
        *) echo "error: unknown argument '$1' (see the top of $0)" >&2; exit 2 ;;
    esac
done
[ -n "$model" ] || { echo "error: give --model DIR" >&2; exit 2; }
[ -x "$bin" ] || bash "$root/scripts/build.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ "$demo_tail" = 1 ]; then
    corpus=/usr/share/games/fortunes
    [ -d "$corpus" ] || { echo "error: $corpus: install Debian's fortunes package" >&2; exit 1; }
    # The demo's files: regular files without an extension, sorted (apps/demo.cpp fortune_files).
    find "$corpus" -maxdepth 1 -type f ! -name '*.*' | LC_ALL=C sort | xargs cat > "$work/all.txt"
    bytes=$(stat -c %s "$work/all.txt")
    tail -c $(( bytes / 20 )) "$work/all.txt" | sed '1d' > "$work/text.txt"  # from a whole line
    text="$work/text.txt"
fi
[ -f "$text" ] || { echo "error: give --text FILE or --demo-tail" >&2; exit 2; }

echo "model: $model   text: $(wc -c < "$text") bytes   prompts: $prompts x $new greedy tokens"
for dtype in float32 bf16; do
    "$bin" score --model "$model" --file "$text" --json --dtype "$dtype" > "$work/score-$dtype.json"
done
python3 - "$work" "$text" "$prompts" <<'EOF'
import json, sys
work, text, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = {d: json.load(open(f"{work}/score-{d}.json")) for d in ("float32", "bf16")}
p32, p16 = s["float32"]["perplexity"], s["bf16"]["perplexity"]
print(f"perplexity over {s['float32']['n_tokens']} tokens: float32 {p32:.4f}  bf16 {p16:.4f}  "
      f"difference {100 * (p16 - p32) / p32:+.3f}%")
# Prompts: the first line of each block (blocks end at a '%' line or a blank line).
lines, blocks, cur = open(text, encoding="utf-8", errors="replace").read().splitlines(), [], []
for line in lines:
    if line.strip() in ("%", ""):
        if cur: blocks.append(cur[0].strip())
        cur = []
    else:
        cur.append(line)
if cur: blocks.append(cur[0].strip())
picked = [b for b in blocks if len(b) >= 12][:n]
with open(f"{work}/prompts.txt", "w") as f:
    for b in picked: f.write(b + "\n")
EOF
args=()
while IFS= read -r line; do args+=(--prompt "$line"); done < "$work/prompts.txt"
for dtype in float32 bf16; do
    "$bin" generate --model "$model" "${args[@]}" --max-new-tokens "$new" --ignore-eos --json \
        --dtype "$dtype" > "$work/gen-$dtype.json"
done
python3 - "$work" "$new" <<'EOF'
import json, sys
work, new = sys.argv[1], int(sys.argv[2])
g = {d: json.load(open(f"{work}/gen-{d}.json"))["prompts"] for d in ("float32", "bf16")}
same, parts = 0, []
for a, b in zip(g["float32"], g["bf16"]):
    x, y = a["outputs"][0]["new_ids"][:new], b["outputs"][0]["new_ids"][:new]
    if x == y:
        same += 1
    else:
        parts.append(next(i for i in range(min(len(x), len(y))) if x[i] != y[i]))
print(f"greedy, first {new} tokens: {same} of {len(g['float32'])} prompts identical"
      + (f"; the others part at token {sorted(parts)}" if parts else ""))
EOF
