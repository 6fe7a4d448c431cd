"""Helpers for the remote tests: a project's outs stored in its output cache, git around it.

Until the output cache lands (another issue), `fastpipe run` does not store outs in the cache
itself, so `cache_outs` stores them here in the cache's layout: a file out as the object named
by the xxh3-128 of its bytes (`files/xxh3/<2>/<30>`), a directory out as its files' objects plus
a manifest object named by the directory's tree hash. At merge this becomes a plain
`fastpipe run`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import xxhash
import yaml

from tests.integration.project import Project


def store_object(cache: Path, digest: str, data: bytes) -> None:
    """Publish `data` in the cache under `digest`, read-only, as the cache does."""
    path = cache / "files" / "xxh3" / digest[:2] / digest[2:]
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, 0o444)


def cache_outs(
    project: Project,
    stages: tuple[str, ...] | None = None,
    metrics: tuple[str, ...] = ("metrics.json",),
) -> list[str]:
    """Store the outs of every locked stage in the project's cache, except the `metrics`
    (not cached: they are committed to git)."""
    cache = project.root / ".fastpipe" / "cache"
    stored: list[str] = []
    for lock in sorted((project.root / ".fastpipe" / "stages").glob("*.lock")):
        data = yaml.safe_load(lock.read_text())
        if stages is not None and data["stage"] not in stages:
            continue
        for relpath, out in data["outs"].items():
            path = project.root / relpath
            if relpath in metrics:
                continue
            if path.is_dir():
                rows = []
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    content = file.read_bytes()
                    digest = xxhash.xxh3_128_hexdigest(content)
                    store_object(cache, digest, content)
                    rel = file.relative_to(path).as_posix()
                    rows.append([rel, digest, len(content), os.access(file, os.X_OK)])
                manifest = json.dumps({"schema": 1, "files": rows}).encode()
                store_object(cache, out["hash"], manifest)
            else:
                content = path.read_bytes()
                assert xxhash.xxh3_128_hexdigest(content) == out["hash"]
                store_object(cache, out["hash"], content)
            stored.append(relpath)
    return stored


def git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc
    return proc.stdout


def commit_all(root: Path, message: str = "state") -> None:
    """git init (if needed), add everything not ignored, commit."""
    if not (root / ".git").exists():
        git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", message, cwd=root)
