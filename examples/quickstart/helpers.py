"""Project code for the quickstart pipeline.

fastpipe fingerprints this module per stage: editing a helper re-runs exactly the stages that
reach it (e.g. `drop_outliers` only `clean`, `sigmoid` both `train` and `evaluate`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

FEATURES = ("x1", "x2", "x3", "x4")
CSV_COLUMNS = (*FEATURES, "label")
FLOAT_FORMAT = "{:.6f}"  # every float written to a CSV, so reruns give identical bytes
MISSING_RATE = 0.02  # share of raw rows with an empty cell
OUTLIER_RATE = 0.01  # share of raw rows with one wildly scaled value
CLIP_Z = 4.0  # standardized features are clipped to [-CLIP_Z, CLIP_Z]
MODEL_DIGITS = 8  # decimals kept for model weights
METRIC_DIGITS = 6  # decimals kept for metrics
EPS = 1e-12


def _parent(path: str) -> Path:
    """`path` as a Path, with its parent directory created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


# --- files ------------------------------------------------------------------------------------


def write_csv(path: str, table: Array) -> None:
    """Write `table` (columns = CSV_COLUMNS) with a fixed float format; NaN becomes ''."""
    lines = [",".join(CSV_COLUMNS)]
    for row in table.tolist():
        cells = ["" if math.isnan(v) else FLOAT_FORMAT.format(v) for v in row[:-1]]
        lines.append(",".join([*cells, str(int(row[-1]))]))
    _parent(path).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def read_csv(path: str) -> Array:
    """Read a CSV written by write_csv; empty cells become NaN."""
    header, *rows = Path(path).read_text(encoding="utf-8").splitlines()
    if tuple(header.split(",")) != CSV_COLUMNS:
        raise ValueError(f"{path}: expected columns {CSV_COLUMNS}, got {header!r}")
    values = [[float(c) if c else np.nan for c in row.split(",")] for row in rows]
    return np.array(values, dtype=np.float64).reshape(len(rows), len(CSV_COLUMNS))


def save_npz(path: str, arrays: dict[str, NDArray[Any]]) -> None:
    """np.savez in key order (its zip entries carry a fixed 1980 timestamp, so bytes repeat)."""
    ordered: dict[str, Any] = {name: arrays[name] for name in sorted(arrays)}
    np.savez(_parent(path), **ordered)


def load_npz(path: str) -> dict[str, NDArray[Any]]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def save_json(path: str, data: dict[str, Any]) -> None:
    with _parent(path).open("w", encoding="utf-8", newline="\n") as f:
        json.dump(data, f, sort_keys=True, indent=2)
        f.write("\n")


def load_json(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --- generate -----------------------------------------------------------------------------------


def make_dataset(rows: int, seed: int) -> Array:
    """A synthetic binary problem with an interaction and a square term, plus dirt to clean."""
    rng = np.random.default_rng(seed)
    means, scales = np.array([0.0, 5.0, -2.0, 10.0]), np.array([1.0, 2.0, 0.5, 3.0])
    x = rng.normal(means, scales, size=(rows, len(FEATURES)))
    z = (x - means) / scales
    logit = 1.5 * z[:, 0] - 1.0 * z[:, 1] + 1.2 * z[:, 0] * z[:, 2] + 0.8 * (z[:, 3] ** 2 - 1)
    label = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    missing = rng.random(rows) < MISSING_RATE
    x[missing, rng.integers(0, len(FEATURES), size=int(missing.sum()))] = np.nan
    outlier = rng.random(rows) < OUTLIER_RATE
    x[outlier, rng.integers(0, len(FEATURES), size=int(outlier.sum()))] *= 40.0
    return np.column_stack([x, label])


# --- clean --------------------------------------------------------------------------------------


def robust_z(x: Array) -> Array:
    """Per-column z-scores from the median and MAD, so outliers cannot hide themselves."""
    median = np.median(x, axis=0)
    mad = np.median(np.abs(x - median), axis=0) * 1.4826
    return (x - median) / np.where(mad > 0, mad, 1.0)


def drop_outliers(table: Array, max_abs_z: float) -> Array:
    """Rows with no missing feature and every feature within `max_abs_z` robust z-scores."""
    complete = table[~np.isnan(table[:, : len(FEATURES)]).any(axis=1)]
    keep = (np.abs(robust_z(complete[:, : len(FEATURES)])) <= max_abs_z).all(axis=1)
    return complete[keep]


# --- featurize ----------------------------------------------------------------------------------


def split_indices(rows: int, test_fraction: float, seed: int) -> tuple[NDArray[Any], ...]:
    """Sorted train and test row indices from a seeded shuffle."""
    order = np.random.default_rng(seed).permutation(rows)
    n_test = round(rows * test_fraction)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def standardize(train: Array, other: Array) -> tuple[Array, Array]:
    """Scale both by the train mean and std, clipped to +-CLIP_Z."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (
        np.clip((train - mean) / std, -CLIP_Z, CLIP_Z),
        np.clip((other - mean) / std, -CLIP_Z, CLIP_Z),
    )


def polynomial_features(x: Array, names: Sequence[str], degree: int) -> tuple[Array, list[str]]:
    """Every monomial of the columns of `x` of degree 1..degree, in a fixed order."""
    columns: list[Array] = []
    labels: list[str] = []
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(x.shape[1]), d):
            columns.append(np.prod(x[:, list(combo)], axis=1))
            labels.append("*".join(names[i] for i in combo))
    return np.column_stack(columns), labels


# --- train / evaluate ---------------------------------------------------------------------------


def sigmoid(t: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-np.clip(t, -30.0, 30.0)))


def train_logreg(x: Array, y: Array, lr: float, epochs: int) -> tuple[Array, float]:
    """Logistic regression by full-batch gradient descent from zero weights."""
    weights, bias = np.zeros(x.shape[1]), 0.0
    for _ in range(epochs):
        error = sigmoid(x @ weights + bias) - y
        weights -= lr * (x.T @ error) / len(y)
        bias -= lr * float(error.mean())
    return weights, bias


def model_to_dict(weights: Array, bias: float, features: Sequence[str]) -> dict[str, Any]:
    return {
        "bias": round(float(bias), MODEL_DIGITS),
        "features": list(features),
        "weights": [round(float(w), MODEL_DIGITS) for w in weights],
    }


def predict_proba(model: dict[str, Any], x: Array) -> Array:
    return sigmoid(x @ np.array(model["weights"], dtype=np.float64) + float(model["bias"]))


def classification_metrics(y: Array, proba: Array, threshold: float) -> dict[str, float]:
    p = np.clip(proba, EPS, 1.0 - EPS)
    log_loss = -float(np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))
    accuracy = float(np.mean((proba >= threshold) == (y == 1.0)))
    return {
        "accuracy": round(accuracy, METRIC_DIGITS),
        "log_loss": round(log_loss, METRIC_DIGITS),
    }
