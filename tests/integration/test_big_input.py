"""A backfill's input of any size is read in bounded memory (issue 18).

An auditor or a new deployment ingests the message archive: files of gigabytes, plain
or compressed. The reader held a whole file in memory, decompressed and decoded (about
three times its size); JSON Lines are now read a part at a time. A file that is one
JSON document (an array, a datagrepper page) is still read whole: it is one value."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import lzma
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from relengotron.adapters.ingest.reader import HEAD, InputFile, Item

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


# --------------------------------------------------------- a line longer than the limit
# The reader held a line whole however long: a multi-gigabyte line with no newline (a
# truncated dump, a binary file given by mistake) took all memory, and each chunk of it
# was scanned again from the line's start. A line over the limit is now rejected with
# its size, its SHA-256 and its first bytes, in bounded memory; the lines after it are
# read as before (nothing lost: the file itself still holds the line, and the record
# names it exactly).

LIMIT = 1 << 20  # 1 MiB: a test's limit (the default is MAX_LINE)


def _message(i: int, pad: int = 0) -> bytes:
    body = {"build_id": i, "name": f"pkg{i}", "notes": "x" * pad}
    return json.dumps({"id": f"m-{i}", "topic": "t.x", "body": body}).encode()


def _items_and_peak(path: Path, limit: int = LIMIT) -> tuple[list[Item], int]:
    """The items read (each message's record reduced to its id, so that what is kept
    here does not count as the reader's memory), and the peak while reading."""
    tracemalloc.start()
    try:
        items = [
            dataclasses.replace(i, raw=i.raw[:100], record={"id": i.record["id"]})
            if i.record
            else i
            for i in InputFile(str(path), max_line=limit).items()
        ]
        return items, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["plain", "gzip"])
def test_a_line_over_the_limit_is_rejected_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    long = _message(2, pad=12 * LIMIT)  # 12 MiB on one line
    data = _message(1) + b"\n" + long + b"\n" + _message(3) + b"\n"
    path = tmp_path / ("in.jsonl" if kind == "plain" else "in.jsonl.gz")
    path.write_bytes(data if kind == "plain" else gzip.compress(data, compresslevel=1))
    items, peak = _items_and_peak(path)
    assert [i.line for i in items] == [1, 2, 3]
    assert items[0].record["id"] == "m-1" and items[2].record["id"] == "m-3"
    rejected = items[1]
    assert rejected.record is None and rejected.error is not None
    assert f"longer than the limit of {LIMIT:,} bytes" in rejected.error
    assert f"{len(long):,} bytes" in rejected.error
    assert hashlib.sha256(long).hexdigest() in rejected.error
    assert rejected.raw == long[:HEAD].decode()  # its first bytes, as a rejected line's text
    assert peak < 3 * LIMIT, f"{peak:,} bytes at the peak for a line of {len(long):,}"


def test_the_limit_counts_the_line_without_its_newline(tmp_path: Path) -> None:
    at = _message(1, pad=LIMIT - len(_message(1)))  # exactly LIMIT bytes
    assert len(at) == LIMIT
    over = _message(2, pad=LIMIT - len(_message(2)) + 1)
    assert len(over) == LIMIT + 1
    path = tmp_path / "edge.jsonl"
    path.write_bytes(at + b"\n" + over)  # the last line has no newline
    items, _ = _items_and_peak(path)
    assert items[0].record is not None and items[0].error is None
    assert items[1].error is not None and "longer than the limit" in items[1].error
    assert hashlib.sha256(over).hexdigest() in items[1].error


def test_a_long_line_without_a_newline_at_the_end_of_a_file(tmp_path: Path) -> None:
    """A file that is one endless line (not JSON at all): one rejection, bounded."""
    path = tmp_path / "junk.jsonl"
    with path.open("wb") as out:
        for _ in range(20):
            out.write(b"\x00\x01 not json " * 50_000)
    items, peak = _items_and_peak(path)
    assert len(items) == 1 and items[0].error is not None
    assert "longer than the limit" in items[0].error
    assert peak < 3 * LIMIT


def test_a_json_array_over_the_limit_is_rejected_whole_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """A file that is one JSON document is read whole, so only up to the limit: a bigger
    one is one rejection naming its size and the way to read it as JSON Lines."""
    path = tmp_path / "archive.json"
    with path.open("wb") as out:
        out.write(b"[\n")
        for i in range(3000):
            out.write(_message(i, pad=1000) + b",\n")
        out.write(_message(3000) + b"\n]\n")
    size = path.stat().st_size
    assert size > 2 * LIMIT
    items, peak = _items_and_peak(path)
    assert len(items) == 1 and items[0].error is not None
    assert f"one JSON document of {size:,} bytes" in items[0].error
    assert items[0].raw == path.read_bytes()[:HEAD].decode()
    assert "jq -c '.[]'" in items[0].error
    assert peak < 3 * LIMIT
    # under the limit it is read as before
    small, _ = _items_and_peak(path, limit=2 * size)
    assert len(small) == 3001 and all(i.record is not None for i in small)


def test_lines_over_the_limit_are_not_taken_for_one_document(tmp_path: Path) -> None:
    """A first line that looks like the start of a document but is not JSON, in a file
    over the limit: the file is read as JSON Lines, every later message read."""
    path = tmp_path / "mixed.jsonl"
    with path.open("wb") as out:
        out.write(b'{"id": "broken", \n')
        for i in range(3000):
            out.write(_message(i, pad=1000) + b"\n")
    items, peak = _items_and_peak(path)
    assert items[0].error is not None and items[0].line == 1
    assert [i.record["id"] for i in items[1:]] == [f"m-{i}" for i in range(3000)]
    assert peak < 3 * LIMIT


def test_a_long_line_within_one_chunk_is_over_the_limit_too(tmp_path: Path) -> None:
    """A line over the limit that the reader got in one piece (a small file, a small
    limit) is rejected as one that spans chunks is."""
    long = _message(2, pad=5000)
    path = tmp_path / "small.jsonl"
    path.write_bytes(_message(1) + b"\n" + long + b"\n" + _message(3))
    items, _ = _items_and_peak(path, limit=1000)
    assert [i.error is None for i in items] == [True, False, True]
    assert hashlib.sha256(long).hexdigest() in (items[1].error or "")
    assert items[2].record == {"id": "m-3"}


def test_the_first_bytes_kept_of_input_not_read_are_exact_when_not_utf8(tmp_path: Path) -> None:
    """A line or an array over the limit whose first bytes are not UTF-8: the text has
    U+FFFD for them, and the exact bytes are kept in ``original``, for both."""
    line = b'{"id": "\xff\xfe", "pad": "' + b"y" * 3000 + b'"}'
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_message(1) + b"\n" + line + b"\n")
    items, _ = _items_and_peak(path, limit=1000)
    assert items[1].error is not None and items[1].original == line[:HEAD]
    assert "\ufffd" in items[1].raw
    array = tmp_path / "bad.json"
    array.write_bytes(b"[" + line + b",\n" + line + b"]\n")
    (item,), _ = _items_and_peak(array, limit=1000)
    assert item.error is not None and "one JSON document" in item.error
    assert item.original is not None and item.original.startswith(b"[" + line[:100])
