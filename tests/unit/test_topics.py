"""The stored event topics are named once (``domain.topics``) and cannot drift from
the event classes: each constant resolves to the event class it names, and every
topic a store written by main holds has its constant."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import get_args

from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic, resolve_topic

from relengotron.domain import topics

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_main_20261206.db"


def constants() -> dict[str, str]:
    return {k: v for k, v in vars(topics).items() if re.fullmatch(r"[A-Z][A-Z_]+", k)}


def test_each_constant_is_the_stored_topic_of_its_event_class() -> None:
    found = constants()
    assert len(found) == 64  # + ReleaseRun.Planned, StepDone, StepFailed, Finished
    for name, topic in found.items():
        cls = resolve_topic(topic)
        assert isinstance(cls, type) and issubclass(cls, DomainEvent), name
        assert get_topic(cls) == topic, name
        # The constant is the class's qualified name: GATE_DECIDED is Gate.Decided.
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls.__qualname__.replace(".", "_"))
        assert words.upper() == name, topic


def test_every_topic_of_an_old_store_has_its_constant() -> None:
    con = sqlite3.connect(FIXTURE)
    try:
        stored = {r[0] for r in con.execute("SELECT DISTINCT topic FROM relengotron_events")}
    finally:
        con.close()
    assert len(stored) == 30
    assert stored <= set(constants().values())


def test_each_fold_has_one_table_naming_every_topic_it_reads() -> None:
    from relengotron.domain.facts import Fact
    from relengotron.domain.handlers import FACT_HANDLERS
    from relengotron.projections.folds import artifacts, gating, readmodel

    named = set(constants().values())
    assert set(gating.HANDLERS.topics) == set(gating.TOPICS)
    # 27: Build.Signed, Build.RerunRequested, Gate.FlakyFound, Bisection.RecheckRequested
    assert len(gating.TOPICS) == len(set(gating.TOPICS)) == 27
    for table in (gating.HANDLERS, artifacts.HANDLERS, readmodel.HANDLERS):
        assert set(table.topics) <= named
        for topic in table.topics:
            event_class = resolve_topic(topic)
            # An event is found by its class (folds of events), a row by its topic.
            event = object.__new__(event_class)
            assert table.for_event(event) is table.for_topic(topic) is not None, topic
    assert table.for_event(object()) is None and table.for_topic("domain.x:Y.Z") is None
    # Facts: one entry per fact class, naming what it touches and what it records.
    assert set(FACT_HANDLERS) == set(get_args(Fact))


def test_the_composer_reads_back_what_it_records() -> None:
    from relengotron.projections.folds import artifacts
    from relengotron.projections.processes import composer

    # Its own events are all it records (domain.composing) and the actions it requests.
    composing = {t for t in constants().values() if t.startswith("domain.composing:")}
    assert set(composer.OWN_TOPICS) == composing | {topics.ACTION_REQUESTED}
    assert set(composer.OWN_TOPICS) <= set(artifacts.TOPICS)
