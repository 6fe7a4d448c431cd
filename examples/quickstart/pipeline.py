"""fastpipe quickstart: synthetic data -> clean -> features -> logistic regression -> metrics.

Run `fastpipe run` in this directory. The logic lives in helpers.py; the stages only wire
files to it.
"""

import helpers
import numpy as np  # heavy imports at module top are fine: workers preload them

from fastpipe import stage

RAW_CSV = "data/raw.csv"
CLEAN_CSV = "data/clean.csv"
FEATURES_NPZ = "data/features.npz"
MODEL_JSON = "models/model.json"
METRICS_JSON = "metrics.json"


@stage(outs=[RAW_CSV])
def generate(seed: int = 0, rows: int = 2000) -> None:
    """A synthetic dataset with a few missing values and outliers."""
    helpers.write_csv(RAW_CSV, helpers.make_dataset(rows, seed))


@stage(deps=[RAW_CSV], outs=[CLEAN_CSV])
def clean(max_abs_z: float = 4.0) -> None:
    """Drop rows with a missing value or a feature more than `max_abs_z` robust z-scores out."""
    helpers.write_csv(CLEAN_CSV, helpers.drop_outliers(helpers.read_csv(RAW_CSV), max_abs_z))


@stage(deps=[CLEAN_CSV], outs=[FEATURES_NPZ])
def featurize(degree: int = 2, test_fraction: float = 0.25, split_seed: int = 0) -> None:
    """Train/test split, standardized features, polynomial terms up to `degree`."""
    table = helpers.read_csv(CLEAN_CSV)
    x, y = table[:, :-1], table[:, -1]
    train, test = helpers.split_indices(len(table), test_fraction, split_seed)
    x_train, x_test = helpers.standardize(x[train], x[test])
    x_train, names = helpers.polynomial_features(x_train, helpers.FEATURES, degree)
    x_test, _ = helpers.polynomial_features(x_test, helpers.FEATURES, degree)
    x_train, x_test = helpers.standardize(x_train, x_test)
    helpers.save_npz(
        FEATURES_NPZ,
        {
            "x_train": x_train,
            "y_train": y[train],
            "x_test": x_test,
            "y_test": y[test],
            "feature_names": np.array(names),
        },
    )


@stage(deps=[FEATURES_NPZ], outs=[MODEL_JSON])
def train(lr: float = 0.1, epochs: int = 200) -> None:
    """Logistic regression by plain gradient descent; weights saved as JSON."""
    data = helpers.load_npz(FEATURES_NPZ)
    weights, bias = helpers.train_logreg(data["x_train"], data["y_train"], lr, epochs)
    names = [str(name) for name in data["feature_names"]]
    helpers.save_json(MODEL_JSON, helpers.model_to_dict(weights, bias, names))


@stage(deps=[FEATURES_NPZ, MODEL_JSON], metrics=[METRICS_JSON])
def evaluate(threshold: float = 0.5) -> None:
    """Accuracy and log loss of the model on the held-out test rows."""
    data = helpers.load_npz(FEATURES_NPZ)
    model = helpers.load_json(MODEL_JSON)
    proba = helpers.predict_proba(model, data["x_test"])
    metrics = helpers.classification_metrics(data["y_test"], proba, threshold)
    helpers.save_json(METRICS_JSON, {**metrics, "test_rows": len(data["y_test"])})
