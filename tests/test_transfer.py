"""The transfer engine against real remotes: a directory, a file:// URL, S3 (moto server)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import xxhash

from fastpipe import objectkeys, transfer
from fastpipe.errors import RemoteError
from fastpipe.remotes import Remote, RemoteConfig, open_remote
from fastpipe.transfer import RemoteIndex, TransferProgress
from tests.s3server import S3Server, moto_server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


MakeRemote = Callable[[], Remote]


@pytest.fixture(params=["directory", "file-url", "s3"])
def make_remote(request: pytest.FixtureRequest, tmp_path: Path) -> MakeRemote:
    """A fresh, empty remote of each kind (the same one on every call within a test)."""
    kind = request.param
    if kind == "s3":
        server: S3Server = request.getfixturevalue("s3")
        bucket = server.bucket()
        config = RemoteConfig("store", f"s3://{bucket}/team", server.options())
    elif kind == "file-url":
        config = RemoteConfig("store", f"file://{tmp_path}/remote")
    else:
        config = RemoteConfig("store", "../remote")
    return lambda: open_remote(config, tmp_path / "project")


def store(cache: Path, data: bytes) -> str:
    """Put `data` in the cache as a file object (the cache's layout); its key."""
    key = objectkeys.file_key(xxhash.xxh3_128_hexdigest(data))
    path = cache / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return key


def remote_keys(remote: Remote) -> set[str]:
    keys, _ = transfer.list_keys(remote, "files")
    runs, _ = transfer.list_keys(remote, "runs")
    return keys | runs


def put_raw(remote: Remote, key: str, data: bytes) -> None:
    """Write bytes straight onto the remote under `key`, as a stranger could."""
    remote.fs.pipe_file(remote.path(key), data)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    (tmp_path / "project").mkdir()
    return tmp_path / "project" / ".fastpipe" / "cache"


def do_push(remote: Remote, cache: Path, keys: list[str], **kw: object) -> transfer.TransferResult:
    index = RemoteIndex.load(cache, remote)
    return transfer.push(keys, lambda k: f"{cache}/{k}", remote, index=index, **kw)  # type: ignore[arg-type]


def do_fetch(remote: Remote, cache: Path, keys: list[str]) -> transfer.TransferResult:
    return transfer.fetch(keys, objectkeys.publisher(cache), remote, temp_dir=cache / "tmp", jobs=4)


def test_push_uploads_what_the_remote_lacks_then_nothing(
    make_remote: MakeRemote, cache: Path
) -> None:
    remote = make_remote()
    keys = [store(cache, f"object {i}\n".encode()) for i in range(5)]
    first = do_push(remote, cache, keys)
    assert first.uploaded == transfer.Moved(5, sum(len(f"object {i}\n") for i in range(5)))
    assert remote_keys(remote) == set(keys)
    for key in keys:
        assert remote.fs.cat_file(remote.path(key)) == (cache / key).read_bytes()
    second = do_push(remote, cache, keys)
    assert second.uploaded == transfer.Moved(0, 0)
    assert second.present == 5


def test_a_no_op_push_asks_the_remote_nothing(tmp_path: Path, cache: Path) -> None:
    remote = open_remote(RemoteConfig("store", str(tmp_path / "remote")), tmp_path)
    keys = [store(cache, b"a"), store(cache, b"b")]
    do_push(remote, cache, keys)
    shutil.rmtree(tmp_path / "remote")  # any request would now see an empty remote
    again = do_push(remote, cache, keys)
    assert again.uploaded.objects == 0
    assert not (tmp_path / "remote").exists()


@pytest.mark.parametrize("count", [3, transfer.SMALL_SET + 40])
def test_without_the_index_the_remote_is_asked_per_object_or_by_listing(
    make_remote: MakeRemote, cache: Path, count: int
) -> None:
    remote = make_remote()
    keys = [store(cache, f"{i}".encode()) for i in range(count)]
    do_push(remote, cache, keys[: count // 2])
    shutil.rmtree(cache / "remotes")  # a lost index: the remote itself is asked
    result = do_push(remote, cache, keys)
    assert result.uploaded.objects == count - count // 2
    assert result.present == count // 2
    assert remote_keys(remote) == set(keys)


@pytest.mark.parametrize("kind", ["absent", "a folder"])
def test_keys_missing_locally_are_reported_not_uploaded(
    make_remote: MakeRemote, cache: Path, kind: str
) -> None:
    remote = make_remote()
    key = store(cache, b"here")
    missing = objectkeys.file_key("ab" * 16)
    if kind == "a folder":  # where the object should be: no regular file, so missing too
        (cache / missing).mkdir(parents=True)
    result = do_push(remote, cache, [key, missing])
    assert result.missing == (missing,)
    assert (result.uploaded.objects, result.uploaded.bytes) == (1, 4)
    assert remote_keys(remote) == {key}


def test_progress_is_told_at_the_start_the_end_and_at_most_every_interval(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = open_remote(RemoteConfig("store", str(tmp_path / "remote")), tmp_path)
    keys = [store(cache, f"{i}".encode()) for i in range(30)]
    seen: list[TransferProgress] = []
    monkeypatch.setattr(transfer, "PROGRESS_INTERVAL_S", 3600.0)
    do_push(remote, cache, keys[:15], listener=seen.append)
    assert [(p.done, p.total) for p in seen] == [(0, 15), (15, 15)]
    seen.clear()
    monkeypatch.setattr(transfer, "PROGRESS_INTERVAL_S", 0.0)
    do_push(remote, cache, keys, listener=seen.append)
    assert [p.done for p in seen] == list(range(16))  # 15 were on the remote already


def test_fetch_downloads_verifies_and_publishes_read_only(
    make_remote: MakeRemote, cache: Path, tmp_path: Path
) -> None:
    remote = make_remote()
    keys = [store(cache, f"data {i}".encode() * 100) for i in range(4)]
    do_push(remote, cache, keys)
    fresh = tmp_path / "other" / "cache"
    seen: list[TransferProgress] = []
    result = transfer.fetch(
        keys, objectkeys.publisher(fresh), remote, temp_dir=fresh / "tmp", listener=seen.append
    )
    assert result.downloaded == transfer.Moved(4, sum(len(f"data {i}") * 100 for i in range(4)))
    for key in keys:
        assert (fresh / key).read_bytes() == (cache / key).read_bytes()
        assert not (fresh / key).stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert os.listdir(fresh / "tmp") == []
    assert (seen[0].done, seen[-1].done, seen[-1].total) == (0, 4, 4)


def test_a_tampered_remote_object_is_rejected_and_never_used(
    make_remote: MakeRemote, cache: Path, tmp_path: Path
) -> None:
    remote = make_remote()
    good, bad = store(cache, b"good"), store(cache, b"original")
    do_push(remote, cache, [good, bad])
    put_raw(remote, bad, b"tampered")
    fresh = tmp_path / "other"
    result = do_fetch(remote, fresh, [good, bad])
    assert result.rejected == (bad,)
    assert result.downloaded.objects == 1
    assert (fresh / good).read_bytes() == b"good"
    assert not (fresh / bad).exists()
    assert os.listdir(fresh / "tmp") == []


def test_a_large_tampered_object_is_rejected_as_it_streams(
    make_remote: MakeRemote, cache: Path, tmp_path: Path
) -> None:
    from fastpipe import localremote

    remote = make_remote()
    original = os.urandom(localremote.SMALL + 4096)  # past the whole-file read: streamed
    good, bad = store(cache, original[:-1]), store(cache, original)
    do_push(remote, cache, [good, bad])
    put_raw(remote, bad, original[:-1] + b"!")
    fresh = tmp_path / "other"
    result = do_fetch(remote, fresh, [good, bad])
    assert result.rejected == (bad,)
    assert (fresh / good).read_bytes() == original[:-1]
    assert not (fresh / bad).exists()
    assert os.listdir(fresh / "tmp") == []


def test_a_local_directory_moves_objects_in_the_calling_thread(tmp_path: Path, cache: Path) -> None:
    import threading

    remote = open_remote(RemoteConfig("store", str(tmp_path / "remote")), tmp_path)
    keys = [store(cache, f"{i}".encode()) for i in range(20)]
    threads: set[str] = set()

    def seen(_: TransferProgress) -> None:
        threads.add(threading.current_thread().name)

    do_push(remote, cache, keys, listener=seen)
    fresh = tmp_path / "other"
    transfer.fetch(keys, objectkeys.publisher(fresh), remote, temp_dir=fresh, listener=seen)
    assert threads == {threading.current_thread().name}
    assert all((fresh / k).read_bytes() == (cache / k).read_bytes() for k in keys)
    assert transfer.jobs_for(remote, None) == 1 and transfer.jobs_for(remote, 3) == 3


def test_the_publisher_vouches_only_for_objects_it_linked(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    publish = objectkeys.publisher(cache)
    mine, theirs = b"verified here", b"already there"
    for data in (mine, theirs):
        (tmp_path / "t").write_bytes(data)
        key = objectkeys.file_key(xxhash.xxh3_128_hexdigest(data))
        if data is theirs:
            store(cache, data)  # published before: this publisher did not check its file
        publish(key, tmp_path / "t")
        os.unlink(tmp_path / "t")
    assert publish.verified == {objectkeys.file_key(xxhash.xxh3_128_hexdigest(mine))}
    wrong = objectkeys.file_key(xxhash.xxh3_128_hexdigest(b"x"))
    (tmp_path / "t").write_bytes(b"y")
    with pytest.raises(objectkeys.CorruptObjectError):
        publish(wrong, tmp_path / "t", xxhash.xxh3_128_hexdigest(b"y"))
    assert wrong not in publish.verified


def test_an_object_the_remote_lacks_is_reported_missing(
    make_remote: MakeRemote, tmp_path: Path
) -> None:
    remote = make_remote()
    absent = objectkeys.file_key("cd" * 16)
    result = do_fetch(remote, tmp_path / "c", [absent])
    assert result.missing == (absent,)
    assert not (tmp_path / "c" / absent).exists()


def test_names_listed_by_the_remote_are_validated(make_remote: MakeRemote) -> None:
    remote = make_remote()
    good = objectkeys.run_key("0a" * 16)
    put_raw(remote, good, b"{}")
    put_raw(remote, "runs/0a/NOTHEX" + "0" * 24, b"{}")
    put_raw(remote, "runs/0a/" + "1" * 29, b"{}")
    put_raw(remote, "runs/0a/." + "2" * 30 + ".x.tmp", b"{}")  # an upload's temp: skipped
    keys, ignored = transfer.list_keys(remote, "runs")
    assert keys == {good}
    assert ignored == ("runs/0a/" + "1" * 29, "runs/0a/NOTHEX" + "0" * 24)


@pytest.mark.parametrize(
    "key", ["runs/0a/../../../../etc/passwd", "files/xxh3/0A/" + "a" * 30, "/abs", "runs/x"]
)
def test_fetch_refuses_what_is_not_an_object_key(tmp_path: Path, key: str) -> None:
    remote = open_remote(RemoteConfig("store", str(tmp_path / "remote")), tmp_path)
    with pytest.raises(RemoteError, match="not an object key"):
        do_fetch(remote, tmp_path / "cache", [key])


def test_a_directory_manifest_is_verified_by_its_tree_hash(tmp_path: Path) -> None:
    from fastpipe.hashing import StatCache, hash_path

    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("bb")
    digest = hash_path(tmp_path, "tree", StatCache.empty())
    assert digest is not None
    rows = [
        [rel, xxhash.xxh3_128_hexdigest(data), len(data), False]
        for rel, data in (("a.txt", b"a"), ("sub/b.txt", b"bb"))
    ]
    manifest = tmp_path / "manifest"
    manifest.write_text(json.dumps({"schema": 1, "files": rows}))
    assert objectkeys.tree_hash_of_manifest(manifest) == digest.hash
    publish = objectkeys.publisher(tmp_path / "cache")
    publish(objectkeys.file_key(digest.hash), manifest)
    assert (tmp_path / "cache" / objectkeys.file_key(digest.hash)).is_file()
    manifest.write_text(json.dumps({"schema": 1, "files": rows[:1]}))
    with pytest.raises(objectkeys.CorruptObjectError):
        publish(objectkeys.file_key("ee" * 16), manifest)


def test_run_cache_entries_must_be_json_objects(tmp_path: Path) -> None:
    publish = objectkeys.publisher(tmp_path / "cache")
    entry = tmp_path / "entry"
    entry.write_text("[1, 2]")
    with pytest.raises(objectkeys.CorruptObjectError):
        publish(objectkeys.run_key("ab" * 16), entry)
    entry.write_text('{"stage": "train"}')
    publish(objectkeys.run_key("ab" * 16), entry)
    assert (tmp_path / "cache" / objectkeys.run_key("ab" * 16)).read_text() == '{"stage": "train"}'


def test_leftover_temp_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    dead = temp / f"{'a' * 32}.999999999.{'b' * 32}.tmp"
    mine = temp / f"{'a' * 32}.{os.getpid()}.{'c' * 32}.tmp"
    other = temp / "keep.me"
    for path in (dead, mine, other):
        path.write_text("x")
    transfer.clean_temp_files(temp)
    assert sorted(p.name for p in temp.iterdir()) == sorted([mine.name, other.name])


def test_an_unreachable_endpoint_is_a_remote_error(tmp_path: Path, cache: Path) -> None:
    pytest.importorskip("s3fs")
    from tests.s3server import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    options = {"key": "k", "secret": "sekrit-value", "client_kwargs": {"endpoint_url": endpoint}}
    remote = open_remote(RemoteConfig("cloud", "s3://bucket/x", options), tmp_path)
    with pytest.raises(RemoteError) as info:
        do_push(remote, cache, [store(cache, b"x")])
    message = str(info.value)
    assert message.startswith("remote 'cloud' (s3://bucket/x) is unreachable while checking")
    assert "sekrit-value" not in message


def test_the_index_is_keyed_by_remote_and_holds_no_credentials(
    s3: S3Server, tmp_path: Path, cache: Path
) -> None:
    bucket = s3.bucket()
    remote = open_remote(RemoteConfig("c", f"s3://{bucket}/x", s3.options()), tmp_path)
    do_push(remote, cache, [store(cache, b"x")])
    (index,) = (cache / "remotes").iterdir()
    text = index.read_text()
    assert json.loads(text)["schema"] == transfer.INDEX_SCHEMA
    assert f"s3://{bucket}/x" in text
    assert s3.options()["secret"] not in text and s3.options()["key"] not in text


def test_fetch_objects_uses_the_default_remote(tmp_path: Path) -> None:
    from fastpipe import discovery, sync

    root = tmp_path / "p"
    root.mkdir()
    (root / "pipeline.py").write_text("")
    (root / "pyproject.toml").write_text('[tool.fastpipe.remotes.r]\nurl = "../remote"\n')
    remote = open_remote(RemoteConfig("r", "../remote"), root)
    source = tmp_path / "other-cache"
    key = store(source, b"needed")
    do_push(remote, source, [key])
    result = sync.fetch_objects(discovery.load_project(root), [key])
    assert result.downloaded.objects == 1
    assert (root / ".fastpipe" / "cache" / key).read_bytes() == b"needed"


def test_copy_file_falls_back_where_the_kernel_cannot_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    source.write_bytes(os.urandom(3 << 20))
    objectkeys.copy_file(source, tmp_path / "fast")
    assert (tmp_path / "fast").read_bytes() == source.read_bytes()

    def refuse(*args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    objectkeys.copy_file(source, tmp_path / "portable")
    assert (tmp_path / "portable").read_bytes() == source.read_bytes()
