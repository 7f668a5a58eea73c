"""Shared helpers for tests that read the message corpus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.translate.base import Envelope


def records(corpus_dir: Path, *globs: str) -> Iterator[dict[str, Any]]:
    """Every non-empty JSON line of the files matching ``globs`` under ``corpus_dir``.

    The globs default to ``real/*.jsonl``; they are taken in the order given, and the
    files of each glob in sorted order.
    """
    for pattern in globs or ("real/*.jsonl",):
        for path in sorted(corpus_dir.glob(pattern)):
            for line in path.read_text().splitlines():
                if line.strip():
                    yield json.loads(line)


def envelope(record: dict[str, Any]) -> Envelope:
    """The envelope a corpus record arrives in."""
    return Envelope(
        topic=record["topic"],
        body=record["body"],
        headers=record.get("headers") or {},
        msg_id=record.get("id"),
    )
