#!/usr/bin/env bash
# The worked example of docs/extending-labels.md, end to end: add a theme,
# check the set, get suggestions, apply the hand labels, train a head,
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

echo "== 3. hand labels: $HERE/decisions.tsv applied to the gold" >&2
python3 - "$HERE/decisions.tsv" "$WORK" data/gold/seeds.jsonl "$SHARED/data/gold/dev.jsonl" <<'PY'
import json, re, sys
decisions_path, work, *golds = sys.argv[1:]
yes, judged = set(), set()
for line in open(decisions_path, encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    article, paragraph, answer = line.split("\t")
    judged.add((article, int(paragraph)))
    if answer.strip() == "yes":
        yes.add((article, int(paragraph)))
# Every suggestion must have been judged by hand.
for line in open(f"{work}/suggestions.jsonl", encoding="utf-8"):
    article, paragraph = json.loads(line)["article"].rsplit("#", 1)
    if (article, int(paragraph)) not in judged:
        sys.exit(f"suggestion {article}#{paragraph} has no hand label in {decisions_path}")
rows = []
for path in golds:
    for line in open(path, encoding="utf-8"):
        if line.strip():
            rows.append(json.loads(line))
for row in rows:
    key = (row["article"], row["paragraph"])
    # A paragraph naming the Mekong that nobody judged would be a silent negative.
    if re.search(r"mekong|\bMUSP\b|\bLMI\b", row["text"], re.I) and key not in judged:
        sys.exit(f"{key} names the Mekong but has no hand label")
    if key in yes:
        row["labels"].append("mekong")
with open(f"{work}/gold-mekong.jsonl", "w", encoding="utf-8") as out:
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
print(f"{len(rows)} gold paragraphs, {len(yes)} of them mekong", file=sys.stderr)
PY

echo "== 4. before: zero-shot, grouped 5-fold CV" >&2
"$THEMES" eval --quiet --labels "$LABELS" --gold "$WORK/gold-mekong.jsonl" --cv 5 \
  --report "$WORK/before.json" > "$WORK/before.txt"

echo "== 5. train a head, and its honest estimate (grouped 5-fold CV)" >&2
"$THEMES" train --quiet --labels "$LABELS" --gold "$WORK/gold-mekong.jsonl" --out "$WORK/heads/mekong"
"$THEMES" eval --quiet --labels "$LABELS" --gold "$WORK/gold-mekong.jsonl" --cv 5 --head "$WORK/heads/mekong" \
  --examples-per-label 2,4,8 --report "$WORK/after.json" > "$WORK/after.txt"

echo "== 6. before / after" >&2
python3 - "$WORK/before.json" "$WORK/after.json" <<'PY'
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:])
def pooled(r):
    return next(s for s in r["sets"] if s["name"] == "pooled") if len(r["sets"]) > 1 else r["sets"][-1]
b, a = pooled(before)["scores"], pooled(after)["scores"]
print("| | mekong P | mekong R | mekong F1 | asean F1 | macro-F1 (14) |")
print("|---|---|---|---|---|---|")
for name, s in (("zero-shot (description, examples, aliases)", b), ("trained head (zero-shot prior)", a)):
    m = s["labels"]["mekong"]
    print(f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {s['labels']['asean']['f1']:.3f} | {s['macro_f1']:.3f} |")
print()
print("| examples per label | macro-F1 (14) |")
print("|---|---|")
for p in after.get("few_shot", []):
    n = "every training row" if p["examples"] is None else ("0 (zero-shot)" if p["examples"] == 0 else p["examples"])
    print(f"| {n} | {p['macro_f1']:.3f} |")
PY
