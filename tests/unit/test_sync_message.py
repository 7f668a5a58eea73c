"""The ``compose.synced`` message (issue 20 part 4): its schema, registry and round trip,
as fedora-messaging finds it by the entry point in pyproject.toml."""

from __future__ import annotations

from typing import Any

import pytest
from fedora_messaging import message as fm
from fedora_messaging.exceptions import ValidationError

from relengotron.adapters.effects.mirror_sync import latest_link
from relengotron.adapters.messaging.catalog import SCHEMAS, message_for
from relengotron.adapters.messaging.sync_schemas import ComposeSyncedV1


def body() -> dict[str, Any]:
    return {
        "compose": "Fedora-Rawhide-20261206.n.0",
        "location": "/srv/pub/fedora/linux/development/Fedora-Rawhide-20261206.n.0",
        "link": "/srv/pub/fedora/linux/development/latest-Fedora-Rawhide",
        "switched": True,
        "previous": "Fedora-Rawhide-20261205.n.0",
        "decision_context": "rawhide_compose_sync_to_mirrors",
        "product_version": "fedora-rawhide",
        "summary": "All required tests passed",
        "at": "2026-12-06T10:00:00+00:00",
    }


def test_the_entry_point_names_the_class() -> None:
    assert fm.get_class("relengotron.compose.synced.v1") is ComposeSyncedV1
    assert fm.get_name(ComposeSyncedV1) == "relengotron.compose.synced.v1"
    assert SCHEMAS["compose.synced"] is ComposeSyncedV1


def test_round_trip_and_text() -> None:
    msg = message_for("compose.synced", body(), "org.fedoraproject.prod.relengotron")
    assert msg.topic == "org.fedoraproject.prod.relengotron.compose.synced"
    [back] = fm.loads(fm.dumps(msg))
    assert type(back) is ComposeSyncedV1 and back.body == msg.body
    assert back.summary == (
        "compose Fedora-Rawhide-20261206.n.0 synced to "
        "/srv/pub/fedora/linux/development/Fedora-Rawhide-20261206.n.0"
    )
    kept = message_for("compose.synced", body() | {"switched": False})
    assert kept.summary.endswith("(latest kept newer)")
    assert msg.usernames == [] and msg.packages == []


@pytest.mark.parametrize(
    "change",
    [{"compose": ""}, {"switched": "yes"}, {"location": None}, {"surprise": 1}],
)
def test_bad_bodies_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ComposeSyncedV1.create(body() | change)
    missing = body()
    del missing["compose"]
    with pytest.raises(ValidationError):
        ComposeSyncedV1.create(missing)


def test_latest_link_is_pungis() -> None:
    assert latest_link("Fedora-Rawhide-20261206.n.0") == "latest-Fedora-Rawhide"
    assert latest_link("Fedora-41-updates-20261206.0") == "latest-Fedora-41-updates"
    assert latest_link("Fedora-IoT-42-20261206.t.1") == "latest-Fedora-IoT-42"
    assert latest_link("odcs-1234") == "latest-odcs-1234"  # not a pungi id: its own link


@pytest.mark.parametrize(("outcome", "resultsdb"), [("synced", "PASSED"), ("already", "PASSED"),
                                                    ("failed", "FAILED")])  # fmt: skip
def test_a_finished_sync_is_a_result_on_its_compose(outcome: str, resultsdb: str) -> None:
    from relengotron.projections.folds.greenwave_records import SYNC_TESTCASE, sync_result_row

    compose = "Fedora-Rawhide-20261206.n.0"
    action = {"params": {"compose": compose, "target": "/srv/mirror"}}
    result = {"path": f"/srv/mirror/{compose}", "link": "/srv/mirror/latest-F"}
    done = {"at": "2026-12-06T10:00:00+00:00", "result": result}
    row = sync_result_row(7, "ab/3", action, done, outcome, "why")
    assert (row["subject_type"], row["subject_identifier"]) == ("compose", compose)
    assert (row["testcase"], row["outcome"], row["position"]) == (SYNC_TESTCASE, resultsdb, 7)
    record = row["record"]
    assert record["outcome"] == resultsdb and record["note"] == "why"
    assert record["submit_time"] == "2026-12-06T10:00:00.000000"
    assert record["data"] == {
        "type": ["compose"], "item": [compose], "productmd.compose.id": [compose],
        "location": [f"/srv/mirror/{compose}"], "link": ["/srv/mirror/latest-F"],
    }  # fmt: skip
    assert isinstance(record["id"], int) and record["id"] < 0
