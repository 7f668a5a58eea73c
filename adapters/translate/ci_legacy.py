"""Legacy CentOS CI pipeline messages (2017-2019) -> :class:`TestResultReported`.

Topics (bus prefix ``org.centos.prod`` / ``org.centos.stage`` already stripped)::

    ci.pipeline.[<stage>.]<state>                   Fedora Atomic Host "ci-pipeline"
    ci.pipeline.<pipeline>.[<stage>.]<state>        allpackages, allpackages-build,
                                                    allpackages-pr, container-pr, ...
    allpackages.pipeline.[<stage>.]<state>          early all-packages pipeline
    ci.allpackages.pipeline.[<stage>.]<state>       (both spellings were published)

``<stage>`` is e.g. ``package``, ``package.test.functional``, ``compose.test.integration``,
``image.test.smoke``, ``container.test.functional``; without one the message is about the
whole pipeline run (stage ``"pipeline"``). ``<state>`` is queued, running, complete, ignore,
ignored or error.

The ``compose`` and ``image`` stages are also artifact builds (an OSTree compose, a qcow2
image): their running, complete and error messages add a :class:`ComposeStatusChanged`
(``compose.legacy_pipeline_status``) to the stage result.

The bodies are flat Jenkins parameter dumps (``build_url``, ``repo``, ``rev``, ``status``,
...). Their own ``topic`` field is not reliable (seed 004: the docs and the bus disagree),
so the envelope topic decides; a differing body topic is kept in ``body_topic``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from relengotron.adapters.translate.base import Envelope, Translation, as_str, split_nvr
from relengotron.adapters.translate.compose import legacy_pipeline_status
from relengotron.domain.facts import (
    DIST_GIT_COMMIT,
    DIST_GIT_PR,
    ERROR,
    FAILED,
    KOJI_BUILD,
    KOJI_BUILD_SCRATCH,
    NEEDS_INSPECTION,
    NOT_APPLICABLE,
    PASSED,
    QUEUED,
    RUNNING,
    ChangeKey,
    Fact,
    TestResultReported,
)

ORIGIN = "ci-pipeline"

# Topic state -> outcome; "complete" is decided by the body's ``status``.
_STATE_OUTCOMES: dict[str, str | None] = {
    "queued": QUEUED,
    "running": RUNNING,
    "error": ERROR,
    "ignore": NOT_APPLICABLE,
    "ignored": NOT_APPLICABLE,
    "complete": None,
}

# Jenkins build results (``status``) of a complete stage. The pipeline docs list
# SUCCESS/FAILURE/UNSTABLE/ABORTED; real bodies also carry "success", "FAILED",
# "FAILEd", and CI_STATUS "passed"/"failed", so the lookup is case-insensitive
# and accepts those spellings.
_STATUS_OUTCOMES = {
    "SUCCESS": PASSED,
    "PASSED": PASSED,
    "PASS": PASSED,
    "FAILURE": FAILED,
    "FAILED": FAILED,
    "FAIL": FAILED,
    "UNSTABLE": NEEDS_INSPECTION,  # "some tests did not pass and should be analyzed"
    "ABORTED": ERROR,
}

# First word of a stage. ``ci.pipeline.<word>...`` with any other word (and something
# after it) names a pipeline variant, e.g. ``ci.pipeline.allpackages-pr.package.queued``.
_STAGE_HEADS = frozenset({"package", "compose", "image", "container", "test"})

_GIT_REV = re.compile(r"^[0-9a-f]{7,64}$")
_KOJI_TASK = re.compile(r"^kojitask-(\d+)$")  # allpackages-build: triggered by a koji build
_PR_REV = re.compile(r"^PR-(\d+)$")  # allpackages-pr: Jenkins multibranch PR name
# NVRs the CI built itself, not koji builds: ``mesa-17.1.5-1.816.35fdde9.fc26.2.src``
# (build number + short rev spliced into the release, ``.src``) and PR scratch builds
# ``calc-2.12.6.7-2.fc29.pr.ef8cadbd...``.
_LOCAL_NVR = re.compile(r"\.src$|\.\d+\.[0-9a-f]{7}\.|\.pr\.[0-9a-f]+$")
_JENKINS_RUN = re.compile(r"/(?:detail|job)/([^/]+)/(\d+)(?:/|$)")

# Body fields copied into ``data`` (as strings, empty markers skipped).
_DATA_KEYS = {
    "branch": "branch",
    "ref": "ref",
    "CI_NAME": "CI_NAME",
    "CI_STATUS": "CI_STATUS",
    "compose_rev": "compose_rev",
    "compose_url": "compose_url",
    "image_name": "image_name",
    "image_url": "image_url",
    "type": "image_type",
    "original_spec_nvr": "original_spec_nvr",
    "nvr": "nvr",
    "package_url": "package_url",
    "comment_id": "comment_id",
    "username": "username",
}


def split_legacy_suffix(suffix: str) -> tuple[str, list[str]] | None:
    """``ci.pipeline.allpackages-pr.package.queued`` -> ``("allpackages-pr", ["package",
    "queued"])``; None when the topic is not a legacy pipeline topic."""
    parts = suffix.split(".")
    if parts[:2] == ["ci", "pipeline"]:
        rest = parts[2:]
        if len(rest) >= 2 and rest[0] not in _STAGE_HEADS:
            return rest[0], rest[1:]
        return "ci-pipeline", rest
    if parts[:2] == ["allpackages", "pipeline"]:
        return "allpackages", parts[2:]
    if parts[:3] == ["ci", "allpackages", "pipeline"]:
        return "allpackages", parts[3:]
    return None


def is_legacy_suffix(suffix: str) -> bool:
    return split_legacy_suffix(suffix) is not None


def dist_git_pr_identifier(namespace: str, repo: str, number: Any) -> str:
    """The one spelling of a dist-git pull request, shared with ``ci_spec``:
    ``rpms/calc/pull-request/1`` (the Pagure URL path)."""
    return f"{namespace}/{repo}/pull-request/{number}"


def load_body(raw: Any) -> dict[str, Any] | None:
    """The body as a dict with stripped keys; JSON text is parsed. None if not an object.

    Some captured bodies have keys with trailing blanks (``"compose_rev "``); a
    ``msgJson`` string (a JSON dump of the same properties) fills in missing keys.
    """
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, Mapping):
        return None
    body = {str(k).strip(): v for k, v in raw.items()}
    extra = body.get("msgJson")
    if isinstance(extra, str):
        try:
            parsed = json.loads(extra)
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping):
            for k, v in parsed.items():
                body.setdefault(str(k).strip(), v)
    return body


def body_topic_of(body: Mapping[str, Any] | None, topic: str) -> str | None:
    """The topic the body claims (``topic`` or ``ci_topic``), when it differs."""
    if body is None:
        return None
    claimed = as_str(body.get("topic")) or as_str(body.get("ci_topic"))
    if claimed and claimed.removeprefix("/topic/") != topic:
        return claimed
    return None


@dataclass(frozen=True)
class _Subject:
    type: str
    identifier: str
    nvr: str | None
    change: ChangeKey | None


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    split = split_legacy_suffix(suffix)
    if split is None:
        return None
    pipeline, rest = split
    topic = envelope.topic
    body = load_body(envelope.body)
    body_topic = body_topic_of(body, topic)

    if not rest or rest[-1] not in _STATE_OUTCOMES:
        state_word = rest[-1] if rest else ""
        return Translation(
            family="ci",
            problems=(f"unknown legacy CI pipeline state {state_word!r} in {topic}",),
            body_topic=body_topic,
        )
    state = rest[-1]
    stage = ".".join(rest[:-1]) or "pipeline"
    if body is None:
        return Translation(
            family="ci",
            problems=(f"body is not a JSON object ({type(envelope.body).__name__})",),
        )

    problems: list[str] = []
    outcome = _STATE_OUTCOMES[state] or _complete_outcome(body, problems)
    build_url = as_str(body.get("build_url"))
    pipeline_id = _pipeline_id(body, build_url)
    built, build_problem = legacy_pipeline_status(stage, state, body, pipeline_id)
    extra: tuple[Fact, ...] = (built,) if built is not None else ()
    if build_problem is not None:
        problems.append(build_problem)
    subject = _subject(pipeline, body, problems)
    if subject is None:
        return Translation(
            family="ci", facts=extra, problems=tuple(problems), body_topic=body_topic
        )

    # Greenwave's legacy testcase is the topic of the stage's ``complete`` message, so
    # queued/running/complete of one stage share it. Keep the envelope's own prefix.
    if topic.endswith("." + state):
        testcase = topic[: -len(state)] + "complete"
    else:
        testcase = suffix[: -len(state)] + "complete"

    data = {"pipeline": pipeline}
    for key, name in _DATA_KEYS.items():
        value = as_str(body.get(key))
        if value is not None:
            data[name] = value
    status = as_str(body.get("status"))
    if status is not None:
        data["status"] = status

    fact = TestResultReported(
        subject_type=subject.type,
        subject_identifier=subject.identifier,
        testcase=testcase,
        outcome=outcome,
        origin=ORIGIN,
        ref_url=build_url,
        nvr=subject.nvr,
        change=subject.change,
        stage=stage,
        pipeline_id=pipeline_id,
        data=data,
    )
    return Translation(
        family="ci", facts=(fact, *extra), problems=tuple(problems), body_topic=body_topic
    )


def _complete_outcome(body: Mapping[str, Any], problems: list[str]) -> str:
    status = as_str(body.get("status"))
    ci_status = as_str(body.get("CI_STATUS"))
    outcome = _STATUS_OUTCOMES.get((status or "").upper())
    fallback = _STATUS_OUTCOMES.get((ci_status or "").upper())
    if outcome is not None:
        if fallback is not None and fallback != outcome:
            problems.append(f"status {status!r} disagrees with CI_STATUS {ci_status!r}")
        return outcome
    if fallback is not None:  # status left as a template ("${BUILD_STATUS}", "TODO")
        problems.append(f"unknown status {status!r}; used CI_STATUS {ci_status!r}")
        return fallback
    problems.append(f"unknown status {status!r} on a complete message")
    return NEEDS_INSPECTION


def _is_koji_nvr(nvr: str) -> bool:
    return split_nvr(nvr) is not None and not _LOCAL_NVR.search(nvr)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def _subject(pipeline: str, body: Mapping[str, Any], problems: list[str]) -> _Subject | None:
    """Who the result is about; None (with a problem) when the body does not say.

    The trigger decides: ``rev`` ``kojitask-N`` (allpackages-build) means a koji build,
    named by ``nvr`` once the pipeline knows it; ``PR-N`` a dist-git pull request; a
    git hash a dist-git commit. The Atomic Host and all-packages pipelines build the
    commit themselves, so their ``nvr`` is a local/scratch build, never the subject.
    """
    namespace = as_str(body.get("namespace")) or "rpms"  # "null" in allpackages-build
    repo = as_str(body.get("repo"))
    rev = as_str(body.get("rev"))
    nvr = as_str(body.get("nvr"))
    git_rev = rev.lower() if rev and _GIT_REV.match(rev.lower()) else None
    change = ChangeKey(namespace, repo, git_rev) if repo and git_rev else None
    koji_task = _KOJI_TASK.match(rev) if rev else None
    pr = _PR_REV.match(rev) if rev else None

    if pipeline == "allpackages-build" or koji_task:
        if nvr and _is_koji_nvr(nvr):
            if _truthy(body.get("scratch")):
                return _Subject(KOJI_BUILD_SCRATCH, nvr, None, change)
            return _Subject(KOJI_BUILD, nvr, nvr, change)
        if koji_task:
            problems.append(f"koji task {koji_task.group(1)} has no build NVR yet; no subject")
            return None
    if pr and repo:
        return _Subject(
            DIST_GIT_PR, dist_git_pr_identifier(namespace, repo, pr.group(1)), None, None
        )
    if change is not None:
        return _Subject(DIST_GIT_COMMIT, f"{namespace}/{repo}#{git_rev}", None, change)
    problems.append(f"no dist-git rev, pull request or koji build (repo={repo!r}, rev={rev!r})")
    return None


def _pipeline_id(body: Mapping[str, Any], build_url: str | None) -> str | None:
    """The Jenkins run: ``<host>/<job>/<build number>`` parsed from ``build_url``.

    ``CI_NAME`` is sometimes wrong (a container-pr run names another job) and absent
    from 2019 bodies, so the URL is preferred; ``CI_NAME#build_id`` is the fallback.
    """
    if build_url:
        parts = urlsplit(build_url)
        runs = _JENKINS_RUN.findall(parts.path)
        if runs:
            job, number = runs[-1]
            return f"{parts.netloc}/{job}/{number}"
    ci_name = as_str(body.get("CI_NAME"))
    build_id = as_str(body.get("build_id"))
    if ci_name and build_id:
        return f"{ci_name}#{build_id}"
    return build_url
