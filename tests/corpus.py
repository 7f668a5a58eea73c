"""Shared helpers for tests that read the message corpus."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from relengotron.adapters.translate.base import Envelope, Translation

T = TypeVar("T")


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


def claimed(translate: Callable[[Envelope, str], Translation | None], env: Envelope) -> Translation:
    """What one family translator makes of an envelope; it must claim the topic."""
    result = translate(env, env.suffix)
    assert result is not None, env.topic
    return result


def single_fact(result: Translation, cls: type[T]) -> T:
    """The one fact of a translation, of the expected type."""
    assert len(result.facts) == 1, result
    fact = result.facts[0]
    assert isinstance(fact, cls), fact
    return fact
