#!/usr/bin/env bash
# Peak memory of `themes label` for 1,000 and for 100,000 paragraphs, cache
# off: labelling streams article by article, so the second should stay
# close to the first. The corpus is real news paragraphs (seed and dev
# articles, read from ../shared) repeated: articles of 1,000 paragraphs,
# each cycling through a window of 40 distinct paragraphs (a paragraph seen
# twice in one article is embedded once, which keeps the 100,000-paragraph
# run to minutes without changing what is held in memory per article).
#
# usage: bench/memory.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
cargo build --release --quiet
python3 - "$work" ../shared/data/seeds ../shared/data/dev <<'PY'
import json, pathlib, sys
work, *dirs = sys.argv[1:]
pool = [l for d in dirs for f in sorted(pathlib.Path(d).glob("*.txt"))
        for l in f.read_text(encoding="utf-8").splitlines() if l.strip()]
for name, articles in (("1k", 1), ("100k", 100)):
    with open(f"{work}/{name}.jsonl", "w", encoding="utf-8") as out:
        for a in range(articles):
            start = (a * 40) % len(pool)
            window = [pool[(start + i) % len(pool)] for i in range(40)]
            text = "\n".join(window[i % 40] for i in range(1000))
            out.write(json.dumps({"id": f"a{a}", "text": text}, ensure_ascii=False) + "\n")
PY
for name in 1k 100k; do
  /usr/bin/time -f "%M %e" -o "$work/$name.time" ./target/release/themes label --quiet --no-cache \
    --out "$work/$name.out.jsonl" "$work/$name.jsonl"
  read -r kib secs < "$work/$name.time"
  rows=$(wc -l < "$work/$name.out.jsonl")
  echo "{\"paragraphs\": $rows, \"peak_rss_mib\": $((kib / 1024)), \"seconds\": $secs}"
  echo "$kib" > "$work/$name.kib"
done
python3 -c "
a, b = (int(open('$work/' + n + '.kib').read()) for n in ('1k', '100k'))
print(f'peak RSS 100k / 1k paragraphs: {b / a:.2f}x ({b // 1024} MiB vs {a // 1024} MiB)')"
