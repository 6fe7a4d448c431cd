"""Remote configuration: tables, which remote a command uses, opening it, its errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fastpipe import discovery, remotes
from fastpipe.errors import FastpipeError, ProjectError, RemoteError
from fastpipe.remotes import RemoteConfig, RemotesConfig


def config(text: str, tmp_path: Path) -> discovery.ProjectConfig:
    (tmp_path / "pyproject.toml").write_text(text)
    return discovery.read_config(tmp_path)


def test_remote_tables_are_read_with_their_options(tmp_path: Path) -> None:
    found = config(
        '[tool.fastpipe]\ndefault_remote = "store"\n'
        '[tool.fastpipe.remotes.store]\nurl = "s3://bucket/data"\n'
        '[tool.fastpipe.remotes.store.options]\nclient_kwargs = {endpoint_url = "http://x"}\n'
        '[tool.fastpipe.remotes.local]\nurl = "../shared"\n',
        tmp_path,
    )
    assert found.remotes is not None
    assert found.remotes.default == "store"
    assert found.remotes.remotes["store"].url == "s3://bucket/data"
    assert dict(found.remotes.remotes["store"].options) == {
        "client_kwargs": {"endpoint_url": "http://x"}
    }
    assert found.remotes.remotes["local"].url == "../shared"


def test_a_project_without_remotes_has_none(tmp_path: Path) -> None:
    assert config("[tool.fastpipe]\njobs = 2\n", tmp_path).remotes is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('remotes = "x"', "[tool.fastpipe] remotes must be dict"),
        ("[tool.fastpipe.remotes.a]\npath = 'x'", "unknown key 'path' (url, options)"),
        ("[tool.fastpipe.remotes.a]\noptions = {}", "needs url"),
        ("[tool.fastpipe.remotes.a]\nurl = 'x'\noptions = 3", "options must be a table"),
        ('default_remote = "nope"', "unknown remote 'nope' (default_remote)"),
        ("default_remote = 3", "default_remote must be str"),
    ],
)
def test_malformed_remote_config_is_a_one_line_error(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises((ProjectError, RemoteError)) as info:
        config(f"[tool.fastpipe]\n{text}\n", tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


ORIGIN = RemoteConfig("origin", "/srv/origin")
BACKUP = RemoteConfig("backup", "s3://b/x")
BOTH = RemotesConfig({"origin": ORIGIN, "backup": BACKUP}, default="origin")


def test_select_prefers_flag_then_environment_then_default() -> None:
    assert remotes.select(BOTH, "backup", env={}) == BACKUP
    assert remotes.select(BOTH, None, env={"FASTPIPE_REMOTE": "backup"}) == BACKUP
    assert remotes.select(BOTH, "origin", env={"FASTPIPE_REMOTE": "backup"}) == ORIGIN
    assert remotes.select(BOTH, None, env={}) == ORIGIN


def test_select_the_only_remote_without_a_default() -> None:
    assert remotes.select(RemotesConfig({"origin": ORIGIN}), None, env={}) == ORIGIN


def test_environment_may_name_a_url() -> None:
    found = remotes.select(None, None, env={"FASTPIPE_REMOTE": "s3://bucket/ci"})
    assert found.url == "s3://bucket/ci"


def test_no_remote_configured() -> None:
    with pytest.raises(RemoteError, match=r"no remote configured: add \[tool.fastpipe.remotes"):
        remotes.select(None, None, env={})


def test_several_remotes_and_no_default() -> None:
    with pytest.raises(RemoteError, match=r"several remotes .backup, origin. and no default"):
        remotes.select(RemotesConfig({"origin": ORIGIN, "backup": BACKUP}), None, env={})


def test_unknown_remote_suggests_a_close_name() -> None:
    with pytest.raises(RemoteError, match=r"unknown remote 'orign' .-r.; did you mean 'origin'"):
        remotes.select(BOTH, "orign", env={})
    with pytest.raises(RemoteError, match="configured: backup, origin"):
        remotes.select(BOTH, "zzz", env={})


def test_relative_directory_is_relative_to_the_project(tmp_path: Path) -> None:
    remote = remotes.open_remote(RemoteConfig("r", "store"), tmp_path)
    assert remote.is_local
    assert remote.path("files/xxh3/ab/cd") == f"{tmp_path}/store/files/xxh3/ab/cd"
    remote = remotes.open_remote(RemoteConfig("r", f"file://{tmp_path}/x"), Path("/"))
    assert remote.base == f"{tmp_path}/x"


def test_a_local_directory_remote_opens_without_importing_fsspec(tmp_path: Path) -> None:
    # fsspec costs ~0.1 s to import; a plain directory needs none of it until `fs` is asked for.
    code = (
        "import sys; from pathlib import Path; from fastpipe import remotes\n"
        f"r = remotes.open_remote(remotes.RemoteConfig('r', 'store'), Path({str(tmp_path)!r}))\n"
        "assert r.is_local and 'fsspec' not in sys.modules, sorted(sys.modules)\n"
        "r.fs.pipe_file(r.path('k'), b'x')\n"
        "assert 'fsspec' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "store" / "k").read_bytes() == b"x"


def test_unknown_protocol_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RemoteError, match=r"remote 'r' .nope://x."):
        remotes.open_remote(RemoteConfig("r", "nope://x"), tmp_path)


def test_missing_extra_names_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import fsspec  # noqa: F401  (loads fsspec.registry, a name its package shadows)

    registry = sys.modules["fsspec.registry"]._registry
    # s3fs and gcsfs made unimportable, as in an install without the extras (and forgotten by
    # fsspec, which keeps the classes it imported)
    monkeypatch.setitem(sys.modules, "s3fs", None)
    monkeypatch.setitem(sys.modules, "gcsfs", None)
    for protocol in ("s3", "s3a", "gs", "gcs"):
        monkeypatch.delitem(registry, protocol, raising=False)
    with pytest.raises(RemoteError) as info:
        remotes.open_remote(RemoteConfig("cloud", "s3://bucket/x"), tmp_path)
    assert str(info.value) == (
        "remote 'cloud' (s3://bucket/x) needs s3fs: pip install 'fastpipe[s3]'"
    )
    with pytest.raises(RemoteError, match=r"needs gcsfs: pip install 'fastpipe\[gcs\]'"):
        remotes.open_remote(RemoteConfig("g", "gs://bucket/x"), tmp_path)


def test_passwords_are_stripped_from_urls() -> None:
    assert remotes.strip_password("ssh://ann:hunter2@host/x") == "ssh://ann@host/x"
    assert remotes.strip_password("https://:tok@host/x") == "https://host/x"
    assert remotes.strip_password("s3://bucket/x") == "s3://bucket/x"


def test_secrets_are_scrubbed_from_messages() -> None:
    cfg = RemoteConfig(
        "r",
        "https://ann:pw123@host/x",
        {"key": "AKIA1", "client_kwargs": {"aws_secret_access_key": "s3cr3t"}, "region": "eu"},
    )
    text = remotes.scrub("AKIA1 s3cr3t pw123 eu", cfg)
    assert text == "*** *** *** eu"
    assert cfg.shown_url == "https://ann@host/x"


def test_remote_error_is_a_fastpipe_error() -> None:
    assert issubclass(RemoteError, FastpipeError)
    assert RemoteError("x").exit_code == 2
