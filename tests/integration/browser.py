"""Headless Chromium for the HTML pages, and a recording proxy that proves nothing is fetched.

Chromium is launched with every request routed to a proxy on 127.0.0.1 (loopback included);
the proxy answers nothing useful and records what was asked of it.
"""

from __future__ import annotations

import os
import socketserver
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

CHROMIUM = Path(os.environ.get("FASTPIPE_CHROMIUM", "/usr/bin/chromium"))
TIMEOUT_S = 90.0
# Chromium's own background requests, made whatever page it opens (network time, component
# updates, account checks): no flag turns all of them off in Chromium 156. Anything else the
# proxy sees was asked for by the page.
BROWSER_HOSTS = frozenset({"clients2.google.com", "update.googleapis.com", "accounts.google.com"})


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    return CHROMIUM


class RecordingProxy:
    """A TCP server on 127.0.0.1 that records the first line of every request it gets (a
    connection that sends nothing, such as a preconnect, asks for nothing)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        seen = self.seen

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(4096).decode("latin-1").strip()
                if not line:  # Chromium preconnects to its proxy: a socket that asks nothing
                    return
                seen.append(line)
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def requests(self) -> list[str]:
        """The request lines seen, but those of Chromium's own background services."""
        return [r for r in self.seen if _host(r) not in BROWSER_HOSTS]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()


def _host(request_line: str) -> str:
    """The host of `GET http://host/path HTTP/1.1` or `CONNECT host:443 HTTP/1.1`."""
    parts = request_line.split()
    target = parts[1] if len(parts) > 1 else ""
    return target.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]


def chromium(page: Path, *args: str, proxy: RecordingProxy, profile: Path) -> str:
    """Run headless Chromium on the file `page` with `args`; its stdout."""
    command = [
        str(require_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # Chromium's own traffic (component updates, network time, accounts, ...): off, so
        # that anything the proxy sees was asked for by the page.
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-default-browser-check",
        "--no-pings",
        "--safebrowsing-disable-auto-update",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,"
        "Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
        f"--user-data-dir={profile}",
        f"--proxy-server=127.0.0.1:{proxy.port}",
        "--proxy-bypass-list=<-loopback>",
        "--window-size=1200,1000",
        *args,
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def dump_dom(page: Path, *, proxy: RecordingProxy, profile: Path) -> str:
    """The DOM of `page` after loading, serialized."""
    return chromium(page, "--dump-dom", proxy=proxy, profile=profile)


def screenshot(page: Path, png: Path, *, proxy: RecordingProxy, profile: Path) -> bytes:
    """A PNG screenshot of `page` written to `png`; its bytes."""
    chromium(page, f"--screenshot={png}", "--hide-scrollbars", proxy=proxy, profile=profile)
    return png.read_bytes()
