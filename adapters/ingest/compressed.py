"""Compressed input (gzip, xz, zstd) read as far as it goes, never a traceback.

The kind is known from the first bytes (whatever the name: standard input too; a
misnamed plain file is read as plain). The data is decompressed a chunk at a time as it
is read (``stream``: a file of any size in bounded memory), every member/stream/frame
in turn, so a truncated or corrupt file gives
everything before the damage plus the reason (``truncated gzip stream ...``), which the
reader turns into a rejected input; the complete lines before it are read as usual.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import zstandard

CHUNK = 1 << 16  # compressed bytes read (and fed to gzip and xz) at a time
OUT = 1 << 18  # at most this many decompressed bytes at a time (gzip, xz)
ZSTD_IN = 1 << 12  # compressed bytes fed to zstd at a time

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
_SUFFIX = {".gz": "gzip", ".gzip": "gzip", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd"}


def kind_of(name: str, head: bytes) -> str | None:
    """``gzip``, ``xz``, ``zstd`` or None (not compressed), from the first bytes; the
    name (``.gz``, ``.xz``, ``.zst``) only decides when the data is too short to say (a
    file cut inside its header). A misnamed plain file is read as what it is."""
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    for suffix, kind in _SUFFIX.items():
        if name.lower().endswith(suffix):
            magic = next(m for m, k in _MAGIC.items() if k == kind)
            return kind if magic.startswith(head) else None
    return None


def _gzip() -> Any:
    return zlib.decompressobj(wbits=31)


def _xz() -> Any:
    return lzma.LZMADecompressor()


def _zstd() -> Any:
    return zstandard.ZstdDecompressor().decompressobj()


_MAKERS: dict[str, Callable[[], Any]] = {"gzip": _gzip, "xz": _xz, "zstd": _zstd}
_ERRORS = (zlib.error, lzma.LZMAError, zstandard.ZstdError, EOFError, ValueError, OSError)


def _out(kind: str, d: Any, chunk: bytes) -> Iterator[bytes]:
    """What ``d`` decompresses of ``chunk``, in pieces of at most ``OUT`` bytes (zstd:
    in one piece)."""
    if kind == "zstd":
        yield d.decompress(chunk)
        return
    yield d.decompress(chunk, OUT)
    if kind == "gzip":
        while d.unconsumed_tail and not d.eof:
            yield d.decompress(d.unconsumed_tail, OUT)
    else:
        while not d.eof and not d.needs_input:
            yield d.decompress(b"", OUT)


def decompress(kind: str, data: bytes) -> tuple[bytes, str | None]:
    """The decompressed bytes, and None or why the data ends before its end."""
    damage: list[str] = []
    out = b"".join(stream(kind, iter([data]), damage))
    return out, damage[0] if damage else None


def stream(kind: str, chunks: Iterator[bytes], damage: list[str]) -> Iterator[bytes]:
    """The decompressed data of ``chunks`` (the compressed input, in pieces of any size)
    in pieces of bounded size, every member in turn; why it ends before its end is
    appended to ``damage`` once the pieces are all given. gzip and xz give at most
    ``OUT`` bytes a call (a bomb too); zstd, which cannot be asked so, is fed
    ``ZSTD_IN`` bytes at a time (at most a few MB out of each)."""
    produced = 0
    d = _MAKERS[kind]()
    fed = False
    size = ZSTD_IN if kind == "zstd" else CHUNK
    buf = b""  # input not yet fed

    def fill(want: int) -> bool:
        """At least ``want`` bytes in ``buf`` unless the input ends; False: no byte."""
        nonlocal buf
        while len(buf) < want:
            more = next(chunks, b"")
            if not more:
                break
            buf += more
        return bool(buf)

    try:
        while fill(size):
            chunk, buf = buf[:size], buf[size:]
            fed = True
            for piece in _out(kind, d, chunk):
                produced += len(piece)
                yield piece
            if d.eof:
                buf = d.unused_data + buf
                while not buf.strip(b"\x00"):  # padding after the last member, or more
                    more = next(chunks, b"")
                    if not more:
                        return  # gzip/xz padding after the last member: complete
                    buf += more
                d = _MAKERS[kind]()
    except _ERRORS as exc:
        damage.append(
            f"corrupt {kind} data after {produced:,} decompressed bytes "
            f"({type(exc).__name__}: {exc})"
        )
        return
    if not fed:
        return  # an empty file
    damage.append(
        f"truncated {kind} stream: the data ends before the end of the compressed stream "
        f"(after {produced:,} decompressed bytes)"
    )
