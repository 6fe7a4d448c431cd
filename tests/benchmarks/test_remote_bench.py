"""Smoke run of benchmarks/remote.py: tiny data, fastpipe and cp only, every step recorded.

The benchmark itself fails if a pulled out differs from the pushed one. No timing assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_remote_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "remote.py"),
            "--files",
            "20",
            "--big-mib",
            "2",
            "--no-dvc",
            "--rounds",
            "2",
            "--json",
            str(out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done
    data = json.loads(out.read_text())
    assert len(data["rounds"]) == 2
    for found in data["rounds"]:
        for case in ("small", "big", "big-hardlink"):
            assert set(found[case]["fastpipe"]) == {"push", "pull"}
            assert found[case]["dvc"] is None
            assert set(found[case]["cp"]) == {"push", "pull"}  # small: `cp -r` of the files
    assert "| 20 files x 1 KiB | push |" in done.stdout
    assert "| 1 file of 2 MiB, hard-linked | pull |" in done.stdout
    assert list(tmp_path.iterdir()) == [out]  # its work folder is removed
