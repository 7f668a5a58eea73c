"""Compressed input (gzip, xz, zstd) read as far as it goes, never a traceback.

The kind is known from the first bytes (whatever the name: standard input too; a
misnamed plain file is read as plain). The data is decompressed a chunk at
a time, every member/stream/frame in turn, so a truncated or corrupt file gives
everything before the damage plus the reason (``truncated gzip stream ...``), which the
reader turns into a rejected input; the complete lines before it are read as usual.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable
from typing import Any

import zstandard

CHUNK = 1 << 16

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


def decompress(kind: str, data: bytes) -> tuple[bytes, str | None]:
    """The decompressed bytes, and None or why the data ends before its end."""
    out: list[bytes] = []
    produced = 0
    pos = 0
    d = _MAKERS[kind]()
    started = False
    try:
        while pos < len(data):
            chunk = data[pos : pos + CHUNK]
            pos += len(chunk)
            piece = d.decompress(chunk)
            started = True
            out.append(piece)
            produced += len(piece)
            if d.eof:
                rest = d.unused_data + data[pos:]
                if not rest.strip(b"\x00"):  # gzip/xz padding after the last member
                    return b"".join(out), None
                data, pos, d = rest, 0, _MAKERS[kind]()
                started = False
    except _ERRORS as exc:
        return b"".join(out), (
            f"corrupt {kind} data after {produced:,} decompressed bytes "
            f"({type(exc).__name__}: {exc})"
        )
    if not started and produced == 0 and not data:
        return b"", None  # an empty file
    return b"".join(out), (
        f"truncated {kind} stream: the data ends before the end of the compressed stream "
        f"(after {produced:,} decompressed bytes)"
    )
