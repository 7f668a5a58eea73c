"""The outgoing fedora-messaging schemas: validation, topics, rendering, registry, round trips."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fedora_messaging import message as fm
from fedora_messaging.exceptions import ValidationError

from relengotron.adapters.messaging import schemas
from relengotron.adapters.messaging.base import RelengotronMessage, topic_for
from relengotron.adapters.messaging.schemas import (
    SCHEMAS,
    BatchCheckRequestedV1,
    BuildPromotedV1,
    BuildQuarantinedV1,
    DecisionChangedV1,
    message_for,
    package_from_nvr,
)

NVR = "bash-5.2.37-1.fc44"
FAILED = {
    "type": "test-result-failed",
    "testcase": "fedora-ci.koji-build.tier0.functional",
    "subject_type": "koji_build",
    "item": {"type": "koji_build", "identifier": NVR},
    "result_id": 12345,
}
PASSED = {"type": "test-result-passed", "testcase": "fedora-ci.koji-build.rpminspect"}


def decision_body() -> dict[str, Any]:
    return {
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "product_version": "fedora-rawhide",
        "decision_context": "bodhi_update_push_stable",
        "verdict": "quarantine",
        "previous_verdict": "hold",
        "policies_satisfied": False,
        "summary": "1 of 2 required tests failed",
        "satisfied_requirements": [copy.deepcopy(PASSED)],
        "unsatisfied_requirements": [copy.deepcopy(FAILED)],
        "applicable_policies": ["rawhide-gating"],
        "policy_set_hash": "sha256:abc",
        "decision_id": "decision/0b5c:7",
        "decided_at": "2026-11-20T10:11:12+00:00",
        "owner": "alice",
    }


def promoted_body() -> dict[str, Any]:
    return {
        "nvr": NVR,
        "package": "bash",
        "owner": "alice",
        "from_tag": "f44-updates-candidate",
        "to_tag": "f44",
        "task_id": 987654,
        "decision_id": "decision/0b5c:8",
        "verdict": "waived",
        "summary": "All required tests passed or were waived",
        "satisfied_requirements": [copy.deepcopy(PASSED)],
    }


def quarantined_body() -> dict[str, Any]:
    return {
        "nvr": NVR,
        "package": "bash",
        "owner": "alice",
        "from_tag": "f44-updates-candidate",
        "to_tag": "f44-quarantine",
        "task_id": None,
        "decision_id": "decision/0b5c:7",
        "summary": "1 of 2 required tests failed",
        "unsatisfied_requirements": [copy.deepcopy(FAILED)],
        "suspect_reason": "failed test fedora-ci.koji-build.tier0.functional",
    }


def batch_body() -> dict[str, Any]:
    def build(nvr: str, issuer: str | None, build_id: int | None) -> dict[str, Any]:
        component = package_from_nvr(nvr)
        return {"type": "koji-build", "nvr": nvr, "component": component, "issuer": issuer,
                "id": build_id, "scratch": False}  # fmt: skip

    return {
        "artifact": {
            "type": "koji-build-group",
            "id": "group-7f3a",
            "builds": [
                build(NVR, "alice", 2600001),
                build("glibc-2.41-3.fc44", "bob", None),
                build("bash-completion-2.16-1.fc44", "alice", 2600003),
                build("zlib-ng-2.2.4-1.fc44", None, 2600004),
            ],
            "repository": "f44-build-side-4242",
        },
        "testcase": "relengotron.batch.installability",
        "bisection": {"parent": "group-11aa", "round": 2, "max_rounds": 4, "half": "a"},
        "reply_to": "relengotron.batch.check.result",
        "generated_at": "2026-11-20T10:11:12+00:00",
        "version": "1.0.0",
    }


GOOD = {
    "decision.changed": decision_body,
    "build.promoted": promoted_body,
    "build.quarantined": quarantined_body,
    "batch.check.requested": batch_body,
}
ENTRY_POINTS = {
    "relengotron.decision.changed.v1": DecisionChangedV1,
    "relengotron.build.promoted.v1": BuildPromotedV1,
    "relengotron.build.quarantined.v1": BuildQuarantinedV1,
    "relengotron.batch.check.requested.v1": BatchCheckRequestedV1,
}


def _required(cls: type[RelengotronMessage]) -> list[tuple[type[RelengotronMessage], str]]:
    return [(cls, key) for key in cls.body_schema["required"]]


# ----------------------------------------------------------------- valid bodies and topics
@pytest.mark.parametrize("kind", sorted(GOOD))
def test_good_body_validates_and_lands_on_the_default_topic(kind: str) -> None:
    cls = SCHEMAS[kind]
    msg = cls.create(GOOD[kind]())
    assert type(msg) is cls
    assert msg.topic == f"relengotron.{kind}" == f"relengotron.{cls.TOPIC_SUFFIX}"
    assert msg.body == GOOD[kind]()
    msg.validate()  # the base-class check fedora-messaging runs before sending


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_custom_prefix(kind: str) -> None:
    msg = message_for(kind, GOOD[kind](), prefix="org.example.stg.relengotron")
    assert msg.topic == f"org.example.stg.relengotron.{kind}"
    assert isinstance(msg, SCHEMAS[kind])


@pytest.mark.parametrize("prefix", ["", "a..b", ".a", "a.", "a.#", "a.*.b", "has space", 3])
def test_bad_prefixes_are_refused(prefix: Any) -> None:
    with pytest.raises(ValueError, match="prefix"):
        topic_for("build.promoted", prefix)
    with pytest.raises(ValueError):
        BuildPromotedV1.create(promoted_body(), prefix=prefix)


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValueError) as err:
        message_for("build.exploded", promoted_body(), "relengotron")
    for kind in (
        "decision.changed",
        "build.promoted",
        "build.quarantined",
        "batch.check.requested",
    ):
        assert kind in str(err.value)


def test_schemas_map_suffix_to_class() -> None:
    assert {
        "decision.changed": DecisionChangedV1,
        "build.promoted": BuildPromotedV1,
        "build.quarantined": BuildQuarantinedV1,
        "batch.check.requested": BatchCheckRequestedV1,
    } == SCHEMAS


def test_create_copies_the_body() -> None:
    body = decision_body()
    msg = DecisionChangedV1.create(body)
    body["verdict"] = "promote"
    body["unsatisfied_requirements"][0]["type"] = "changed"
    assert msg.body["verdict"] == "quarantine"
    assert msg.body["unsatisfied_requirements"][0]["type"] == "test-result-failed"


@pytest.mark.parametrize("cls", list(SCHEMAS.values()))
def test_schema_metadata(cls: type[RelengotronMessage]) -> None:
    schema = cls.body_schema
    assert schema["$schema"].startswith("http://json-schema.org/")
    assert schema["id"] and schema["description"]
    assert schema["additionalProperties"] is True  # older consumers accept added fields
    optional = {"reply_to"} if cls is BatchCheckRequestedV1 else set()
    assert set(schema["required"]) == set(schema["properties"]) - optional


# --------------------------------------------------------------------------- rejections
@pytest.mark.parametrize(
    ("cls", "key"),
    [
        *_required(DecisionChangedV1),
        *_required(BuildPromotedV1),
        *_required(BuildQuarantinedV1),
        *_required(BatchCheckRequestedV1),
    ],
)
def test_missing_required_key_is_rejected(cls: type[RelengotronMessage], key: str) -> None:
    body = GOOD[cls.TOPIC_SUFFIX]()
    del body[key]
    with pytest.raises(ValidationError):
        cls.create(body)


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split("/")
    target: Any = body
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return body


BAD = [
    ("decision.changed", "verdict", "maybe"),
    ("decision.changed", "previous_verdict", 3),
    ("decision.changed", "previous_verdict", "promoted"),
    ("decision.changed", "policies_satisfied", "no"),
    ("decision.changed", "subject_identifier", ""),
    ("decision.changed", "satisfied_requirements", {"type": "x"}),
    ("decision.changed", "unsatisfied_requirements/0/type", KeyError),
    ("decision.changed", "unsatisfied_requirements/0/type", 7),
    ("decision.changed", "applicable_policies", "rawhide-gating"),
    ("decision.changed", "decided_at", "last tuesday"),
    ("decision.changed", "decision_id", None),
    ("decision.changed", "owner", 42),
    ("build.promoted", "verdict", "quarantine"),
    ("build.promoted", "task_id", "987654"),
    ("build.promoted", "task_id", True),
    ("build.promoted", "nvr", "bash"),
    ("build.promoted", "to_tag", None),
    ("build.quarantined", "suspect_reason", ""),
    ("build.quarantined", "unsatisfied_requirements", [{"testcase": "t"}]),
    ("build.quarantined", "owner", ""),
    ("batch.check.requested", "artifact/type", "koji-build"),
    ("batch.check.requested", "artifact/builds", []),
    ("batch.check.requested", "artifact/builds/0/scratch", True),
    ("batch.check.requested", "artifact/builds/0/id", "2600001"),
    ("batch.check.requested", "artifact/builds/1/component", KeyError),
    ("batch.check.requested", "artifact/repository", KeyError),
    ("batch.check.requested", "bisection/round", 0),
    ("batch.check.requested", "bisection/round", 5),  # beyond max_rounds
    ("batch.check.requested", "bisection/half", "c"),
    ("batch.check.requested", "bisection/parent", KeyError),
    ("batch.check.requested", "version", "2.0.0"),
    ("batch.check.requested", "generated_at", 1732097472),
    ("batch.check.requested", "testcase", ""),
]


@pytest.mark.parametrize(("kind", "path", "value"), BAD)
def test_wrong_values_are_rejected(kind: str, path: str, value: Any) -> None:
    body = _set(GOOD[kind](), path, value)
    with pytest.raises(ValidationError):
        SCHEMAS[kind].create(body)


def test_producer_refuses_unknown_keys_but_consumers_accept_them() -> None:
    body = promoted_body() | {"ownr": "typo"}
    with pytest.raises(ValidationError, match="ownr"):
        BuildPromotedV1.create(body)
    # a newer producer may add a field: an older consumer must still accept the message
    msg = BuildPromotedV1.create(promoted_body())
    msg.body = {**msg.body, "added_in_a_later_release": {"x": 1}}
    msg.validate()


def test_requirements_keep_greenwave_fields() -> None:
    msg = BuildQuarantinedV1.create(quarantined_body())
    assert msg.body["unsatisfied_requirements"][0]["item"] == {
        "type": "koji_build",
        "identifier": NVR,
    }


def test_optional_and_nullable_fields() -> None:
    body = batch_body()
    del body["reply_to"]
    _set(body, "bisection", {"parent": None, "round": 1, "max_rounds": 1, "half": None})
    _set(body, "artifact/repository", None)
    assert BatchCheckRequestedV1.create(body).body["bisection"]["parent"] is None
    body = decision_body() | {"previous_verdict": None, "decided_at": None, "owner": None}
    assert DecisionChangedV1.create(body).usernames == []


# --------------------------------------------------------------------- what humans see
@pytest.mark.parametrize(
    ("kind", "verdict"),
    [
        ("decision.changed", "quarantine"),
        ("build.promoted", "waived"),
        ("build.quarantined", "quarantine"),
    ],
)
def test_summary_and_str_mention_nvr_and_verdict(kind: str, verdict: str) -> None:
    msg = SCHEMAS[kind].create(GOOD[kind]())
    assert NVR in msg.summary and verdict in msg.summary
    text = str(msg)
    assert NVR in text and verdict in text
    assert len(text.splitlines()) > 5
    assert text.splitlines()[0] == msg.summary


def test_decision_text_details() -> None:
    msg = DecisionChangedV1.create(decision_body())
    assert "hold -> quarantine" in msg.summary
    text = str(msg)
    for fragment in ("fedora-ci.koji-build.tier0.functional", "rawhide-gating", "alice",
                     "decision/0b5c:7", "Policies satisfied: no"):  # fmt: skip
        assert fragment in text


def test_quarantine_text_gives_the_reason() -> None:
    msg = BuildQuarantinedV1.create(quarantined_body())
    assert "failed test fedora-ci.koji-build.tier0.functional" in msg.summary
    assert "f44-quarantine" in msg.summary
    assert "fedora-ci.koji-build.tier0.functional" in str(msg)


def test_batch_text() -> None:
    msg = BatchCheckRequestedV1.create(batch_body())
    assert "relengotron.batch.installability" in msg.summary
    assert "group-7f3a" in msg.summary and "round 2/4" in msg.summary
    assert "half a of group-11aa" in msg.summary
    assert "and 1 more" in msg.summary  # four builds: three shown
    text = str(msg)
    assert "glibc-2.41-3.fc44" in text and "zlib-ng-2.2.4-1.fc44" in text
    assert "f44-build-side-4242" in text


# --------------------------------------------------------- FMN properties and headers
def test_usernames_and_packages() -> None:
    assert DecisionChangedV1.create(decision_body()).usernames == ["alice"]
    assert DecisionChangedV1.create(decision_body()).packages == ["bash"]
    assert BuildPromotedV1.create(promoted_body()).usernames == ["alice"]
    assert BuildPromotedV1.create(promoted_body()).packages == ["bash"]
    assert BuildQuarantinedV1.create(quarantined_body()).usernames == ["alice"]
    assert BuildQuarantinedV1.create(quarantined_body()).packages == ["bash"]
    batch = BatchCheckRequestedV1.create(batch_body())
    assert batch.packages == ["bash", "glibc", "bash-completion", "zlib-ng"]
    assert batch.usernames == ["alice", "bob"]


def test_null_owner_notifies_nobody() -> None:
    for cls, body in ((BuildQuarantinedV1, quarantined_body()), (BuildPromotedV1, promoted_body())):
        msg = cls.create(body | {"owner": None})
        assert msg.usernames == []
        assert not any(h.startswith("fedora_messaging_user_") for h in msg._headers)


def test_non_build_subject_has_no_package_or_url() -> None:
    body = decision_body() | {"subject_type": "bodhi_update", "subject_identifier": "FEDORA-2026-1"}
    msg = DecisionChangedV1.create(body)
    assert msg.packages == [] and msg.url is None
    assert msg.usernames == ["alice"]


def test_urls_point_at_the_build() -> None:
    for cls in (DecisionChangedV1, BuildPromotedV1, BuildQuarantinedV1):
        url = cls.create(GOOD[cls.TOPIC_SUFFIX]()).url
        assert url is not None and url.startswith("https://koji.fedoraproject.org/")
        assert NVR in url
    assert BatchCheckRequestedV1.create(batch_body()).url is None


def test_app_and_agent() -> None:
    for kind, body in GOOD.items():
        msg = SCHEMAS[kind].create(body())
        assert msg.app_name == "relengotron" and msg.agent_name == "relengotron"


def test_severity_and_filter_headers() -> None:
    assert DecisionChangedV1.create(decision_body()).severity == fm.WARNING
    hold = DecisionChangedV1.create(decision_body() | {"verdict": "hold"})
    assert hold.severity == fm.INFO
    assert hold._headers["fedora_messaging_severity"] == fm.INFO
    assert BuildPromotedV1.create(promoted_body()).severity == fm.INFO
    quarantined = BuildQuarantinedV1.create(quarantined_body())
    assert quarantined.severity == fm.WARNING
    assert quarantined._headers["fedora_messaging_user_alice"] is True
    assert quarantined._headers["fedora_messaging_rpm_bash"] is True
    assert BatchCheckRequestedV1.create(batch_body()).severity == fm.DEBUG


def test_package_from_nvr() -> None:
    assert package_from_nvr("bash-completion-2.16-1.fc44") == "bash-completion"
    assert package_from_nvr("bash") == "bash"


def test_iso_now_matches_the_schema_pattern() -> None:
    body = batch_body() | {"generated_at": schemas.iso_now()}
    BatchCheckRequestedV1.create(body)


# --------------------------------------------------------- registry and round trips
@pytest.mark.parametrize(("name", "cls"), sorted(ENTRY_POINTS.items()))
def test_entry_points_resolve(name: str, cls: type[RelengotronMessage]) -> None:
    assert fm.get_class(name) is cls
    assert fm.get_name(cls) == name
    msg = cls.create(GOOD[cls.TOPIC_SUFFIX]())
    assert msg._headers["fedora_messaging_schema"] == name


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_round_trip_through_dumps_and_loads(kind: str) -> None:
    msg = message_for(kind, GOOD[kind](), "relengotron")
    [back] = fm.loads(fm.dumps(msg))
    assert type(back) is SCHEMAS[kind]
    assert back.body == msg.body and back.id == msg.id and back.topic == msg.topic
    assert back.severity == msg.severity
    assert back == msg


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_round_trip_through_get_message(kind: str) -> None:
    msg = message_for(kind, GOOD[kind](), "org.example.relengotron")
    props = copy.deepcopy(msg._properties)
    back = fm.get_message(msg.topic, props, msg._encoded_body)
    assert type(back) is SCHEMAS[kind]
    assert back.body == msg.body and back.id == msg.id
    assert back.summary == msg.summary and back.usernames == msg.usernames


def test_get_message_rejects_an_invalid_body() -> None:
    msg = BuildPromotedV1.create(promoted_body())
    props = copy.deepcopy(msg._properties)
    with pytest.raises(ValidationError):
        fm.get_message(msg.topic, props, b'{"nvr": "bash-1-1"}')
