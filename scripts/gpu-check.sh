#!/usr/bin/env bash
# The CUDA build on a real GPU: reference vectors, throughput, the labelling
# job, and sentence-transformers on the same GPU when the machine has it.
#
# It is meant for a GPU machine that receives a copy of this working tree
# plus a few carried, git-ignored folders (64 MiB a run), with no network
# and a few minutes to run. The stripped CUDA binary and the model (its
# weights alone are 87 MiB) do not fit in one load, so `pack` cuts them
# into parts of at most 60 MiB that travel in consecutive runs on the same
# machine (it stays warm only a short while between runs):
#
#   here:    scripts/gpu-check.sh pack [CUDA_BINARY]   # .gpu/1 .. .gpu/P
#   there:   scripts/gpu-check.sh stage                # carry .gpu/1 (.. P-1, one a run)
#   there:   scripts/gpu-check.sh run                  # carry .gpu/P, right after
#
# `pack` strips the binary (default target-cuda/release/themes), takes the
# default model from $THEMES_MODELS (or ./models) and, where ../shared/data
# is present, the seed, dev and train articles (git-ignored copies, for the
# timing only, never committed; GPU_CHECK_ARTICLES=0 leaves them out and
# the run falls back to the bundled articles), and packs them as one
# .tar.gz in parts. `stage` puts a part aside in /tmp; `run` joins the
# parts, checks the archive's sha256 and the model's files against
# models/models.toml, finds the CUDA libraries the machine has, and runs:
#
#   1. `themes embed --device cuda` on the 81 reference texts of
#      tests/fixtures/reference-all-MiniLM-L6-v2.jsonl at f32, f16 and
#      bf16: cosine to sentence-transformers' vectors >= 0.9999 at f32,
#      >= 0.999 at f16 and bf16, and the same word-piece counts;
#   2. `themes bench` on the GPU at f32, f16, bf16 and on the machine's CPUs;
#   3. the labelling job (`themes label`, cold cache) on the GPU and on the
#      CPUs, and how many paragraphs' labels differ between the two;
#   4. sentence-transformers on the same GPU and corpus (fp32 and fp16),
#      when python3 has torch, sentence_transformers and a GPU.
#
# Results: standard output, and $OUT (or ./gpu-check-out) gpu-check.txt and
# results.jsonl. Exit code 0 when every check passed.
#
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU (a dry run on a
# machine without a GPU: every step but the GPU's own).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MODEL_NAME=all-MiniLM-L6-v2
STAGE=/tmp/themes-gpu-stage
WORK=${GPU_CHECK_WORK:-/tmp/themes-gpu}

die() { echo "gpu-check: $*" >&2; exit 2; }

pack() {
  local bin=${1:-target-cuda/release/themes}
  local store=${THEMES_MODELS:-$REPO/models}
  [ -x "$bin" ] || die "no binary at $bin (build it: see README, CUDA)"
  [ -f "$store/$MODEL_NAME/model.safetensors" ] || die "no $store/$MODEL_NAME: run themes model fetch first (THEMES_MODELS=$store)"
  local tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/load/bin" "$tmp/load/models/$MODEL_NAME"
  strip -o "$tmp/load/bin/themes" "$bin"
  cp -r "$store/$MODEL_NAME/." "$tmp/load/models/$MODEL_NAME/"
  if [ "${GPU_CHECK_ARTICLES:-1}" = 1 ] && [ -d ../shared/data/dev ]; then
    for set in seeds dev train; do
      [ -d "../shared/data/$set" ] || continue
      mkdir -p "$tmp/load/articles/$set"
      cp ../shared/data/$set/*.txt "$tmp/load/articles/$set/"
    done
  fi
  # Parts of at most 60 MiB, each in its own folder to carry (64 MiB a run).
  rm -rf .gpu
  tar -C "$tmp/load" -czf "$tmp/load.tgz" .
  local parts=0
  split -b 60M -d -a 1 "$tmp/load.tgz" "$tmp/part-"
  for f in "$tmp"/part-*; do
    parts=$((parts + 1))
    mkdir -p ".gpu/$parts"
    mv "$f" ".gpu/$parts/part-$parts"
  done
  sha256sum "$tmp/load.tgz" | cut -d' ' -f1 > ".gpu/$parts/load.sha256"
  echo "$parts" > ".gpu/$parts/parts"
  rm -rf "$tmp"
  du -b "$(readlink -f "$bin")" .gpu/*/part-* | awk '{printf "%8.1f MiB  %s\n", $1/1048576, $2}'
  git check-ignore -q .gpu/1/part-1 || echo "warning: .gpu is not ignored by git" >&2
  echo "$parts runs on the GPU machine, one after the other (each within the machine's idle time):"
  local k
  for k in $(seq 1 $((parts - 1))); do echo "  carry [\".gpu/$k\"]:  scripts/gpu-check.sh stage"; done
  echo "  carry [\".gpu/$parts\"]:  scripts/gpu-check.sh run"
}

stage() {
  local f n=0
  mkdir -p "$STAGE"
  for f in .gpu/*/part-*; do
    [ -f "$f" ] || continue
    cp "$f" "$STAGE/"; n=$((n + 1))
    echo "staged $f ($(stat -c %s "$f") bytes) in $STAGE"
  done
  [ "$n" -gt 0 ] || die "no .gpu/K/part-K here: carry .gpu/K (made by pack)"
}

# Libraries the CUDA binary needs (cudart, nvrtc, cublas, cublasLt, curand;
# libcuda.so.1 is the driver's): found where the machine has them.
find_cuda_libs() {
  local bin=$1 dirs=() d
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/local/cuda/lib64 \
           /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && dirs+=("$d")
  done
  if command -v python3 >/dev/null; then
    while IFS= read -r d; do [ -n "$d" ] && dirs+=("$d"); done < <(python3 - <<'PY' 2>/dev/null
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
seen = set()
for r in roots:
    for d in glob.glob(os.path.join(r, "nvidia", "*", "lib")) + glob.glob(os.path.join(r, "nvidia", "cu13", "lib")):
        if d not in seen and os.path.isdir(d):
            seen.add(d); print(d)
PY
)
  fi
  local IFS=:
  echo "${dirs[*]}"
}

run() {
  local dev=${GPU_CHECK_DEVICE:-cuda}
  local out=${OUT:-$REPO/gpu-check-out}
  mkdir -p "$out" "$WORK"
  local report=$out/gpu-check.txt results=$out/results.jsonl
  : > "$report"; : > "$results"
  say() { echo "$*" | tee -a "$report"; }

  # The load: every part, from the staged copies or from carried folders.
  local last parts k f
  last=$(ls -d .gpu/*/parts 2>/dev/null | head -1)
  [ -n "$last" ] || die "no .gpu/K/parts: carry the last folder that pack made"
  parts=$(cat "$last")
  rm -rf "$WORK/load" && mkdir -p "$WORK/load"
  : > "$WORK/load.tgz"
  for k in $(seq 1 "$parts"); do
    f=$STAGE/part-$k
    [ -f "$f" ] || f=.gpu/$k/part-$k
    [ -f "$f" ] || die "part $k of $parts is missing: run 'scripts/gpu-check.sh stage' with .gpu/$k carried on this machine first"
    cat "$f" >> "$WORK/load.tgz"
  done
  local want got
  want=$(cat "$(dirname "$last")/load.sha256")
  got=$(sha256sum "$WORK/load.tgz" | cut -d' ' -f1)
  [ "$want" = "$got" ] || die "the parts do not join into the archive that pack made (sha256 $got, want $want)"
  tar -C "$WORK/load" -xzf "$WORK/load.tgz" && rm -f "$WORK/load.tgz"
  local themes=$WORK/load/bin/themes model=$WORK/load/models/$MODEL_NAME
  python3 - "$REPO/models/models.toml" "$model" <<'PY' || die "the model does not match models/models.toml"
import hashlib, os, sys, tomllib
reg = tomllib.load(open(sys.argv[1], "rb"))
m = next(m for m in reg["model"] if m["name"] == "all-MiniLM-L6-v2")
for name, sha in m["files"].items():
    h = hashlib.sha256(open(os.path.join(sys.argv[2], name), "rb").read()).hexdigest()
    if h != sha:
        sys.exit(f"{name}: sha256 {h}, want {sha}")
PY

  say "gpu-check $(date -u +%FT%TZ), device $dev"
  say "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs"
  if command -v nvidia-smi >/dev/null; then
    say "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)"
  else
    say "gpu: no nvidia-smi"
  fi

  # The binary's libraries. A CUDA build of candle needs libcuda.so.1 (the
  # driver) at load time: without it nothing runs, not even --device cpu.
  export LD_LIBRARY_PATH
  LD_LIBRARY_PATH=$(find_cuda_libs "$themes")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if ldd "$themes" | grep -q 'not found'; then
    say "libraries not found for $themes (LD_LIBRARY_PATH=$LD_LIBRARY_PATH):"
    ldd "$themes" | grep 'not found' | tee -a "$report"
    die "the CUDA binary cannot be loaded here; a machine with the NVIDIA driver and CUDA 13 libraries is needed"
  fi
  { ldd "$themes" | grep -E 'libcuda|cudart|cublas|nvrtc|curand' || echo '  (no CUDA libraries: a build without CUDA)'; } | sed 's/^\s*/  /' | tee -a "$report"
  "$themes" --version | tee -a "$report"

  # The model travels as a store (default model name, verified on load).
  export THEMES_MODELS=$WORK/load/models HF_HUB_OFFLINE=1 RUST_BACKTRACE=0
  local fails=0

  # 1. Reference vectors.
  local refs=$WORK/refs.jsonl
  python3 - "$REPO/tests/fixtures/reference-all-MiniLM-L6-v2.jsonl" "$refs" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]
with open(sys.argv[2], "w") as f:
    for i, r in enumerate(rows):
        f.write(json.dumps({"id": f"ref{i:03}", "text": r["text"]}) + "\n")
PY
  local dtype bound
  for dtype in f32 f16 bf16; do
    [ "$dev" = cpu ] && [ "$dtype" = f16 ] && continue   # f16 runs on CUDA only
    [ "$dev" = cpu ] && [ "$dtype" = bf16 ] && ! grep -q avx512_bf16 /proc/cpuinfo && continue
    bound=0.999; [ "$dtype" = f32 ] && bound=0.9999
    local t0 t1
    t0=$(date +%s.%N)
    if ! "$themes" embed --quiet "$refs" --device "$dev" --dtype "$dtype" --out "$WORK/emb-$dtype.jsonl" 2>"$WORK/emb-$dtype.err"; then
      say "embed $dtype on $dev FAILED: $(tail -3 "$WORK/emb-$dtype.err")"
      fails=$((fails + 1)); continue
    fi
    t1=$(date +%s.%N)
    python3 - "$REPO/tests/fixtures/reference-all-MiniLM-L6-v2.jsonl" "$WORK/emb-$dtype.jsonl" "$dtype" "$bound" "$dev" "$t0" "$t1" "$results" <<'PY' | tee -a "$report" || fails=$((fails + 1))
import json, math, sys
ref = [json.loads(l) for l in open(sys.argv[1])][1:]
got = {r["article"]: r for r in map(json.loads, open(sys.argv[2]))}
dtype, bound, dev = sys.argv[3], float(sys.argv[4]), sys.argv[5]
worst, bad_tokens = 1.0, 0
for i, r in enumerate(ref):
    g = got[f"ref{i:03}"]
    a, b = r["embedding"], g["embedding"]
    c = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    worst = min(worst, c)
    bad_tokens += min(g["tokens"], 256) != r["tokens"]
ok = worst >= bound and bad_tokens == 0 and len(got) == len(ref) == 81
with open(sys.argv[8], "a") as f:
    f.write(json.dumps({"check": "reference", "device": dev, "dtype": dtype, "texts": len(ref), "worst_cosine": round(worst, 9),
                        "bound": bound, "token_mismatches": bad_tokens, "seconds": round(float(sys.argv[7]) - float(sys.argv[6]), 2),
                        "ok": ok}) + "\n")
print(f"reference {dtype} on {dev}: worst cosine {worst:.9f} (bound {bound}), token mismatches {bad_tokens}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
  done

  # The corpus: every paragraph of the carried articles, else the bundled
  # articles and the reference texts.
  local articles=$WORK/load/articles corpus=$WORK/corpus.txt
  if [ -d "$articles" ]; then
    find "$articles" -name '*.txt' | sort | xargs cat | grep -v '^[[:space:]]*$' > "$corpus"
  else
    articles=$REPO/data/articles
    { cat "$articles"/*; python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in list(open(sys.argv[1]))[1:]]' \
        "$REPO/tests/fixtures/reference-all-MiniLM-L6-v2.jsonl"; } | grep -v '^[[:space:]]*$' > "$corpus"
  fi
  say "corpus: $(wc -l < "$corpus") paragraphs; articles: $(find -L "$articles" -type f | wc -l) files in $articles"

  # 2. Throughput.
  local devices=("$dev")
  [ "$dev" != cpu ] && devices+=(cpu)
  local d
  for d in "${devices[@]}"; do
    for dtype in f32 f16 bf16; do
      [ "$d" = cpu ] && [ "$dtype" = f16 ] && continue
      [ "$d" = cpu ] && [ "$dtype" = bf16 ] && ! grep -q avx512_bf16 /proc/cpuinfo && continue
      if "$themes" bench --quiet --corpus "$corpus" --device "$d" --dtype "$dtype" > "$WORK/bench.json" 2>"$WORK/bench.err"; then
        sed 's/^{/{"check": "bench", /' "$WORK/bench.json" | tee -a "$results" | tee -a "$report"
      else
        say "bench $d $dtype FAILED: $(tail -3 "$WORK/bench.err")"; fails=$((fails + 1))
      fi
    done
  done

  # 3. The labelling job, cold cache, on the GPU and on the CPUs.
  for d in "${devices[@]}"; do
    rm -rf "$WORK/cache-$d"
    local t0 t1
    t0=$(date +%s.%N)
    if THEMES_CACHE=$WORK/cache-$d "$themes" label --quiet "$articles" --device "$d" --out "$WORK/label-$d.jsonl" 2>"$WORK/label-$d.err"; then
      t1=$(date +%s.%N)
      python3 -c 'import json,sys; print(json.dumps({"check": "label", "device": sys.argv[1], "paragraphs": sum(1 for _ in open(sys.argv[2])), "seconds": round(float(sys.argv[4]) - float(sys.argv[3]), 2)}))' \
        "$d" "$WORK/label-$d.jsonl" "$t0" "$t1" | tee -a "$results" | tee -a "$report"
    else
      say "label on $d FAILED: $(tail -3 "$WORK/label-$d.err")"; fails=$((fails + 1))
    fi
  done
  if [ "$dev" != cpu ] && [ -f "$WORK/label-$dev.jsonl" ] && [ -f "$WORK/label-cpu.jsonl" ]; then
    python3 - "$WORK/label-$dev.jsonl" "$WORK/label-cpu.jsonl" "$dev" <<'PY' | tee -a "$results" | tee -a "$report"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
differ = sum(x["labels"] != y["labels"] for x, y in zip(a, b))
worst = max((abs(x["scores"][k] - y["scores"][k]) for x, y in zip(a, b) for k in x["scores"]), default=0.0)
print(json.dumps({"check": "label-agreement", "device": sys.argv[3], "rows": len(a), "rows_cpu": len(b),
                  "rows_with_other_labels": differ, "max_score_difference": round(worst, 5)}))
PY
  fi

  # 4. sentence-transformers on the same GPU, same corpus.
  if [ "$dev" != cpu ] && python3 -c 'import torch, sentence_transformers; assert torch.cuda.is_available()' 2>/dev/null; then
    python3 - "$model" "$corpus" <<'PY' | tee -a "$results" | tee -a "$report" || say "sentence-transformers run FAILED"
import json, sys, time
import torch
from sentence_transformers import SentenceTransformer
import sentence_transformers
texts = [l.strip() for l in open(sys.argv[2]) if l.strip()]
for half in (False, True):
    m = SentenceTransformer(sys.argv[1], device="cuda")
    if half:
        m = m.half()
    m.encode(texts[:64], batch_size=32)
    best = float("inf")
    for _ in range(3):
        torch.cuda.synchronize(); t = time.perf_counter()
        m.encode(texts, batch_size=32, convert_to_numpy=True)
        torch.cuda.synchronize(); best = min(best, time.perf_counter() - t)
    print(json.dumps({"check": "bench", "system": "sentence-transformers", "version": sentence_transformers.__version__,
                      "torch": torch.__version__, "device": torch.cuda.get_device_name(0), "dtype": "f16" if half else "f32",
                      "batch_size": 32, "paragraphs": len(texts), "seconds": round(best, 3),
                      "paragraphs_per_s": round(len(texts) / best, 1)}))
PY
  else
    say "sentence-transformers: not run (no torch with a GPU here, or device $dev)"
  fi

  say "checks failed: $fails"
  [ "$fails" -eq 0 ]
}

case ${1:-} in
  pack) shift; pack "$@" ;;
  stage) stage ;;
  run) run ;;
  *) echo "usage: scripts/gpu-check.sh pack [CUDA_BINARY] | stage | run" >&2; exit 2 ;;
esac
