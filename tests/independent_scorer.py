#!/usr/bin/env python3
"""An independent scorer for multi-label predictions, written from
scikit-learn's documented definitions (precision_recall_fscore_support with
average=None and zero_division=0), with no code shared with themes.

usage: independent_scorer.py GOLD.jsonl PREDICTIONS.jsonl LABEL_ID...
Prints {"label_id": f1, ...} as JSON.
"""
import json
import sys

gold_path, pred_path, *labels = sys.argv[1:]
gold = {}
for line in open(gold_path, encoding="utf-8"):
    if line.strip():
        row = json.loads(line)
        gold[(row["article"], row["paragraph"])] = set(row["labels"])
pred = {}
for line in open(pred_path, encoding="utf-8"):
    if line.strip():
        row = json.loads(line)
        pred[(row["article"], row["paragraph"])] = set(row["labels"])
out = {}
for label in labels:
    tp = sum(1 for k, g in gold.items() if label in g and label in pred[k])
    fp = sum(1 for k, g in gold.items() if label not in g and label in pred[k])
    fn = sum(1 for k, g in gold.items() if label in g and label not in pred[k])
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    out[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
print(json.dumps(out))
