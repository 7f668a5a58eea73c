"""Bulk ingest: read, translate, record in batches, count.

One transaction per batch of messages. Lines that are not messages are kept
as rejected input and named; the rest of the file is still ingested.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from adapters.envelope import NotAMessage, to_envelope
from adapters.reader import InputFile, Item
from adapters.translate import FAMILIES, Envelope, translate
from domain import ids
from domain.application import RelengApp
from domain.message import IGNORED, INVALID, RECOGNIZED, UNRECOGNIZED
from domain.values import IncomingMessage, RecordOutcome, RejectedLine

DEFAULT_BATCH = 500


@dataclass
class Rejection:
    source: str
    line: int
    reason: str


@dataclass
class IngestSummary:
    read: int = 0
    new: int = 0
    duplicate: int = 0
    unrecognized: int = 0
    ignored: int = 0
    invalid: int = 0
    rejected: int = 0
    events: int = 0
    families: Counter[str] = field(default_factory=Counter)
    unrecognized_topics: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        families = {name: self.families.get(name, 0) for name in FAMILIES}
        return {
            "read": self.read,
            "new": self.new,
            "duplicate": self.duplicate,
            "unrecognized": self.unrecognized,
            "ignored": self.ignored,
            "invalid": self.invalid,
            "rejected": self.rejected,
            "events": self.events,
            "families": families,
            "unrecognized_topics": dict(sorted(self.unrecognized_topics.items())),
            "rejections": [vars(r) for r in self.rejections],
            "files": self.files,
            "seconds": round(self.seconds, 3),
        }


def to_incoming(envelope: Envelope, source: str | None = None) -> IncomingMessage:
    """Translate an envelope and wrap it for the application."""
    t = translate(envelope)
    if not t.recognized:
        status, reason = UNRECOGNIZED, "no translator for this topic"
    elif t.invalid:  # kept, with its schema errors as problems; counts as no result
        status, reason = INVALID, "not valid under its spec's JSON Schema"
    elif t.ignored:
        status, reason = IGNORED, t.ignored
    else:
        status, reason = RECOGNIZED, None
    key = envelope.msg_id or ids.content_key(envelope.topic, envelope.body)
    return IncomingMessage(
        key=key,
        topic=envelope.topic,
        body=envelope.body,
        headers=dict(envelope.headers),
        msg_id=envelope.msg_id,
        sent_at=envelope.sent_at,
        body_topic=t.body_topic,
        family=t.family,
        status=status,
        reason=reason,
        problems=t.problems,
        facts=t.facts,
        source=source,
    )


Progress = Callable[[int, int | None, int | None], None]  # messages, bytes done, bytes total


class Ingestor:
    """Feeds items to the application in batches and keeps the summary."""

    def __init__(self, app: RelengApp, batch_size: int = DEFAULT_BATCH) -> None:
        self.app = app
        self.batch_size = max(1, batch_size)
        self.summary = IngestSummary()
        self._batch: list[IncomingMessage] = []
        self._rejected: list[RejectedLine] = []

    def add_item(self, item: Item) -> None:
        self.summary.read += 1
        if item.error is not None:
            self._reject(item, item.error)
            return
        try:
            envelope = to_envelope(item.record)
        except NotAMessage as exc:
            self._reject(item, str(exc))
            return
        self.add(to_incoming(envelope, source=f"{item.source}:{item.line}"))

    def add(self, message: IncomingMessage) -> None:
        self._batch.append(message)
        if len(self._batch) >= self.batch_size:
            self.flush()

    def _reject(self, item: Item, reason: str) -> None:
        self.summary.rejected += 1
        self.summary.rejections.append(Rejection(item.source, item.line, reason))
        self._rejected.append(
            RejectedLine(raw=item.raw, reason=reason, source=item.source, line=item.line)
        )

    def flush(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self._count(self.app.record(batch))
        if self._rejected:
            rejected, self._rejected = self._rejected, []
            self.app.record_rejected(rejected)

    def _count(self, outcome: RecordOutcome) -> None:
        s = self.summary
        s.new += len(outcome.new)
        s.duplicate += len(outcome.duplicate)
        s.events += outcome.events
        new_keys = set(outcome.new)
        for m in outcome.recorded:
            if m.key not in new_keys:
                continue
            if m.status == UNRECOGNIZED:
                s.unrecognized += 1
                s.unrecognized_topics[m.topic] += 1
            elif m.status == IGNORED:
                s.ignored += 1
            elif m.status == INVALID:
                s.invalid += 1
            if m.family:
                s.families[m.family] += 1


def ingest_files(
    app: RelengApp,
    paths: Iterable[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> IngestSummary:
    started = time.perf_counter()
    ing = Ingestor(app, batch_size)
    for path in paths:
        f = InputFile(path)
        ing.summary.files.append(f.name)
        for n, item in enumerate(f.items(), 1):
            ing.add_item(item)
            if progress is not None and n % 200 == 0:
                progress(ing.summary.read, f.consumed, f.size)
        ing.flush()
        if progress is not None:
            progress(ing.summary.read, f.size, f.size)
    ing.summary.seconds = time.perf_counter() - started
    return ing.summary
