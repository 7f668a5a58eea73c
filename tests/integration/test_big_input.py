"""A backfill's input of any size is read in bounded memory (issue 18).

An auditor or a new deployment ingests the message archive: files of gigabytes, plain
or compressed. The reader held a whole file in memory, decompressed and decoded (about
three times its size); JSON Lines are now read a part at a time. A file that is one
JSON document (an array, a datagrepper page) is still read whole: it is one value."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from relengotron.adapters.ingest.reader import InputFile

LINES = 20_000


def _jsonl(tmp_path: Path) -> Path:
    f = tmp_path / "big.jsonl"
    with f.open("w") as out:
        for i in range(LINES):  # compresses about as a real archive does (3-4 times)
            notes = "".join(hashlib.sha256(f"{i}/{n}".encode()).hexdigest() for n in range(11))
            body = {"build_id": i, "name": f"pkg{i % 97}", "notes": notes}
            out.write(json.dumps({"id": f"m-{i}", "topic": "t.x", "body": body}) + "\n")
    return f


def _peak_while_reading(path: Path) -> tuple[int, int]:
    """(items read, the peak of memory allocated while reading them)."""
    tracemalloc.start()
    try:
        n = sum(1 for _ in InputFile(str(path)).items())
        return n, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["plain", "gzip", "xz", "zstd"])
def test_json_lines_are_read_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    plain = _jsonl(tmp_path)
    size = plain.stat().st_size  # about 15 MB
    data = plain.read_bytes()
    path = {
        "plain": plain,
        "gzip": tmp_path / "big.jsonl.gz",
        "xz": tmp_path / "big.jsonl.xz",
        "zstd": tmp_path / "big.jsonl.zst",
    }[kind]
    if kind == "gzip":
        path.write_bytes(gzip.compress(data, compresslevel=1))
    elif kind == "xz":
        path.write_bytes(lzma.compress(data, preset=0))
    elif kind == "zstd":
        path.write_bytes(zstandard.ZstdCompressor(level=1).compress(data))
    read, peak = _peak_while_reading(path)
    assert read == LINES
    assert peak < size / 10, f"{peak:,} bytes at the peak for a file of {size:,}"
