"""Compose and image builds reported by their backends -> :class:`ComposeStatusChanged`.

Topics read (bus prefix stripped):

- ``pungi.compose.status.change`` ``{"status", "compose_id", "location"}``: ref
  ``pungi:<compose_id>``, target the compose id. STARTED -> STARTED; FINISHED and
  FINISHED_INCOMPLETE -> FINISHED (the latter with detail ``incomplete``); DOOMED and
  TERMINATED -> FAILED. Any other status is ignored with the reason.
- ``pungi.compose.ostree`` ``{"ref", "commitid", "repo_path", "compose_id", ...}``: an
  OSTree commit a compose made: FINISHED, ref ``ostree:<ref>@<commitid>`` (the same
  spelling as the CI pipeline's OSTree composes), target the OSTree ref.
- any other ``pungi.*`` topic (phases, ISO targets, ...) is recognized and ignored.
- ``odcs.compose.state-changed`` ``{"event", "compose": {id, state_name, state_reason,
  result_repo, label, source, pungi_compose_id, ...}}``: ref ``odcs:<id>``; generating ->
  STARTED, done -> FINISHED (location ``result_repo``), failed -> FAILED (detail
  ``state_reason``); wait, removed and expired are ignored. A label ``<artifact>#<n>`` is
  our own compose key (we submit it as the ODCS label): ``compose`` and ``artifact``.
  Target: ``pungi_compose_id`` when ODCS ran pungi, else ``source``.
- Fedora CI messages spec ``ci.[<namespace>.]productmd-compose.build.<state>`` (artifact
  ``{type, id, compose_type, release_type}``): ref ``productmd-compose:<id>``; running ->
  STARTED, complete -> FINISHED, error -> FAILED (detail ``error.reason``); queued is
  ignored. These stay in the ``ci`` family, like every CI spec topic.

The legacy CentOS CI pipeline's own compose and image stages are read by ``ci_legacy``
with :func:`legacy_pipeline_status` below (family ``ci``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from relengotron.adapters.translate.base import Envelope, Translation, as_int, as_str, get_path
from relengotron.adapters.translate.ci_validate import validate
from relengotron.domain.facts import (
    COMPOSE_FAILED,
    COMPOSE_FINISHED,
    COMPOSE_STARTED,
    ComposeStatusChanged,
)

FAMILY = "compose"

PUNGI_STATUS = "pungi.compose.status.change"
PUNGI_OSTREE = "pungi.compose.ostree"
ODCS_STATE = "odcs.compose.state-changed"

# pungi status -> (normalized status, detail)
_PUNGI: dict[str, tuple[str, str | None]] = {
    "STARTED": (COMPOSE_STARTED, None),
    "FINISHED": (COMPOSE_FINISHED, None),
    "FINISHED_INCOMPLETE": (COMPOSE_FINISHED, "incomplete"),
    "DOOMED": (COMPOSE_FAILED, None),
    "TERMINATED": (COMPOSE_FAILED, None),
}

# ODCS state_name -> normalized status (None: not a compose status, ignored).
_ODCS: dict[str, str | None] = {
    "generating": COMPOSE_STARTED,
    "done": COMPOSE_FINISHED,
    "failed": COMPOSE_FAILED,
    "wait": None,
    "removed": None,
    "expired": None,
}
# ODCS's numeric ``state`` (odcs.common.types.COMPOSE_STATES), for bodies without a name.
_ODCS_STATE_NAMES = {0: "wait", 1: "done", 2: "removed", 3: "generating", 4: "failed", 5: "expired"}

# CI spec build state -> normalized status (None: ignored).
_CI_BUILD: dict[str, str | None] = {
    "queued": None,
    "running": COMPOSE_STARTED,
    "complete": COMPOSE_FINISHED,
    "error": COMPOSE_FAILED,
}

# Our compose key, ``<artifact>#<n>``, as we put it in the ODCS label.
_COMPOSE_KEY = re.compile(r"^(?P<artifact>[^#\s]+)#\d+$")
_HEX = re.compile(r"^[0-9a-f]{7,128}$")
_PLACEHOLDERS = frozenset({"n/a", "'n/a'", "none", "unknown"})


def _body(raw: Any) -> Mapping[str, Any] | None:
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    return raw if isinstance(raw, Mapping) else None


def _not_an_object(family: str, raw: Any) -> Translation:
    return Translation(family=family, problems=(f"body is {type(raw).__name__}, not an object",))


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    if suffix.startswith("pungi."):
        return _pungi(envelope, suffix)
    if suffix.startswith("odcs."):
        return _odcs(envelope, suffix)
    parts = suffix.split(".")
    if (
        len(parts) >= 4
        and parts[0] == "ci"
        and parts[-3] == "productmd-compose"
        and parts[-2] == "build"
        and parts[-1] in _CI_BUILD
    ):
        return _ci_build(envelope, parts[-3], parts[-1])
    return None


# ----------------------------------------------------------------- pungi


def _pungi(envelope: Envelope, suffix: str) -> Translation:
    if suffix not in (PUNGI_STATUS, PUNGI_OSTREE):
        return Translation(family=FAMILY, ignored=f"{suffix} is not a compose status")
    body = _body(envelope.body)
    if body is None:
        return _not_an_object(FAMILY, envelope.body)
    compose_id = as_str(body.get("compose_id"))
    if suffix == PUNGI_OSTREE:
        return _pungi_ostree(body, compose_id)
    raw_status = as_str(body.get("status"))
    problems = []
    if compose_id is None:
        problems.append("pungi status change names no compose_id")
    if raw_status is None:
        problems.append("pungi status change has no status")
    if compose_id is None or raw_status is None:
        return Translation(family=FAMILY, problems=tuple(problems))
    mapped = _PUNGI.get(raw_status.upper())
    if mapped is None:
        return Translation(
            family=FAMILY, ignored=f"pungi status {raw_status!r} is not a compose outcome"
        )
    status, detail = mapped
    fact = ComposeStatusChanged(
        ref=f"pungi:{compose_id}",
        status=status,
        origin="pungi",
        target=compose_id,
        location=as_str(body.get("location")),
        detail=detail,
    )
    return Translation(family=FAMILY, facts=(fact,))


def _pungi_ostree(body: Mapping[str, Any], compose_id: str | None) -> Translation:
    ref = as_str(body.get("ref"))
    commit = as_str(body.get("commitid"))
    missing = [name for name, value in (("ref", ref), ("commitid", commit)) if value is None]
    if missing:
        return Translation(
            family=FAMILY, problems=(f"pungi ostree message has no {' or '.join(missing)}",)
        )
    fact = ComposeStatusChanged(
        ref=f"ostree:{ref}@{commit}",
        status=COMPOSE_FINISHED,
        origin="pungi",
        target=ref,
        location=as_str(body.get("repo_path")),
        detail=f"in compose {compose_id}" if compose_id else None,
    )
    return Translation(family=FAMILY, facts=(fact,))


# ----------------------------------------------------------------- ODCS


def _odcs(envelope: Envelope, suffix: str) -> Translation:
    if suffix != ODCS_STATE:
        return Translation(family=FAMILY, ignored=f"{suffix} is not a compose state change")
    body = _body(envelope.body)
    if body is None:
        return _not_an_object(FAMILY, envelope.body)
    compose = body.get("compose")
    if not isinstance(compose, Mapping):
        return Translation(family=FAMILY, problems=("ODCS message has no compose object",))
    compose_id = as_int(compose.get("id"))
    state = as_str(compose.get("state_name"))
    number = as_int(compose.get("state"))
    if state is None and number is not None:
        state = _ODCS_STATE_NAMES.get(number)
    problems = []
    if compose_id is None:
        problems.append(f"ODCS compose id is {compose.get('id')!r}, not a number")
    if state is None:
        problems.append("ODCS compose has no state_name or known state")
    if compose_id is None or state is None:
        return Translation(family=FAMILY, problems=tuple(problems))
    state = state.lower()
    if state not in _ODCS:
        return Translation(family=FAMILY, problems=(f"unknown ODCS state {state!r}",))
    status = _ODCS[state]
    if status is None:
        return Translation(family=FAMILY, ignored=f"ODCS state {state!r} is not a compose outcome")

    label = as_str(compose.get("label"))
    key = _COMPOSE_KEY.match(label) if label else None
    location = None
    if status == COMPOSE_FINISHED:
        location = as_str(compose.get("result_repo")) or as_str(compose.get("toplevel_url"))
    fact = ComposeStatusChanged(
        ref=f"odcs:{compose_id}",
        status=status,
        origin="odcs",
        artifact=key.group("artifact") if key else None,
        compose=label if key else None,
        target=as_str(compose.get("pungi_compose_id")) or as_str(compose.get("source")),
        location=location,
        detail=as_str(compose.get("state_reason")) if status == COMPOSE_FAILED else None,
    )
    return Translation(family=FAMILY, facts=(fact,))


# ----------------------------------------------------------------- CI messages spec


def _ci_build(envelope: Envelope, artifact: str, state: str) -> Translation:
    body = _body(envelope.body)
    if body is None:
        return replace(_not_an_object("ci", envelope.body), invalid=True)
    # As every CI spec message: one that fails its JSON Schema is not processed.
    schema_errors = validate(body, artifact, "build", state).errors
    if schema_errors:
        return Translation(
            family="ci", ignored="invalid CI message", problems=schema_errors, invalid=True
        )
    status = _CI_BUILD[state]
    if status is None:
        return Translation(family="ci", ignored=f"compose build {state}: not started yet")
    compose_id = as_str(get_path(body, "artifact", "id"))
    if compose_id is None:
        return Translation(family="ci", problems=("productmd-compose artifact has no id",))
    detail = None
    if status == COMPOSE_FAILED:
        detail = as_str(get_path(body, "error", "reason"))
    fact = ComposeStatusChanged(
        ref=f"productmd-compose:{compose_id}",
        status=status,
        origin="ci-messages",
        target=compose_id,
        detail=detail,
    )
    return Translation(family="ci", facts=(fact,))


# ----------------------------------------------------------------- legacy CI pipeline

# Jenkins results of a complete stage (as ``ci_legacy`` reads them), upper-cased.
_JENKINS: dict[str, str] = {
    "SUCCESS": COMPOSE_FINISHED,
    "PASSED": COMPOSE_FINISHED,
    "PASS": COMPOSE_FINISHED,
    "FAILURE": COMPOSE_FAILED,
    "FAILED": COMPOSE_FAILED,
    "FAIL": COMPOSE_FAILED,
    "UNSTABLE": COMPOSE_FAILED,
    "ABORTED": COMPOSE_FAILED,
}


def _value(body: Mapping[str, Any], key: str) -> str | None:
    """A body value, with the pipeline's placeholders (``''``, ``'N/A'``) as None."""
    text = as_str(body.get(key))
    if text is None or text.lower() in _PLACEHOLDERS:
        return None
    return text


def legacy_pipeline_status(
    stage: str, state: str, body: Mapping[str, Any], run: str | None
) -> tuple[ComposeStatusChanged | None, str | None]:
    """The compose fact of a legacy CI pipeline ``compose`` or ``image`` stage message.

    ``run`` is the Jenkins run (``ci_legacy``'s pipeline id). Returns (fact, problem);
    (None, None) for other stages and for states that are not a build status (queued,
    ignore) or a complete message whose Jenkins status cannot be read.

    Compose stages: ref ``ostree:<ref>@<compose_rev>``, or ``ostree:<ref>@<run>`` while
    the rev is not known yet (running messages); target the OSTree ref, location
    ``compose_url``. Image stages: ref ``image:<image_name or image_url>``, or
    ``image:<run>`` when neither is known; target the image name, location ``image_url``.
    """
    if stage not in ("compose", "image") or state not in ("running", "complete", "error"):
        return None, None
    detail = None
    if state == "running":
        status = COMPOSE_STARTED
    elif state == "error":
        status, detail = COMPOSE_FAILED, "error"
    else:
        raw = _value(body, "status")
        found = _JENKINS.get((raw or "").upper())
        if found is None:
            raw = _value(body, "CI_STATUS")
            found = _JENKINS.get((raw or "").upper())
        if found is None:
            return None, None  # ci_legacy already names the unreadable status
        status = found
        detail = raw if status == COMPOSE_FAILED else None
    run = run or _value(body, "build_id")

    if stage == "compose":
        ostree_ref = _value(body, "ref")
        rev = _value(body, "compose_rev")
        rev = rev.lower() if rev and _HEX.match(rev.lower()) else None
        if ostree_ref is None or (rev or run) is None:
            return None, "compose stage names no OSTree ref, compose_rev or Jenkins run"
        fact = ComposeStatusChanged(
            ref=f"ostree:{ostree_ref}@{rev or run}",
            status=status,
            origin="ci-pipeline",
            target=ostree_ref,
            location=_value(body, "compose_url"),
            detail=detail,
        )
        return fact, None

    name = _value(body, "image_name")
    url = _value(body, "image_url")
    identity = name or url or run
    if identity is None:
        return None, "image stage names no image_name, image_url or Jenkins run"
    fact = ComposeStatusChanged(
        ref=f"image:{identity}",
        status=status,
        origin="ci-pipeline",
        target=name,
        location=url,
        detail=detail,
    )
    return fact, None
