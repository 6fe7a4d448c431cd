"""Tests for fastpipe.accept through the API (`root=`); the CLI is in tests/integration."""

from __future__ import annotations

from pathlib import Path


def test_api_accept_takes_root(tmp_path: Path) -> None:
    import fastpipe.api

    (tmp_path / "pipeline.py").write_text(
        "from pathlib import Path\nfrom fastpipe import stage\n\n\n"
        "@stage(outs=['o.txt'])\ndef s() -> None:\n    Path('o.txt').write_text('1')\n"
    )
    fastpipe.api.run(root=tmp_path)
    (tmp_path / "pipeline.py").write_text(
        (tmp_path / "pipeline.py").read_text().replace("def s()", "def s()  ")  # layout only
        + "\n\nX = 1\n"
    )
    done = fastpipe.api.accept(["s"], because="no change", root=tmp_path)
    assert [(d.name, d.reasons) for d in done] == [("s", ())]  # fresh: nothing to accept
