"""Project code for the text-classification example (scikit-learn).

fastpipe fingerprints this module per stage: editing a helper re-runs exactly the stages that
reach it (`make_corpus` only `prepare` and what its output feeds, `build_vectorizer` only
`featurize` onwards, `confusion_rows` only `evaluate`).
"""

from __future__ import annotations

import csv
import json
import pickle
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

TOPICS: dict[str, tuple[str, ...]] = {
    "sports": ("match", "goal", "team", "season", "coach", "league", "score", "player", "cup"),
    "tech": ("software", "chip", "cloud", "startup", "code", "network", "device", "data", "app"),
    "food": ("recipe", "flavor", "kitchen", "bake", "spice", "dinner", "sauce", "fresh", "chef"),
}
COMMON = ("the", "a", "new", "big", "said", "today", "after", "with", "more", "best", "week")
METRIC_DIGITS = 6


def _parent(path: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


# --- prepare --------------------------------------------------------------------------------


def make_corpus(docs: int, seed: int, noise: float) -> list[tuple[str, str]]:
    """`docs` (label, text) pairs: words of the label's topic mixed with common words and,
    with probability `noise` per word, words of another topic."""
    rng = random.Random(seed)
    labels = sorted(TOPICS)
    corpus = []
    for i in range(docs):
        label = labels[i % len(labels)]
        words = []
        for _ in range(rng.randint(8, 20)):
            roll = rng.random()
            if roll < noise:
                words.append(rng.choice(TOPICS[rng.choice(labels)]))
            elif roll < 0.5:
                words.append(rng.choice(COMMON))
            else:
                words.append(rng.choice(TOPICS[label]))
        corpus.append((label, " ".join(words)))
    rng.shuffle(corpus)
    return corpus


def split(rows: Sequence[tuple[str, str]], test_fraction: float) -> tuple[list[Any], list[Any]]:
    n_test = round(len(rows) * test_fraction)
    return list(rows[n_test:]), list(rows[:n_test])


def write_rows(path: str, rows: Sequence[tuple[str, str]]) -> None:
    with _parent(path).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("label", "text"))
        writer.writerows(rows)


def read_rows(path: str) -> tuple[list[str], list[str]]:
    """(labels, texts) of a CSV written by write_rows."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["label"] for r in rows], [r["text"] for r in rows]


# --- featurize ------------------------------------------------------------------------------


def build_vectorizer(kind: str, max_features: int, ngrams: int) -> CountVectorizer:
    """TF-IDF or raw counts over word n-grams up to `ngrams`."""
    options: dict[str, Any] = {"max_features": max_features, "ngram_range": (1, ngrams)}
    if kind == "tfidf":
        return TfidfVectorizer(sublinear_tf=True, **options)
    if kind == "counts":
        return CountVectorizer(**options)
    raise ValueError(f"vectorizer must be 'tfidf' or 'counts', not {kind!r}")


def save_features(path: str, matrix: Any, labels: Sequence[str]) -> None:
    """A sparse matrix and its labels in one .npz (zip entries dated 1980: bytes repeat)."""
    m = sp.csr_matrix(matrix, dtype=np.float64)
    np.savez(
        _parent(path),
        data=m.data,
        indices=m.indices,
        indptr=m.indptr,
        shape=np.array(m.shape),
        labels=np.array(labels),
    )


def load_features(path: str) -> tuple[Any, list[str]]:
    with np.load(path, allow_pickle=False) as z:
        matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        return matrix, [str(label) for label in z["labels"]]


# --- train / evaluate -----------------------------------------------------------------------


def train_forest(x: Any, y: Sequence[str], trees: int, max_depth: int, seed: int) -> Any:
    model = RandomForestClassifier(
        n_estimators=trees, max_depth=max_depth or None, random_state=seed, n_jobs=1
    )
    return model.fit(x, y)


def save_model(path: str, model: Any) -> None:
    _parent(path).write_bytes(pickle.dumps(model, protocol=5))


def load_model(path: str) -> Any:
    return pickle.loads(Path(path).read_bytes())  # our own stage wrote it


def scores(y: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    return {
        "accuracy": round(float(accuracy_score(y, predicted)), METRIC_DIGITS),
        "macro_f1": round(float(f1_score(y, predicted, average="macro")), METRIC_DIGITS),
    }


def confusion_rows(y: Sequence[str], predicted: Sequence[str]) -> list[tuple[str, str, int]]:
    """(actual, predicted, count) for every pair of labels: plot data for a heat map."""
    labels = sorted(set(y) | set(predicted))
    matrix = confusion_matrix(y, predicted, labels=labels)
    return [(a, p, int(matrix[i, j])) for i, a in enumerate(labels) for j, p in enumerate(labels)]


def per_class_rows(y: Sequence[str], predicted: Sequence[str]) -> list[tuple[str, float, float]]:
    """(label, precision, recall) per label: plot data for a bar chart."""
    labels = sorted(set(y))
    quiet: dict[str, Any] = {"zero_division": 0}  # a label never predicted: 0, no warning
    found: Any = precision_recall_fscore_support(y, predicted, labels=labels, **quiet)
    precision, recall = found[0], found[1]
    return [
        (label, round(float(p), METRIC_DIGITS), round(float(r), METRIC_DIGITS))
        for label, p, r in zip(labels, precision, recall, strict=True)
    ]


def write_csv(path: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with _parent(path).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def save_json(path: str, data: dict[str, Any]) -> None:
    with _parent(path).open("w", encoding="utf-8", newline="\n") as f:
        json.dump(data, f, sort_keys=True, indent=2)
        f.write("\n")
