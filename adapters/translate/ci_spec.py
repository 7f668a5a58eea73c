"""Fedora CI Messages spec (``ci.[<namespace>.]<artifact>.<event>.<state>``) -> results.

Only ``test`` events are results; ``build`` and ``promote`` (and any other event) are
recognized as CI and ignored. Two body generations are read:

* 0.2.x / 1.x: ``test{namespace, type, category, result, scenario, note}``,
  ``artifact{...}``, ``pipeline{id, name}``, ``run{url}``, ``contact{}``, ``error{reason}``;
* 0.1.x: ``namespace``, ``type``, ``category``, ``status``, ``reason`` at the top level
  and ``ci{}`` instead of ``contact{}``.

The testcase is Greenwave's ``<namespace>.<type>.<category>``. Red Hat UMB topics
(``VirtualTopic.eng.ci.brew-build...``) use the same spec; ``brew-*`` are Koji aliases.

Every message is validated against the spec's JSON Schema for its topic and claimed
version (``ci_validate``). The spec says an invalid message is not processed: it gives
no result. Its schema errors are the message's problems (status ``invalid``), and a test
message that still names a subject and a test case is recorded as an ``INVALID`` result
(the claimed outcome kept in ``data``), which satisfies nothing and outweighs no valid
result: the policy engine only uses it to say why a requirement has no result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from relengotron.adapters.translate.base import (
    Envelope,
    Translation,
    as_str,
    change_from_scm_url,
    split_nvr,
)
from relengotron.adapters.translate.ci_legacy import (
    body_topic_of,
    dist_git_pr_identifier,
    is_legacy_suffix,
    load_body,
)
from relengotron.adapters.translate.ci_validate import validate
from relengotron.domain.facts import (
    BODHI_UPDATE,
    COMPOSE,
    DIST_GIT_PR,
    ERROR,
    FAILED,
    INFO,
    INVALID,
    KOJI_BUILD,
    KOJI_BUILD_GROUP,
    KOJI_BUILD_SCRATCH,
    NEEDS_INSPECTION,
    NOT_APPLICABLE,
    PASSED,
    QUEUED,
    RUNNING,
    ChangeKey,
    TestResultReported,
)

ORIGIN = "ci-messages"

_STATES = {"queued": QUEUED, "running": RUNNING, "error": ERROR, "complete": None}

# ``test.result`` (0.2+/1.x) or ``status`` (0.1) of a complete message, lower-cased.
# The spec allows the first five; "pass"/"fail"/"failure"/"success" occur in the wild
# (resultsdb-updater maps them the same way).
_RESULTS = {
    "passed": PASSED,
    "failed": FAILED,
    "info": INFO,
    "needs_inspection": NEEDS_INSPECTION,
    "not_applicable": NOT_APPLICABLE,
    "pass": PASSED,
    "success": PASSED,
    "fail": FAILED,
    "failure": FAILED,
    "error": ERROR,
}

# Artifact type aliases: Red Hat's brew-* are the same schemas as koji-*; the dist-git
# pull-request artifact has been called pull-request, dist-git-pr and fedora-dist-git.
_ALIASES = {
    "brew-build": "koji-build",
    "brew-build-group": "koji-build-group",
    "dist-git-pr": "pull-request",
    "fedora-dist-git": "pull-request",
}

_NOT_PASSING = frozenset({FAILED, NEEDS_INSPECTION, ERROR})
_HEX = re.compile(r"^[0-9a-fA-F]{7,64}$")


def _split(suffix: str) -> tuple[str | None, str, str, str] | None:
    """``ci.osci.koji-build.test.complete`` -> ``("osci", "koji-build", "test", "complete")``."""
    parts = suffix.split(".")
    if len(parts) < 4 or parts[0] != "ci" or parts[-1] not in _STATES:
        return None
    namespace = ".".join(parts[1:-3]) or None
    return namespace, parts[-3], parts[-2], parts[-1]


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    if is_legacy_suffix(suffix):
        return None  # ci.pipeline.* and allpackages: ci_legacy
    split = _split(suffix)
    if split is None:
        return None
    topic_namespace, topic_artifact, event, state = split

    outer = load_body(envelope.body)
    if outer is None:
        return Translation(
            family="ci",
            problems=(f"body is not a JSON object ({type(envelope.body).__name__})",),
            invalid=True,
        )
    body = outer
    # A datagrepper/STOMP record stored whole: the real body is under ``msg``.
    if "artifact" not in body and isinstance(body.get("msg"), Mapping):
        body = load_body(body["msg"]) or body
    body_topic = body_topic_of(outer, envelope.topic)
    validation = validate(body, topic_artifact, event, state)
    schema_errors = validation.errors
    if event != "test":
        return Translation(
            family="ci",
            ignored=f"{event} events are not test results",
            problems=schema_errors,
            body_topic=body_topic,
            invalid=bool(schema_errors),
        )

    problems: list[str] = list(schema_errors)
    invalid = bool(schema_errors)
    test = body.get("test")
    # 0.2+/1.x keep the test description under ``test``; 0.1 at the top level.
    source: Mapping[str, Any] = test if isinstance(test, Mapping) else body
    names = {k: as_str(source.get(k)) for k in ("namespace", "type", "category")}
    if not all(names.values()):
        missing = "/".join(k for k, v in names.items() if not v)
        problems.append(f"no testcase: test {missing} missing")
        return Translation(
            family="ci", problems=tuple(problems), body_topic=body_topic, invalid=invalid
        )
    testcase = ".".join(n for n in names.values() if n)

    claimed = _STATES[state] or _result(source, body, problems)
    # Not processed (the spec): no result, but kept and said why (see the docstring).
    outcome = INVALID if invalid else claimed

    artifact = body.get("artifact")
    if not isinstance(artifact, Mapping):
        problems.append("no artifact: cannot tell the subject")
        return Translation(
            family="ci", problems=tuple(problems), body_topic=body_topic, invalid=invalid
        )
    artifact_type = as_str(artifact.get("type")) or topic_artifact
    kind = _ALIASES.get(artifact_type, artifact_type)
    subject = _subject(kind, artifact, problems)
    if subject is None:
        return Translation(
            family="ci", problems=tuple(problems), body_topic=body_topic, invalid=invalid
        )
    subject_type, identifier, nvr, covered, change = subject

    error = _section(body, "error")
    reason = as_str(error.get("reason")) or as_str(body.get("reason"))  # 0.1: top level
    test_note = as_str(source.get("note"))
    # An error message's reason says why there is no result; prefer it there.
    note = (reason or test_note) if state == "error" else (test_note or reason)
    pipeline = _section(body, "pipeline")
    run = _section(body, "run")
    thread_id = as_str(body.get("thread_id"))

    system = body.get("system")
    first_system = system[0] if isinstance(system, list) and system else system
    first_system = first_system if isinstance(first_system, Mapping) else {}
    data: dict[str, str] = {}
    if invalid:
        data["claimed_outcome"] = claimed
        if note:
            data["claimed_note"] = note
        note = validation.summary()
    for key, value in (
        # The tested system, as ResultsDB keeps it for CI messages: Greenwave answers
        # each architecture and variant apart (``DISTINCT_LATEST_RESULTS_ON``).
        ("system_architecture", first_system.get("architecture")),
        ("system_variant", first_system.get("variant")),
        ("version", body.get("version")),
        ("pipeline_name", pipeline.get("name")),
        ("thread_id", thread_id),
        ("artifact_type", artifact_type),
        ("artifact_id", artifact.get("id")),
        ("topic_namespace", topic_namespace),
        ("run_log", run.get("log")),
    ):
        text = as_str(value)
        if text is not None:
            data[key] = text

    fact = TestResultReported(
        subject_type=subject_type,
        subject_identifier=identifier,
        testcase=testcase,
        outcome=outcome,
        origin=ORIGIN,
        scenario=as_str(source.get("scenario")),
        result_id=None,  # only ResultsDB assigns result ids
        ref_url=as_str(run.get("url")),
        note=note,
        nvr=nvr,
        change=change,
        pipeline_id=as_str(pipeline.get("id")) or thread_id,
        covered_nvrs=covered,
        suspect_nvrs=_suspects(source, artifact) if outcome in _NOT_PASSING else (),
        data=data,
    )
    return Translation(
        family="ci",
        facts=(fact,),
        problems=tuple(problems),
        body_topic=body_topic,
        invalid=invalid,
    )


def _result(source: Mapping[str, Any], body: Mapping[str, Any], problems: list[str]) -> str:
    raw = as_str(source.get("result")) or as_str(body.get("status"))
    outcome = _RESULTS.get((raw or "").lower())
    if outcome is None:
        problems.append(f"unknown test result {raw!r} on a complete message")
        return NEEDS_INSPECTION
    return outcome


def _section(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def _nvrs(items: Any) -> tuple[str, ...]:
    """NVRs from ``[{"nvr": ...}, ...]`` or ``["nvr", ...]``."""
    if not isinstance(items, list):
        return ()
    found = []
    for item in items:
        nvr = as_str(item.get("nvr")) if isinstance(item, Mapping) else as_str(item)
        if nvr:
            found.append(nvr)
    return tuple(found)


def _suspects(test: Mapping[str, Any], artifact: Mapping[str, Any]) -> tuple[str, ...]:
    """Culprit builds a failing result names. The spec has no field for this; accept
    ``suspects``/``culprits`` lists under ``test`` or ``artifact``."""
    for holder in (test, artifact):
        for key in ("suspects", "culprits"):
            nvrs = _nvrs(holder.get(key))
            if nvrs:
                return nvrs
    return ()


_Subject = tuple[str, str, str | None, tuple[str, ...], ChangeKey | None]


def _subject(kind: str, artifact: Mapping[str, Any], problems: list[str]) -> _Subject | None:
    """(subject_type, identifier, nvr, covered_nvrs, change) for an artifact."""
    change = change_from_scm_url(as_str(artifact.get("source")))
    art_id = as_str(artifact.get("id"))
    nvr = as_str(artifact.get("nvr"))

    if kind == "koji-build":
        if not nvr:
            problems.append(f"{kind} artifact has no nvr")
            return None
        if _truthy(artifact.get("scratch")):
            # A scratch NVR can equal a real build's: do not link the result to it.
            return KOJI_BUILD_SCRATCH, nvr, None, (), change
        return KOJI_BUILD, nvr, nvr, (), change
    if kind == "koji-build-group":
        if not art_id:
            problems.append(f"{kind} artifact has no id")
            return None
        return KOJI_BUILD_GROUP, art_id, None, _nvrs(artifact.get("builds")), None
    if kind == "fedora-update":
        # ``alias`` is the Bodhi update (FEDORA-2019-...); openQA sends a hash as ``id``.
        alias = as_str(artifact.get("alias")) or art_id
        if not alias:
            problems.append(f"{kind} artifact has neither alias nor id")
            return None
        return BODHI_UPDATE, alias, None, _nvrs(artifact.get("builds")), None
    if kind == "productmd-compose":
        if not art_id:
            problems.append(f"{kind} artifact has no id")
            return None
        return COMPOSE, art_id, None, (), None
    if kind == "pull-request":
        return _pull_request(artifact, problems)

    # Any other artifact type (redhat-module, container-image, redhat-advisory,
    # uncontrolled-build, ...): the spec's type name is the subject type, identified by
    # its NVR, module NSVC, id, or component-version, whichever it has first.
    component, version = as_str(artifact.get("component")), as_str(artifact.get("version"))
    identifier = (
        nvr
        or as_str(artifact.get("nsvc"))
        or art_id
        or (f"{component}-{version}" if component and version else None)
    )
    if not identifier:
        problems.append(f"{kind} artifact has no nvr, nsvc or id")
        return None
    linked = nvr if nvr and split_nvr(nvr) and not _truthy(artifact.get("scratch")) else None
    return kind, identifier, linked, (), change


def _pull_request(artifact: Mapping[str, Any], problems: list[str]) -> _Subject | None:
    """``repository`` ``https://src.fedoraproject.org/rpms/calc`` + ``id`` 1 ->
    ``rpms/calc/pull-request/1``, the same spelling ``ci_legacy`` gives ``PR-1``;
    the Pagure ``uid`` when the repository cannot be read."""
    path = urlsplit(as_str(artifact.get("repository")) or "").path.strip("/")
    path = path.removesuffix(".git")
    parts = [p for p in path.split("/") if p]
    number = as_str(artifact.get("id"))
    commit = as_str(artifact.get("commit_hash"))
    if len(parts) >= 2 and number:
        namespace, repo = parts[-2], parts[-1]
        change = (
            ChangeKey(namespace, repo, commit.lower()) if commit and _HEX.match(commit) else None
        )
        return DIST_GIT_PR, dist_git_pr_identifier(namespace, repo, number), None, (), change
    uid = as_str(artifact.get("uid"))
    if uid:
        return DIST_GIT_PR, uid, None, (), None
    problems.append("pull-request artifact has neither repository+id nor uid")
    return None
