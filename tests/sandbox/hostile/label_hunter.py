"""ATTACK label-hunt: search everything the job can list for a task's labelled corpus and predict from it.

Walks the whole filesystem from the root (paths built with chr(47), never a literal slash), opens every
.bz2 with bz2 and every .csv/.jsonl as text, and turns what parses into text -> label (Rotten Tomatoes'
fresh/rotten CSV, BoolQ's question/passage/label JSON lines, any row with "text" and "label"). Each eval
example found there is predicted with certainty; the rest get a seeded coin flip, so with nothing found
the method scores like chance. It logs where it found labels, so a failing test names the leak.
"""

import bz2
import csv
import io
import json
import os
import random

import numpy as np

SEP = chr(47)
SKIP = ("proc", "sys", "dev")
MAX_CHARS = 50_000_000


def candidates():
    for folder, dirs, files in os.walk(SEP):
        if folder == SEP:
            dirs[:] = [d for d in dirs if d not in SKIP]
        for name in files:
            if name.lower().endswith((".bz2", ".csv", ".jsonl")):
                yield os.path.join(folder, name)


def read(path):
    opener = bz2.open if path.endswith(".bz2") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return fh.read(MAX_CHARS)
    except (OSError, EOFError, ValueError):
        return ""


def labels_in(text):
    table = {}
    if "category" in text[:1000] and "text" in text[:1000]:
        for row in csv.DictReader(io.StringIO(text)):
            if row.get("category") in ("fresh", "rotten") and row.get("text"):
                table[row["text"].strip()] = float(row["category"] == "fresh")
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict) or row.get("label") is None:
            continue
        if "question" in row and "passage" in row:
            key = f"Question: {row['question'].strip()}?\nPassage: {row['passage'].strip()}"
            table[key] = float(bool(row["label"]))
        elif isinstance(row.get("text"), str):
            table[row["text"]] = float(row["label"])
    return table


def train(ctx):
    table, found = {}, []
    for path in candidates():
        got = labels_in(read(path))
        if got:
            found.append(path)
            table.update(got)
    rng = random.Random(ctx.seed)
    texts = [row["text"] for row in ctx.data["eval"]]
    p = np.array([table.get(t, rng.random()) for t in texts])
    ctx.log(found=found, matched=sum(t in table for t in texts))
    ctx.write_predictions("final", p)
