"""Stage bodies: the exact source text both tools run, per import weight.

A body reads its upstream outputs, does a little deterministic work and writes its one output.
The DVC script and the fastpipe `@stage` function of a stage contain the same function, text
for text; only the code around it differs (a `__main__` block that loads params.yaml for DVC,
the `@stage` decorator for fastpipe).

- `none`: the standard library only, a few ms of float arithmetic in lists.
- `numpy`: imports numpy, a few ms of vectorised work on a 4096-float array.
- `pandas`: imports numpy and pandas, the numpy work plus a pandas rolling mean.
- `sklearn`: imports numpy, pandas and scikit-learn (which imports joblib and, where it is
  installed as in any environment with DVC, psutil), the pandas work plus a StandardScaler.
- `trivial`: the standard library only, next to no work (the scaling benchmark).
"""

from __future__ import annotations

from collections.abc import Sequence

WEIGHTS = ("none", "numpy", "pandas", "sklearn")
ALL_WEIGHTS = (*WEIGHTS, "trivial")
EDITED_OFFSET = "0.25"  # what a code edit sets `offset` to (it is 0.0 otherwise)

IMPORTS = {
    "none": ("import array", "import math", "from pathlib import Path"),
    "numpy": ("import numpy as np",),
    "pandas": ("import numpy as np", "import pandas as pd"),
    "sklearn": (
        "import numpy as np",
        "import pandas as pd",
        "from sklearn.preprocessing import StandardScaler",
    ),
    "trivial": ("import hashlib", "from pathlib import Path"),
}
EXTENSIONS = {
    "none": ".bin",
    "numpy": ".npy",
    "pandas": ".npy",
    "sklearn": ".npy",
    "trivial": ".txt",
}

_NUMPY = """\
    acc = np.random.default_rng(seed).standard_normal(4096) * scale + offset
    for path in inputs:
        acc = acc + np.load(path)
    grid = np.outer(np.tanh(acc[:640]), np.cos(acc[640:1280]))
    acc = np.tanh(acc + np.resize(np.sin(grid).mean(axis=1), acc.shape))
"""
_WORK = {
    "none": """\
    acc = [math.sin(seed + i * 0.01) * scale + offset for i in range(2048)]
    for path in inputs:
        acc = [a + b for a, b in zip(acc, array.array("d", Path(path).read_bytes()))]
    for _ in range(6):
        acc = [math.tanh(a * 0.9 + 0.1) for a in acc]
    Path({out!r}).write_bytes(array.array("d", acc).tobytes())
""",
    "numpy": _NUMPY + "    np.save({out!r}, acc)\n",
    "pandas": _NUMPY
    + """\
    acc = pd.Series(acc).rolling(8, min_periods=1).mean().to_numpy()
    np.save({out!r}, acc)
""",
    "sklearn": _NUMPY
    + """\
    acc = pd.Series(acc).rolling(8, min_periods=1).mean().to_numpy()
    acc = StandardScaler().fit_transform(acc.reshape(-1, 1)).ravel()
    np.save({out!r}, acc)
""",
    "trivial": """\
    digest = hashlib.sha1(f"{{seed}} {{scale}} {{offset}}".encode())
    for path in inputs:
        digest.update(Path(path).read_bytes())
    Path({out!r}).write_text(digest.hexdigest() + "\\n")
""",
}


def output_path(weight: str, name: str) -> str:
    return f"data/{name}{EXTENSIONS[weight]}"


def function_source(
    weight: str,
    name: str,
    index: int,
    inputs: Sequence[str],
    *,
    edited: bool = False,
    params: bool = True,
) -> str:
    """`def NAME(seed=INDEX, scale=1.0) -> None:` and its body, as both tools run it (without
    `params`, `seed` and `scale` are constants of the body instead)."""
    offset = EDITED_OFFSET if edited else "0.0"
    if params:
        head = f"def {name}(seed: int = {index}, scale: float = 1.0) -> None:\n"
    else:
        head = f"def {name}() -> None:\n    seed, scale = {index}, 1.0\n"
    return (
        head + f"    inputs = {list(inputs)!r}\n"
        f"    offset = {offset}\n" + _WORK[weight].format(out=output_path(weight, name))
    )
