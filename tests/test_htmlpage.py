"""Tests for fastpipe.htmlpage: the offline page shell and its number formats."""

from __future__ import annotations

from fastpipe.htmlpage import fmt_bytes, fmt_seconds, page


def test_the_page_is_self_contained_and_escapes_its_title() -> None:
    html = page("a <b> run", "<p>body</p>", subtitle="x & y")
    assert "<title>a &lt;b&gt; run</title>" in html and "x &amp; y" in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "default-src 'none'" in html  # the browser refuses to fetch anything


def test_number_formats() -> None:
    assert [fmt_seconds(s) for s in (None, 0.4242, 12.34, 245)] == [
        "-",
        "0.42 s",
        "12.3 s",
        "4 min 05 s",
    ]
    assert [fmt_bytes(b) for b in (None, 512, 2048, 40 * 2**20, 3 * 2**30)] == [
        "-",
        "512 B",
        "2 KiB",
        "40.0 MiB",
        "3.0 GiB",
    ]
