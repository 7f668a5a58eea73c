"""The reader's line splitter against the plain reference (``bytes.split``), whatever
the chunking and the limit (issue 18: a line over the limit is not held)."""

from __future__ import annotations

import hashlib
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from relengotron.adapters.ingest.reader import HEAD, _Over, _split

_BOM = b"\xef\xbb\xbf"


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


def _expected(data: bytes, limit: int) -> list[object]:
    """What the splitter must give: each line with its newline (the last without), a
    line of more than ``limit`` bytes as its head, size, SHA-256 and whether it ended."""
    out: list[object] = []
    *lines, last = data.split(b"\n")
    for line in lines:
        out.append(_over(line, True) if len(line) > limit else line + b"\n")
    if last:
        out.append(_over(last, False) if len(last) > limit else last)
    return out


def _over(line: bytes, ended: bool) -> _Over:
    return _Over(line[:HEAD], len(line), hashlib.sha256(line).hexdigest(), ended)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.one_of(
            st.sampled_from([b"\n", b"\n\n", b"{", b"}", b"x" * 50, b"\xff", b"ab"]),
            st.binary(max_size=40),
        ),
        max_size=40,
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    limit=st.integers(min_value=1, max_value=120),
    bom=st.booleans(),
)
def test_lines_are_the_plain_split_whatever_the_chunks(
    data: bytes, cuts: list[int], limit: int, bom: bool
) -> None:
    given_data = _BOM + data if bom else data
    got = list(_split(iter(_chunked(given_data, cuts)), limit))
    expected_data = data if bom or not given_data.startswith(_BOM) else given_data[3:]
    assert got == _expected(expected_data, limit)


def test_a_long_line_keeps_its_first_bytes_only() -> None:
    line = bytes(range(256)) * 100  # 25,600 bytes, no newline byte but one
    line = line.replace(b"\n", b"-")
    got = list(_split(iter([line[:1000], line[1000:], b"\nnext\n"]), limit=500))
    assert got == [_over(line, True), b"next\n"]
    assert len(got[0].head) == HEAD  # type: ignore[union-attr]
