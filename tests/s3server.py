"""A real S3-speaking server for the remote tests: moto in server mode on 127.0.0.1.

Started as a subprocess on a free port (never a mock of fsspec or botocore); s3fs talks to it
through `endpoint_url`. Tests skip, saying why, when moto's server extra is not installed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

KEY = "testing-key"
SECRET = "testing-secret-0123456789"


@dataclass(frozen=True)
class S3Server:
    """A running moto server: its endpoint, and the fsspec options a remote needs for it."""

    endpoint: str

    def options(self, *, key: str = KEY, secret: str = SECRET) -> dict[str, Any]:
        return {
            "key": key,
            "secret": secret,
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, **self.options())

    def bucket(self) -> str:
        """A new, empty bucket's name."""
        import uuid

        import boto3

        name = f"b{uuid.uuid4().hex[:16]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)
        return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(*, enforce_auth: bool = False) -> Iterator[S3Server]:
    """Start `moto_server -H 127.0.0.1 -p PORT` and wait until it answers.

    With `enforce_auth`, moto checks every request's credentials against its (empty) IAM, so
    any key is a wrong one.
    """
    pytest.importorskip("moto.server", reason="moto[server] is in the dev extra")
    pytest.importorskip("s3fs", reason="s3fs is in the s3 and dev extras")
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    if enforce_auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from moto.server import main; main()",
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)
