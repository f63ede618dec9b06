#!/usr/bin/env python3
"""Reference vectors of multilingual-e5-small as sentence-transformers computes
them from the folder `themes model fetch` builds from packages.

usage: reference-e5.py MODEL_DIR TEXTS.jsonl OUT.jsonl
  MODEL_DIR    models/multilingual-e5-small (its .source says "package")
  TEXTS.jsonl  `themes embed` rows: the paragraphs exactly as themes reads them
  OUT.jsonl    a first line saying how it was made, then per paragraph its
               article, number, the sha256 of its text (NFC), its token count and
               the vector (no text)
"""
import hashlib
import json
import sys
import unicodedata

import sentence_transformers
from sentence_transformers import SentenceTransformer

model_dir, texts_path, out_path = sys.argv[1:4]
rows = [json.loads(line) for line in open(texts_path, encoding="utf-8")]
# themes embeds the NFC form of each paragraph (input::normalize).
texts = [unicodedata.normalize("NFC", r["text"]) for r in rows]
model = SentenceTransformer(model_dir, device="cpu")
vectors = model.encode(texts, batch_size=16, convert_to_numpy=True)
with open(out_path, "w", encoding="utf-8") as out:
    about = {
        "about": "multilingual-e5-small built from packages (4-bit, dequantized to f32); "
        f"sentence-transformers {sentence_transformers.__version__}, CPU, f32; see data/reference/README.md",
    }
    out.write(json.dumps(about) + "\n")
    for row, text, vector in zip(rows, texts, vectors):
        tokens = min(len(model.tokenizer(text)["input_ids"]), model.max_seq_length)
        out.write(json.dumps({
            "article": row["article"],
            "paragraph": row["paragraph"],
            "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "tokens": tokens,
            "embedding": [float(f"{x:.7g}") for x in vector],
        }) + "\n")
print(f"{len(rows)} vectors -> {out_path}", file=sys.stderr)
