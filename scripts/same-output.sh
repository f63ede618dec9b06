#!/usr/bin/env bash
# Runs two builds of themes on the same inputs and compares every output
# byte for byte: the check that a change meant to keep behaviour did.
# Covers label (JSONL, CSV, summaries, a shard and its manifest, a head),
# embed, eval (shipped and cross-validated, text and JSON), train (a head
# and a refitted label file), suggest and labels check, on the bundled
# articles and the dev set (read from ../shared, never copied here).
#
#   scripts/same-output.sh OLD_THEMES NEW_THEMES
#
# Exits 0 when every output matches, 1 listing the ones that differ.
set -euo pipefail
old=$(realpath "${1:?usage: scripts/same-output.sh OLD_THEMES NEW_THEMES}")
new=$(realpath "${2:?usage: scripts/same-output.sh OLD_THEMES NEW_THEMES}")
cd "$(dirname "$0")/.."
root=$PWD
shared=$root/../shared
export THEMES_MODELS=${THEMES_MODELS:-$root/models}
work=$(mktemp -d -t themes-same.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Each run gets a folder per build and its own empty cache, so the vectors
# are computed by the build under test.
run() {
  local name=$1; shift
  for side in old new; do
    local bin=$old; [ $side = new ] && bin=$new
    local dir=$work/$side/$name
    mkdir -p "$dir"
    (cd "$dir" && THEMES_CACHE=$work/$side/cache "$bin" --quiet "$@" > stdout 2> stderr; echo $? > status) || true
  done
}

run label-articles label "$root/data/articles" --out rows.jsonl --summary summary.jsonl
run label-csv label "$root/data/articles" --format csv --out rows.csv
run label-stdout label "$root/data/articles"
run label-dev label "$shared/data/dev" --out dev.jsonl --summary dev-summary.jsonl
run label-shard label "$shared/data/dev" --shard 2/3 --out part2.jsonl
run embed embed "$root/data/articles" --out vectors.jsonl
run eval-seeds eval --gold "$root/data/gold/seeds.jsonl" --errors
run eval-cv eval --gold "$root/data/gold/seeds.jsonl" --gold "$shared/data/gold/dev.jsonl" --cv 5 \
  --examples-per-label 2,8 --no-text --report report.json
run predictions eval --gold "$root/data/gold/seeds.jsonl" --predictions "$work/old/label-articles/rows.jsonl"
run train-head train --gold "$root/data/gold/seeds.jsonl" --out head
run train-labels train --gold "$root/data/gold/seeds.jsonl" --out refit.toml
run suggest suggest --label semiconductors "$root/data/articles" --n 5
run check labels check --gold "$root/data/gold/seeds.jsonl"
for side in old new; do
  bin=$old; [ $side = new ] && bin=$new
  dir=$work/$side/label-head; mkdir -p "$dir"
  (cd "$dir" && THEMES_CACHE=$work/$side/cache "$bin" --quiet label "$root/data/articles" \
    --head "$work/$side/train-head/head" --out rows.jsonl > stdout 2> stderr; echo $? > status) || true
done

# The report's date and the paths of the two runs' own folders differ by
# construction; everything else must not.
for side in old new; do
  f=$work/$side/eval-cv/report.json
  [ -f "$f" ] && sed -i 's/"date": "[^"]*"/"date": ""/' "$f"
  sed -i "s#$work/$side#WORK#g" $work/$side/*/stdout $work/$side/*/stderr 2>/dev/null || true
done

# A run that errored compares nothing: both builds must have done the work.
failed=0
for status in "$work"/old/*/status "$work"/new/*/status; do
  code=$(cat "$status")
  # labels check exits 1 when it has warnings; that is an answer, not a failure.
  if [ "$code" != 0 ] && ! { [ "$code" = 1 ] && [[ $status == */check/status ]]; }; then
    echo "failed ($code): ${status#"$work"/}: $(tail -1 "$(dirname "$status")/stderr")"
    failed=$((failed + 1))
  fi
done
[ "$failed" -eq 0 ] || { echo "$failed runs failed"; exit 1; }

differ=0 compared=0
while IFS= read -r file; do
  rel=${file#"$work/old/"}
  compared=$((compared + 1))
  if ! cmp -s "$file" "$work/new/$rel"; then
    echo "differs: $rel"
    differ=$((differ + 1))
  fi
done < <(find "$work/old" -type f ! -path "*/cache*" | sort)
extra=$(cd "$work/new" && find . -type f ! -path "./cache*" | sed 's#^\./##' | sort | while read -r f; do [ -e "$work/old/$f" ] || echo "$f"; done)
[ -z "$extra" ] || { echo "only in the new run: $extra"; differ=$((differ + 1)); }
echo "$compared files compared, $differ differ"
[ "$differ" -eq 0 ]
