"""Remotes on S3 through the real CLI: moto's server on 127.0.0.1 speaks S3 to s3fs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import xxhash

from tests.integration.project import ERROR_PREFIX, OUTPUTS, Project, command_env
from tests.integration.remoteproject import cache_outs, commit_all, git
from tests.s3server import KEY, SECRET, S3Server, free_port, moto_server

CACHED = tuple(o for o in OUTPUTS if o != "metrics.json")
IGNORED = "".join(f"/{o}\n" for o in CACHED) + "/runs.log\n"


def s3_toml(bucket: str, endpoint: str, *, key: str = KEY, secret: str = SECRET) -> str:
    return f"""\
[tool.fastpipe]
default_remote = "cloud"

[tool.fastpipe.remotes.cloud]
url = "s3://{bucket}/team/data"

[tool.fastpipe.remotes.cloud.options]
key = "{key}"
secret = "{secret}"
client_kwargs = {{ endpoint_url = "{endpoint}", region_name = "us-east-1" }}
"""


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


def key_of(data: bytes) -> str:
    digest = xxhash.xxh3_128_hexdigest(data)
    return f"files/xxh3/{digest[:2]}/{digest[2:]}"


def every_text_under(root: Path) -> str:
    texts = []
    for path in root.rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


def test_round_trip_through_s3(s3: S3Server, project: Project, tmp_path: Path) -> None:
    bucket = s3.bucket()
    project.write("pyproject.toml", s3_toml(bucket, s3.endpoint))
    project.write(".gitignore", IGNORED)
    cache_outs(project)
    commit_all(project.root)
    pushed = project.ok("push", "--json")
    data = json.loads(pushed.out)
    run_entries = list((project.root / ".fastpipe" / "cache" / "runs").glob("*/*"))
    assert run_entries  # `fastpipe run` recorded them, and they travel with the outs
    assert data["uploaded"]["objects"] == len(CACHED) + len(run_entries)
    assert data["remote"] == f"s3://{bucket}/team/data"
    listed = s3.filesystem().find(f"{bucket}/team/data/files/xxh3")
    assert len(listed) == len(CACHED)
    assert json.loads(project.ok("push", "--json").out)["uploaded"]["objects"] == 0

    clone = tmp_path / "clone"
    git("clone", "-q", str(project.root), str(clone), cwd=tmp_path)
    other = Project(clone)
    other.ok("pull")
    for out in OUTPUTS:
        assert (clone / out).read_bytes() == (project.root / out).read_bytes(), out
    assert all(s["status"] == "fresh" for s in other.status().values())
    assert other.runs() == []
    # credentials stay in pyproject.toml: not in output, state, logs or locks
    state = every_text_under(clone / ".fastpipe") + every_text_under(project.root / ".fastpipe")
    assert SECRET not in state and KEY not in state
    assert SECRET not in pushed.out + pushed.err


def test_an_unreachable_endpoint_fails_fast(project: Project) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # a closed port
    project.write("pyproject.toml", s3_toml("bucket", endpoint))
    cache_outs(project)
    result = project.run("push")  # the helper's timeout bounds it; the budget is 30 s
    assert result.code == 2
    (line,) = result.err_lines
    assert line.startswith(f"{ERROR_PREFIX}remote 'cloud' (s3://bucket/team/data) is unreachable")
    assert SECRET not in result.err


def test_pull_from_an_unreachable_endpoint_fails_fast(project: Project) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    project.write("pyproject.toml", s3_toml("bucket", endpoint))
    for out in CACHED:
        (project.root / out).unlink()
    result = project.run("pull")
    assert result.code == 2
    assert "is unreachable" in result.err_lines[-1]


def test_wrong_credentials_are_refused_in_one_line(project: Project) -> None:
    with moto_server(enforce_auth=True) as server:  # every key is unknown to its IAM
        project.write(
            "pyproject.toml",
            s3_toml("bucket", server.endpoint, key="AKIAWRONG0000", secret="wrong-secret-value"),
        )
        cache_outs(project)
        result = project.run("push")
    assert result.code == 2
    (line,) = result.err_lines
    assert line.startswith(f"{ERROR_PREFIX}remote 'cloud' (s3://bucket/team/data) refused access")
    assert "check its credentials" in line
    assert "wrong-secret-value" not in result.err and "AKIAWRONG0000" not in result.err


def test_a_missing_extra_names_the_pip_command(project: Project) -> None:
    project.write("pyproject.toml", s3_toml("bucket", "http://127.0.0.1:9"))
    # an interpreter where s3fs cannot be imported, as without the s3 extra
    blocker = project.root / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['s3fs'] = None\n")
    result = project.run("push", env={"PYTHONPATH": str(project.root)})
    assert result.code == 2
    assert result.err_lines == [
        f"{ERROR_PREFIX}remote 'cloud' (s3://bucket/team/data) needs s3fs: "
        "pip install 'fastpipe[s3]'"
    ]


BIG_PIPELINE = """
from fastpipe import stage


@stage(outs=["big.bin"])
def big() -> None:
    block = bytes(range(256)) * 4096
    with open("big.bin", "wb") as f:
        for i in range(112):  # 112 MiB: over twice s3fs's 50 MiB part, so a multipart upload
            f.write(block[i:] + block[:i])
"""


def _client(s3: S3Server) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )


def _start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fastpipe", *args],
        cwd=cwd,
        env=command_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when(proc: subprocess.Popen[bytes], seen: Callable[[], bool]) -> bool:
    """SIGKILL `proc` as soon as `seen()` (True), or report that it ended first (False)."""
    deadline = time.monotonic() + 120
    found = False
    while proc.poll() is None and time.monotonic() < deadline:
        if seen():
            found = True
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return found


def _remote_bytes(client: Any, bucket: str, key: str) -> bytes | None:
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None


def test_a_killed_push_and_a_killed_pull_leave_no_torn_object_on_s3_or_here(
    s3: S3Server, make_project: Any, tmp_path: Path
) -> None:
    bucket = s3.bucket()
    project = make_project(
        {
            "pipeline.py": BIG_PIPELINE,
            "pyproject.toml": s3_toml(bucket, s3.endpoint),
            ".gitignore": "/big.bin\n",
        }
    )
    project.ok("run")
    cache_outs(project)
    data = (project.root / "big.bin").read_bytes()
    key = f"team/data/{key_of(data)}"
    client = _client(s3)

    def uploading() -> bool:  # a multipart upload begun and not completed
        return bool(client.list_multipart_uploads(Bucket=bucket).get("Uploads"))

    proc = _start(["push", "-j", "1"], project.root)
    assert _kill_when(proc, uploading), "the push ended before its upload could be interrupted"
    stored = _remote_bytes(client, bucket, key)
    assert stored is None or stored == data  # never a torn object under its final key
    project.ok("push")
    assert _remote_bytes(client, bucket, key) == data

    commit_all(project.root)
    clone = tmp_path / "clone"
    git("clone", "-q", str(project.root), str(clone), cwd=tmp_path)
    assert not (clone / "big.bin").exists()
    cache = clone / ".fastpipe" / "cache"
    temp = cache / "tmp"

    def downloading() -> bool:
        return temp.is_dir() and any(name.endswith(".tmp") for name in os.listdir(temp))

    proc = _start(["pull", "-j", "1"], clone)
    assert _kill_when(proc, downloading), "the pull ended before its download could be interrupted"
    if (cache / key_of(data)).exists():  # killed just after publishing: then it must be whole
        assert (cache / key_of(data)).read_bytes() == data
    if (clone / "big.bin").exists():
        assert (clone / "big.bin").read_bytes() == data
    Project(clone).ok("pull")
    assert (clone / "big.bin").read_bytes() == data
    assert (cache / key_of(data)).read_bytes() == data
    assert os.listdir(temp) == []  # the killed pull's temp file was cleaned up
    assert sorted(p.name for p in clone.iterdir() if p.name.startswith(".big.bin")) == []
