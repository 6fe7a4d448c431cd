"""fdio: whole reads and writes on raw descriptors, however few bytes one call moves."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from fastpipe import fdio


def test_read_all_reads_on_past_a_short_read(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()  # a pipe hands over what was written so far: short reads

    def feed() -> None:
        for part in (b"abc", b"def", b"ghi"):
            os.write(write_end, part)
        os.close(write_end)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        assert fdio.read_all(read_end, 9) == b"abcdefghi"
    finally:
        feeder.join()
        os.close(read_end)
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    for size, expected in ((10, 10), (4, 4), (20, 10), (0, 10)):
        fd = os.open(path, os.O_RDONLY)
        try:  # exactly the size: one read; fewer bytes than said (or none said): to the end
            assert fdio.read_all(fd, size) == b"x" * expected, size
        finally:
            os.close(fd)


def test_write_all_writes_every_byte_through_a_pipe_smaller_than_the_data() -> None:
    read_end, write_end = os.pipe()
    data = os.urandom(1 << 20)  # larger than a pipe's buffer: os.write returns early
    received: list[bytes] = []

    def drain() -> None:
        while chunk := os.read(read_end, 1 << 16):
            received.append(chunk)

    drainer = threading.Thread(target=drain)
    drainer.start()
    fdio.write_all(write_end, data)
    os.close(write_end)
    drainer.join()
    os.close(read_end)
    assert b"".join(received) == data
