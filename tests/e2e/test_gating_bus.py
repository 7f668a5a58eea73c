"""Gating with the bus on: decisions, promotions and quarantines reach RabbitMQ.

The quarantine message names the build's owner (``usernames``), which is what
notification services such as FMN route on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fedora_messaging import message as fm

from relengotron.adapters.messaging.schemas import (
    BuildPromotedV1,
    BuildQuarantinedV1,
    DecisionChangedV1,
)
from tests.e2e.test_gating import PROMOTED, QUARANTINE, Site
from tests.fakekoji import FakeKojiHub
from tests.rabbit import URL, receive


@pytest.mark.rabbitmq
@pytest.mark.timeout(120)
def test_quarantine_and_promotion_are_published_naming_the_owner(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, listener: Any, prefix: str
) -> None:
    site = Site(tmp_path, fake_koji, capsys)
    site.config.write_text(
        site.config.read_text()
        + f'\n[bus]\nenabled = true\namqp_url = "{URL}"\ntopic_prefix = "{prefix}"\n'
    )
    # (The decider publishes each change of a decision: requirements flip one by one.)
    good, bad = "bash-5.3-1.fc44", "vim-9.1-1.fc44"
    site.ingest(
        [
            *site.new_build(good, owner="kdudka"),
            *site.new_build(bad, owner="zdohnal"),
            *site.bus.passing(good),
            site.bus.stage(bad, "FAILURE"),
            site.bus.rpmdeplint(bad),
            site.bus.group_check("snapshot-1", [good, bad], "passed"),
        ]
    )
    out = site.act()
    assert {r["outcome"] for r in out["done"]} <= {"moved", "published"}
    assert fake_koji.tags_of(bad) == [QUARANTINE]
    assert fake_koji.tags_of(good) == [PROMOTED]

    published = [r for r in out["done"] if r["outcome"] == "published"]
    received = receive(listener, count=len(published), wait=20)
    messages = [fm.get_message(m.routing_key, props, body) for m, props, body in received]
    by_class: dict[type, list[Any]] = {}
    for m in messages:
        by_class.setdefault(type(m), []).append(m)
    [quarantined] = by_class[BuildQuarantinedV1]
    assert quarantined.topic == f"{prefix}.build.quarantined"
    assert quarantined.usernames == ["zdohnal"]
    assert quarantined.body["nvr"] == bad
    assert quarantined.body["to_tag"] == QUARANTINE
    assert quarantined.body["unsatisfied_requirements"][0]["type"] == "test-result-failed"
    [promoted] = by_class[BuildPromotedV1]
    assert promoted.body["nvr"] == good
    assert promoted.usernames == ["kdudka"]
    latest = {d.body["subject_identifier"]: d.body for d in by_class[DecisionChangedV1]}
    assert latest[good]["verdict"] == "promote"
    assert latest[bad]["verdict"] == "quarantine"
    assert latest[bad]["owner"] == "zdohnal"
    # Message ids are the outbox actions' ids: a re-send after a timeout is recognisable.
    assert len({m.id for m in messages}) == len(messages)
    # Nothing is published twice.
    assert site.act()["done"] == []
    channel, queue = listener
    method, _, _ = channel.basic_get(queue, auto_ack=True)
    assert method is None
