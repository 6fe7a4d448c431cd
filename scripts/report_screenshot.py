"""Regenerate docs/report.png: examples/quickstart's run report, rendered by headless Chromium.

Usage: .venv/bin/python scripts/report_screenshot.py [--chromium /usr/bin/chromium]

Copies the example to a temporary directory, runs it twice (the second time with changed
params, so the report shows why stages ran and one that stayed fresh), writes the report of
the second run and screenshots it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "quickstart"
TARGET = ROOT / "docs" / "report.png"


def fastpipe(cwd: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "fastpipe", *args], cwd=cwd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    chromium = parser.parse_args().chromium
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "quickstart"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".fastpipe", "__pycache__"))
        fastpipe(project, "run", "-q", "-j", "2")
        params = project / "params.yaml"
        params.write_text(params.read_text() + "featurize:\n  degree: 3\n", encoding="utf-8")
        fastpipe(project, "run", "-q", "-j", "2", "--report", "report.html")
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile",
                "--window-size=1120,760",
                f"--screenshot={TARGET}",
                (project / "report.html").as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
