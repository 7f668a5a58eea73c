"""Bulk ingest: read, translate, record in batches, count.

One transaction per batch of messages. Lines that are not messages are kept
as rejected input and named, one record per line (a rerun writes none again and
counts them as duplicates); the rest of the file is still ingested. Whatever the
input, no exception: see ``adapters.ingest.reader`` and ``domain.safe_text``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from relengotron.adapters.ingest.branches import BranchFilter
from relengotron.adapters.ingest.collector import fewer_collections
from relengotron.adapters.ingest.envelope import NotAMessage, to_envelope
from relengotron.adapters.ingest.reader import MAX_LINE, InputFile, Item
from relengotron.adapters.translate import FAMILIES, Envelope, translate
from relengotron.domain import ids
from relengotron.domain.application import RelengApp
from relengotron.domain.message import IGNORED, INVALID, RECOGNIZED, UNRECOGNIZED
from relengotron.domain.values import IncomingMessage, RecordOutcome, RejectedLine

DEFAULT_BATCH = 500

log = logging.getLogger(__name__)

#: What a message (not the store) can make recording fail with: the safety net only;
#: ``domain.safe_text`` makes every value storable before it gets there.
DATA_ERRORS = (UnicodeError, ValueError, TypeError, RecursionError, OverflowError)


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


def to_incoming(
    envelope: Envelope,
    source: str | None = None,
    problems: tuple[str, ...] = (),
    original: bytes | None = None,
    branches: BranchFilter | None = None,
) -> IncomingMessage:
    """Translate an envelope and wrap it for the application.

    ``branches``: the monitored dist-git branches (``[gating] monitored_branches``; None:
    the default set); a push to another branch is recorded as ignored.

    ``problems`` and ``original`` (the exact input) come with an envelope whose values
    were made store-safe (``domain.safe_text``); a message without an id is then keyed
    by its stored content and its exact input, so two inputs that differ only in what
    was replaced stay two messages.
    """
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
    kept = None
    if original is not None:
        kept = base64.b64encode(original).decode("ascii")
        if not envelope.msg_id:
            key = f"{key}~{hashlib.sha256(original).hexdigest()[:16]}"
    message = IncomingMessage(
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
        problems=(*problems, *t.problems),
        facts=t.facts,
        source=source,
        original=kept,
    )
    return (branches or BranchFilter()).apply(message)


Progress = Callable[[int, int | None, int | None], None]  # messages, bytes done, bytes total


class Ingestor:
    """Feeds items to the application in batches and keeps the summary."""

    def __init__(
        self,
        app: RelengApp,
        batch_size: int = DEFAULT_BATCH,
        branches: BranchFilter | None = None,
    ) -> None:
        self.app = app
        self.branches = branches
        self.batch_size = max(1, batch_size)
        self.summary = IngestSummary()
        self._batch: list[IncomingMessage] = []
        self._rejected: list[RejectedLine] = []
        self._items: dict[str, Item] = {}  # source -> item, of the batch (for the net)

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
        source = f"{item.source}:{item.line}"
        self._items[source] = item  # before ``add``: it records the batch it fills
        self.add(to_incoming(envelope, source, item.problems, item.original, self.branches))

    def add(self, message: IncomingMessage) -> None:
        self._batch.append(message)
        if len(self._batch) >= self.batch_size:
            self.flush()

    def _reject(self, item: Item, reason: str) -> None:
        original = item.original
        self._rejected.append(
            RejectedLine(
                raw=item.raw,
                reason=reason,
                source=item.source,
                line=item.line,
                original=base64.b64encode(original).decode("ascii") if original else None,
            )
        )

    def _reject_message(self, m: IncomingMessage, item: Item | None, exc: Exception) -> None:
        reason = f"could not be recorded as a message: {exc!r}"
        if item is None:
            raw = json.dumps({"topic": m.topic, "body": m.body}, ensure_ascii=True, default=str)
            item = Item(m.source or "", 0, raw)
        self._reject(item, reason)

    def flush(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            items, self._items = self._items, {}
            try:
                outcome = self.app.record(batch)
            except DATA_ERRORS:
                # Not the store's fault (a message no store should have been handed):
                # record the rest, one at a time, and keep the culprit as rejected input.
                log.exception("recording a batch of %d failed; one at a time", len(batch))
                for m in batch:
                    try:
                        self._count(self.app.record([m]))
                    except DATA_ERRORS as exc:
                        self._reject_message(m, items.get(m.source or ""), exc)
            else:
                self._count(outcome)
        if self._rejected:
            rejected, self._rejected = self._rejected, []
            written = self.app.keep_rejected(rejected)
            # One record per line; a line recorded by an earlier run is a duplicate.
            self.summary.rejected += len(written)
            self.summary.duplicate += len(rejected) - len(written)
            self.summary.rejections.extend(
                Rejection(r.source or "", r.line or 0, r.reason) for r in written
            )

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
    branches: BranchFilter | None = None,
    max_line: int = MAX_LINE,
) -> IngestSummary:
    started = time.perf_counter()
    ing = Ingestor(app, batch_size, branches)
    with fewer_collections():
        for path in paths:
            f = InputFile(path, max_line)
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


def render_summary(s: IngestSummary) -> str:
    out = [
        f"Read {s.read:,} from {len(s.files)} file(s) in {s.seconds:.2f} s: "
        f"{s.new:,} new, {s.duplicate:,} duplicate, {s.unrecognized:,} unrecognized, "
        f"{s.ignored:,} ignored, {s.invalid:,} invalid, {s.rejected:,} rejected; "
        f"{s.events:,} events written.",
        "",
        "New messages per family:",
    ]
    fam = s.as_json()["families"]
    width = max(len(k) for k in fam)
    out += [f"  {name:<{width}}  {count:>7,}" for name, count in fam.items()]
    if s.unrecognized_topics:
        out += ["", "Unrecognized topics (recorded, not translated):"]
        out += [f"  {n:>5} x {t}" for t, n in sorted(s.unrecognized_topics.items())]
    if s.invalid:
        out += ["", f"{s.invalid:,} invalid message(s) recorded: relengotron events --invalid"]
    if s.rejections:
        out += ["", "Rejected input (kept verbatim in the store):"]
        out += [f"  {r.source}:{r.line}: {r.reason}" for r in s.rejections]
    return "\n".join(out)
