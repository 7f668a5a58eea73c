"""Fedora CI messages checked against the spec's JSON Schema (issue 15, deviation 9).

The spec (https://pagure.io/fedora-ci/messages, README: "messages that do not validate
are not processed"; fedora-ci/kaijs ``validation_ajv.ts`` picks the schema by the
message's ``version`` and the topic's ``<artifact>.<event>.<state>``) is what these
tests hold the shipped schemas and the translator to.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.translate import Envelope, translate
from relengotron.adapters.translate.base import strip_prefix
from relengotron.adapters.translate.ci_validate import _validator, line_of, validate
from relengotron.domain.facts import INVALID, PASSED
from relengotron.domain.facts import TestResultReported as ResultFact
from relengotron.domain.message import INVALID as INVALID_STATUS
from tests import corpus

SDIST = "spec_examples/ci-messages_sdist_examples.jsonl"
TOPIC = "org.fedoraproject.prod.ci.koji-build.test.complete"
# The resultsdb-updater test fixtures (Red Hat UMB, same spec) that are not valid, and why
# (they test resultsdb-updater's tolerance, not the spec).
KNOWN_INVALID = {
    "compose_message_v2.json": ["'pipeline' is a required property", "'docs' is a required"],
    "fedora-ci-message-no-test.json": ["'contact' is a required", "'test' is a required"],
    "product-scenario.test.complete.json": ["'pipeline' is a required property"],
}


def _parts(topic: str) -> list[str]:
    return strip_prefix(topic).split(".")


def _body(record: dict[str, Any]) -> Any:
    body = record["body"]
    body = json.loads(body) if isinstance(body, str) else body
    if isinstance(body, dict) and "artifact" not in body and isinstance(body.get("msg"), dict):
        body = body["msg"]
    return body


def _spec_records(corpus_dir: Path) -> list[dict[str, Any]]:
    """Every CI *spec* message of the corpus (``ci.[ns.]<artifact>.<event>.<state>``; the
    legacy ``ci.pipeline``/``allpackages`` topics are not the spec)."""
    out = []
    for r in corpus.records(corpus_dir, "real/*.jsonl", "spec_examples/*.jsonl"):
        parts = _parts(r["topic"])
        if (
            len(parts) >= 4
            and parts[0] == "ci"
            and parts[-1] in ("queued", "running", "complete", "error")
            and "pipeline" not in parts
            and not any(p.startswith("allpackages") for p in parts)
        ):
            out.append(r)
    return out


def _koji_build_body(corpus_dir: Path) -> dict[str, Any]:
    """A valid koji-build test.complete: the Fedora CI Jenkins template, filled in."""
    path = corpus_dir / "schemas/fedora-ci-jenkins-message-templates"
    body = json.loads((path / "koji-build.test.complete-template.json").read_text())
    body["artifact"].update(
        type="koji-build", id=45678901, issuer="packager", component="bash",
        nvr="bash-5.2.26-3.fc40", scratch=False,
    )  # fmt: skip
    body["pipeline"].update(id="fedora-ci-rpminspect-45678901", name="rpminspect")
    body["run"].update(url="https://jenkins.example.org/job/12/", log="https://j/12/console")
    body["test"].update(
        namespace="fedora-ci.koji-build", type="tier0", category="functional", result="passed"
    )
    body["contact"].update(name="Fedora CI", team="Fedora CI", docs="https://docs.example.org")
    body["generated_at"] = "2024-05-01T10:00:00Z"
    body["version"] = "1.1.14"
    return body


# ---------------------------------------------------------------- the examples


def test_every_spec_example_validates(corpus_dir: Path) -> None:
    records = list(corpus.records(corpus_dir, SDIST))
    assert len(records) == 5
    for r in records:
        artifact, event, state = _parts(r["topic"])[-3:]
        assert validate(_body(r), artifact, event, state).errors == (), r["topic"]


def test_the_corpus_validates_but_for_known_fixtures(corpus_dir: Path) -> None:
    """Every CI spec message of the corpus is checked against the line of the version it
    claims (0.1.x and 0.2.x/1.x). 21 of 24 validate: the real captures have none (only
    the legacy CentOS pipeline, another translator); 3 resultsdb-updater fixtures do
    not, for the reasons listed."""
    records = _spec_records(corpus_dir)
    assert not [r for r in records if r["source"].split(":")[1].startswith("real")]
    invalid: dict[str, tuple[str, ...]] = {}
    for r in records:
        artifact, event, state = _parts(r["topic"])[-3:]
        errors = validate(_body(r), artifact, event, state).errors
        if errors:
            invalid[r["source"].split("/")[-1].split("@")[0]] = errors
    assert (len(records), len(records) - len(invalid)) == (24, 21)
    assert set(invalid) == set(KNOWN_INVALID)
    for name, expected in KNOWN_INVALID.items():
        for fragment in expected:
            assert any(fragment in e for e in invalid[name]), (name, fragment, invalid[name])


def test_the_filled_jenkins_template_validates(corpus_dir: Path) -> None:
    assert validate(_koji_build_body(corpus_dir), "koji-build", "test", "complete").valid


# ---------------------------------------------------------------- the message


def test_an_invalid_test_complete_is_no_pass(corpus_dir: Path) -> None:
    """The issue's message: no contact, run, pipeline, and a version that is not semver.
    It used to count as PASSED (and promoted the build)."""
    body = _koji_build_body(corpus_dir)
    for key in ("contact", "run", "pipeline"):
        del body[key]
    body["version"] = "latest"
    envelope = Envelope(topic=TOPIC, body=body, msg_id="bad-1")
    t = translate(envelope)
    assert (t.family, t.invalid) == ("ci", True)
    for fragment in (
        "'contact' is a required property",
        "'run' is a required property",
        "'pipeline' is a required property",
        "version: 'latest' is not a semantic version",
    ):
        assert any(fragment in p for p in t.problems), (fragment, t.problems)
    (fact,) = t.facts
    assert isinstance(fact, ResultFact)
    assert fact.outcome == INVALID and fact.outcome != PASSED
    assert fact.data["claimed_outcome"] == PASSED
    assert fact.note is not None and fact.note.startswith(
        "invalid CI message (koji-build.test.complete (0.2.x/1.x)): "
    )
    assert fact.suspect_nvrs == ()
    # Recorded with its errors: status invalid, the errors as the message's problems.
    incoming = to_incoming(envelope)
    assert incoming.status == INVALID_STATUS
    assert incoming.problems == t.problems


@pytest.mark.parametrize("state", ["queued", "running", "error"])
def test_every_test_state_is_validated(corpus_dir: Path, state: str) -> None:
    body = _koji_build_body(corpus_dir)
    del body["test"]["result"]
    body["error"] = {"reason": "infra"}
    topic = TOPIC.replace("complete", state)
    assert not translate(Envelope(topic=topic, body=body)).invalid
    del body["contact"]
    t = translate(Envelope(topic=topic, body=body))
    assert t.invalid and t.facts[0].outcome == INVALID  # type: ignore[attr-defined]


def test_other_events_are_validated_and_still_give_no_result(corpus_dir: Path) -> None:
    (record,) = [
        r for r in corpus.records(corpus_dir, SDIST) if r["topic"].endswith("build.complete")
    ]
    good = translate(corpus.envelope(record))
    assert (good.invalid, good.facts, good.problems) == (False, (), ())
    body = copy.deepcopy(_body(record))
    del body["contact"]
    bad = translate(Envelope(topic=record["topic"], body=body))
    assert (bad.invalid, bad.facts) == (True, ())
    assert bad.problems == (
        "schema uncontrolled-build.build.complete (0.2.x/1.x): 'contact' is a required property",
    )
    assert to_incoming(Envelope(topic=record["topic"], body=body)).status == INVALID_STATUS


# ---------------------------------------------------------------- versions


def test_the_schema_is_the_claimed_versions(corpus_dir: Path) -> None:
    assert [line_of(v) for v in ("0.1.0", "0.2.1", "1.1.14", "1.0.0-rc.1")] == [
        "v0_1", "v1", "v1", "v1",
    ]  # fmt: skip
    assert [line_of(v) for v in ("0.0.9", "2.0.0", "10.1.0")] == [None, None, None]
    body = _koji_build_body(corpus_dir)
    # A 1.x body claiming 0.1.0 is checked as 0.1 (where the test is at the top level).
    old = validate({**body, "version": "0.1.0"}, "koji-build", "test", "complete")
    assert not old.valid and "(0.1.x)" in old.schema
    assert any("'ci' is a required property" in e for e in old.errors)
    future = validate({**body, "version": "2.0.0"}, "koji-build", "test", "complete")
    assert future.messages == ("version '2.0.0': no schema for this spec version",)
    missing = validate({k: v for k, v in body.items() if k != "version"}, "koji-build", "test",
                       "complete")  # fmt: skip
    assert any("'version' is a required property" in e for e in missing.errors)


def test_legacy_0_1_messages_validate_as_0_1(corpus_dir: Path) -> None:
    records = [
        r
        for r in corpus.records(corpus_dir, "spec_examples/*.jsonl")
        if isinstance(_body(r), dict) and _body(r).get("version") == "0.1.0"
    ]
    assert len(records) == 10
    for r in records:
        artifact, event, state = _parts(r["topic"])[-3:]
        v = validate(_body(r), artifact, event, state)
        assert v.valid and "(0.1.x)" in v.schema, (r["source"], v.errors)


# ---------------------------------------------------------------- cost


def test_validators_are_compiled_once_and_refs_resolve_locally(corpus_dir: Path) -> None:
    """Every event/state/artifact combination compiles with the shipped files alone (an
    unresolvable $ref would raise), and the hot path reuses the compiled validators."""
    for artifact in ("koji-build", "koji-build-group", "fedora-update", "productmd-compose",
                     "pull-request", "redhat-module", "container-image"):  # fmt: skip
        for event in ("test", "build", "promote"):
            for state in ("queued", "running", "complete", "error"):
                for version in ("1.1.14", "0.1.0"):
                    assert not validate({"version": version}, artifact, event, state).valid
    body = _koji_build_body(corpus_dir)
    before = _validator.cache_info()
    for _ in range(50):
        assert validate(body, "koji-build", "test", "complete").valid
    after = _validator.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 50


# ---------------------------------------------------------------- the two validators agree


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutated(body: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    body = copy.deepcopy(body)
    if not path:
        return value
    parent = body
    for p in path[:-1]:
        parent = parent[p]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return body


_VALUES = [None, 0, -1, 7, 1.5, "", "x", "passed", "1.1.14", "v1", True, False, [], {}, ["a"]]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(data=st.data())
def test_fastjsonschema_and_jsonschema_agree(corpus_dir: Path, data: Any) -> None:
    """The generated code decides valid/invalid; jsonschema lists the errors. On any
    mutation of real messages (a field deleted or given another JSON value), both say
    the same (a disagreement would either hide errors or let an invalid body pass)."""
    import fastjsonschema

    bodies = [(_parts(r["topic"])[-3:], _body(r)) for r in corpus.records(corpus_dir, SDIST)]
    bodies.append((["koji-build", "test", "complete"], _koji_build_body(corpus_dir)))
    (artifact, event, state), body = data.draw(st.sampled_from(bodies))
    path = data.draw(st.sampled_from(_paths(body)))
    value = data.draw(st.sampled_from(_VALUES))
    body = _mutated(body, path, value, data.draw(st.booleans()))
    line = line_of(body.get("version") if isinstance(body, dict) else None)
    if line is None:
        return
    from relengotron.adapters.translate.ci_validate import _ARTIFACTS, _shape

    kind = _ARTIFACTS.get(artifact, "other") if line == "v1" else None
    fast, slow = _validator(line, _shape(line, event, state), kind)
    try:
        fast(body)
        fast_valid = True
    except fastjsonschema.JsonSchemaException:
        fast_valid = False
    assert fast_valid == slow.is_valid(body), (path, value, body)
