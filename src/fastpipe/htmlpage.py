"""One self-contained HTML page shell shared by the run report and the plots page.

Everything is inline: CSS here, charts as inline SVG, images as data URIs. No script, no
font, no stylesheet is fetched from anywhere, so a page opens offline and says the same
thing in a year.
"""

from __future__ import annotations

from html import escape

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --panel: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
.sub { color: var(--muted); margin: 0 0 18px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 14px; min-width: 112px; }
.card .v { font-size: 20px; font-weight: 600; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.panel { border: 1px solid var(--line); border-radius: 8px; padding: 12px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-size: 12px; font-weight: 600; }
.why { color: var(--muted); }
td.name { white-space: nowrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr));
  gap: 16px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
figure img { max-width: 100%; border: 1px solid var(--line); border-radius: 4px; }
.imgs { display: flex; flex-wrap: wrap; gap: 12px; }
.imgs div { font-size: 12px; color: var(--muted); }
.error { color: #b42318; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
"""


def page(title: str, body: str, *, subtitle: str = "") -> str:
    """A complete HTML document: `body` is trusted HTML, `title`/`subtitle` are escaped."""
    sub = f'<p class="sub">{escape(subtitle)}</p>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing may be fetched: the policy makes the browser refuse it, should a page ever try.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main><h1>{escape(title)}</h1>{sub}\n{body}\n</main></body></html>\n"
    )


def fmt_seconds(seconds: float | None) -> str:
    """`0.42 s`, `12.3 s`, `4 min 05 s`; `-` for None."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def fmt_bytes(count: int | None) -> str:
    """`512 KiB`, `38.2 MiB`; `-` for None."""
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit in ("B", "KiB") else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop returns
