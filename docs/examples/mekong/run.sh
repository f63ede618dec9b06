#!/usr/bin/env bash
# The worked example of docs/extending-labels.md, end to end: add a theme,
# check the set, get suggestions, fold the reviewed ones into the gold,
# train a head,
# evaluate before and after. Prints the before/after table the document
# quotes. The dev articles are read from ../shared and never copied.
#
#   docs/examples/mekong/run.sh [WORKDIR]
#
# THEMES (default: the release build via cargo) is the themes command.
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=docs/examples/mekong
WORK=${1:-$(mktemp -d)}
SHARED=${THEMES_SHARED:-../shared}
mkdir -p "$WORK"
if [ -z "${THEMES:-}" ]; then
  cargo build --release --quiet
  THEMES=target/release/themes
fi
LABELS=$HERE/labels.toml

echo "== 1. check the label set with the new theme" >&2
"$THEMES" labels check --quiet --labels "$LABELS" --max-similarity 0.5 >&2 || true

echo "== 2. suggestions: the 12 paragraphs most likely to be mekong" >&2
"$THEMES" suggest --quiet --label mekong --labels "$LABELS" --n 12 \
  --out "$WORK/suggestions.jsonl" data/articles "$SHARED"/data/dev/*.txt

echo "== 3. hand labels: $HERE/review.jsonl folded into the gold" >&2
# The reviewed template, without the paragraphs' text (the dev articles stay
# in ../shared). Every suggestion must have a decision in it.
keys() { sed -E 's/^\{"article": ?"([^"]*)", ?"paragraph": ?([0-9]+).*/\1 \2/' "$1" | sort; }
unreviewed=$(comm -23 <(keys "$WORK/suggestions.jsonl") <(keys "$HERE/review.jsonl"))
if [ -n "$unreviewed" ]; then
  echo "suggestions without a decision in $HERE/review.jsonl (article paragraph):" >&2
  echo "$unreviewed" >&2
  exit 1
fi
"$THEMES" gold merge --labels "$LABELS" --gold data/gold/seeds.jsonl --gold "$SHARED/data/gold/dev.jsonl" \
  --review "$HERE/review.jsonl" --out "$WORK/gold-mekong.jsonl"

echo "== 4. before: zero-shot, grouped 5-fold CV" >&2
"$THEMES" eval --quiet --labels "$LABELS" --gold "$WORK/gold-mekong.jsonl" --cv 5 \
  --report "$WORK/before.json" > "$WORK/before.txt"

echo "== 5. train a head, and its honest estimate (grouped 5-fold CV)" >&2
"$THEMES" train --quiet --labels "$LABELS" --gold "$WORK/gold-mekong.jsonl" --out "$WORK/heads/mekong"
"$THEMES" eval --quiet --labels "$LABELS" --gold "$WORK/gold-mekong.jsonl" --cv 5 --head "$WORK/heads/mekong" \
  --examples-per-label 2,4,8 --report "$WORK/after.json" > "$WORK/after.txt"

echo "== 6. before / after" >&2
# Lines of the eval reports: the gold's section (P, R, F1 per label; the
# macro average's F1 is its fifth field) and the few-shot curve.
row() {
  awk -v name="$2" '/^few-shot/ { exit } $1 == "mekong" { p = $2; r = $3; f = $4 } $1 == "asean" { a = $4 }
    $1 == "macro" && $2 == "avg" { m = $5 } END { printf "| %s | %s | %s | %s | %s | %s |\n", name, p, r, f, a, m }' "$1"
}
echo "| | mekong P | mekong R | mekong F1 | asean F1 | macro-F1 (14) |"
echo "|---|---|---|---|---|---|"
row "$WORK/before.txt" "zero-shot (description, examples, aliases)"
row "$WORK/after.txt" "trained head (zero-shot prior)"
echo
echo "| examples per label | macro-F1 (14) |"
echo "|---|---|"
awk '/^few-shot/ { on = 1; getline; next } on && NF == 0 { exit }
  on { if ($1 == "0") { n = "0 (no centroids)"; f = $4 } else if ($1 == "all") { n = "every training row"; f = $2 } else { n = $1; f = $2 }
       printf "| %s | %s |\n", n, f }' "$WORK/after.txt"
