"""Bodhi (``bodhi.*``) messages -> update and push/compose facts.

Topics read (bus prefix stripped):

- ``bodhi.update.*`` (``request.<x>``, ``status.<x>`` incl.
  ``status.testing.koji-build-group.build.complete``, ``complete.<x>``,
  ``comment``, ``edit``, ``eject``, ``karma.threshold``,
  ``requirements_met.<x>``) -> :class:`BodhiUpdateChanged`, ``action`` being the
  part after ``bodhi.update.``. Bodies: ``{"update": {...}, "agent"}``;
  ``{"comment": {"update": {...}}}``; 2014 comments ``{"comment":
  {"update_title", ...}}``; koji-build-group ``{"artifact": {builds, release,
  repository, id}, "update"?}``. Old updates without an alias are keyed by
  ``updateid``, then title, then first build NVR (with a problem noted).
- Push progress: ``compose.*``, ``composer.start``, ``masher.start``,
  ``mashtask.*``, ``errata.publish``, ``repo.done``, ``updates.<x>.sync`` ->
  :class:`BodhiComposeChanged`, ``phase`` being the part after ``bodhi.``.
  ``compose`` is the repo when the body names one (``f29-updates-testing``);
  for ``updates.<fedora|epel>.sync`` the repo Bodhi composes
  (``f29-updates-testing``, ``epel7-testing``); for ``composer/masher.start``
  the batch (``<release_id>-<request>-<content_type>,...``, or a digest of the
  update list); for ``errata.publish`` ``<release>-<request>``.

Recognized and ignored: ``buildroot_override.*``, ``stack.*``, a push start
that names no compose, and any other ``bodhi.*`` topic.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from relengotron.adapters.translate.base import Envelope, Translation, as_str, split_nvr
from relengotron.domain.facts import BodhiComposeChanged, BodhiUpdateChanged

FAMILY = "bodhi"
_PREFIX = "bodhi."
_UPDATE = "bodhi.update."
_NOT_FOR_GATING = ("bodhi.buildroot_override.", "bodhi.stack.")
_COMPOSE_PREFIXES = ("bodhi.compose.", "bodhi.mashtask.")
_COMPOSE_EXACT = (
    "bodhi.composer.start",
    "bodhi.masher.start",
    "bodhi.errata.publish",
    "bodhi.repo.done",
)
_SYNC = re.compile(r"^bodhi\.updates\.(?P<family>[\w-]+)\.sync$")
_REQUESTS = ("testing", "stable", "batched")
_ALIAS_WITH_HASH = re.compile(r"^(?P<alias>.+)-[0-9a-f]{40}$")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(value: Any) -> str | None:
    """A user or release: a plain string or a dict with ``name``."""
    if isinstance(value, Mapping):
        return as_str(value.get("name"))
    return as_str(value)


def _nvrs(builds: Any) -> tuple[str, ...]:
    if not isinstance(builds, list):
        return ()
    out: list[str] = []
    for build in builds:
        nvr = as_str(build.get("nvr")) if isinstance(build, Mapping) else as_str(build)
        if nvr:
            out.append(nvr)
    return tuple(out)


def _artifact_alias(artifact: Mapping[str, Any]) -> str | None:
    """The update alias of a koji-build-group artifact (its id is ``<alias>-<sha1>``)."""
    repository = as_str(artifact.get("repository"))
    if repository and "/updates/" in repository:
        return repository.rstrip("/").rsplit("/", 1)[-1]
    artifact_id = as_str(artifact.get("id"))
    if artifact_id:
        m = _ALIAS_WITH_HASH.match(artifact_id)
        return m.group("alias") if m else artifact_id
    return None


def _update(body: Mapping[str, Any], action: str) -> Translation:
    comment = _mapping(body.get("comment"))
    update = _mapping(body.get("update")) or _mapping(comment.get("update"))
    artifact = _mapping(body.get("artifact"))
    problems: list[str] = []

    builds = _nvrs(artifact.get("builds")) or _nvrs(update.get("builds"))
    title = as_str(update.get("title")) or as_str(comment.get("update_title"))
    alias = (
        as_str(update.get("alias"))
        or as_str(comment.get("update_alias"))
        or (_artifact_alias(artifact) if artifact else None)
        or as_str(update.get("updateid"))
    )
    if alias is None:
        alias = title or (builds[0] if builds else None)
        if alias is None:
            return Translation(family=FAMILY, problems=("update message names no update",))
        problems.append(f"update has no alias; keyed by {alias!r}")
    if not builds and title and " " not in title:
        # fedmsg-era (Bodhi 1) titles are the comma-joined NVRs
        builds = tuple(part for part in title.split(",") if split_nvr(part))

    # The topic says what the body may not: update.status.testing.* -> status
    # testing, update.complete.stable -> stable, update.request.testing -> request.
    verb, _, target = action.partition(".")
    target = target.split(".", 1)[0]
    status = as_str(update.get("status")) or as_str(comment.get("update_status"))
    if status is None and verb in ("status", "complete") and target:
        status = target
    request = (
        as_str(update.get("request"))
        or as_str(body.get("request"))
        or as_str(comment.get("update_request"))
    )
    if request is None and verb == "request" and target in _REQUESTS:
        request = target

    release = _name(update.get("release")) or _name(body.get("release"))
    if release is None:
        release = as_str(artifact.get("release"))
    fact = BodhiUpdateChanged(
        alias=alias,
        action=action,
        builds=builds,
        status=status,
        request=request,
        release=release,
        user=as_str(body.get("agent"))
        or _name(update.get("user"))
        or _name(update.get("submitter")),
        title=title,
    )
    return Translation(family=FAMILY, facts=(fact,), problems=tuple(problems))


def _sync_repo(family: str, body: Mapping[str, Any]) -> str | None:
    """``updates.fedora.sync`` {release 29, repo updates-testing} -> f29-updates-testing."""
    repo = as_str(body.get("repo"))
    release = as_str(body.get("release"))
    if repo is None or release is None:
        return None
    if family == "epel" and repo.startswith("epel"):
        return f"epel{release}{repo[len('epel') :]}"
    if family == "fedora":
        return f"f{release}-{repo}"
    return f"{family}-{release}-{repo}"


def _compose(body: Mapping[str, Any], phase: str) -> Translation:
    updates = _nvrs(body.get("updates"))
    release = as_str(body.get("release"))
    request = as_str(body.get("request"))
    compose = as_str(body.get("repo"))
    sync = _SYNC.match(_PREFIX + phase)
    if sync:
        compose = _sync_repo(sync.group("family"), body)
    elif compose is None and isinstance(body.get("composes"), list):
        parts = []
        requests = set()
        for item in body["composes"]:
            item = _mapping(item)
            requests.add(as_str(item.get("request")))
            parts.append(
                "-".join(str(item.get(k)) for k in ("release_id", "request", "content_type"))
            )
        compose = ",".join(parts) or None
        request = request or (requests.pop() if len(requests) == 1 else None)
    elif compose is None and phase == "errata.publish":
        update = _mapping(body.get("update"))
        release = _name(update.get("release"))
        request = as_str(update.get("request"))
        key = as_str(update.get("alias")) or as_str(update.get("title"))
        updates = (key,) if key else ()
        if release and request:
            compose = f"{release}-{request}"
    elif compose is None and updates:
        digest = hashlib.sha1("\n".join(sorted(updates)).encode()).hexdigest()[:12]
        compose = f"updates-{digest}"
    if compose is None:
        if set(body) <= {"agent"}:
            return Translation(family=FAMILY, ignored=f"{phase} names no compose")
        return Translation(family=FAMILY, problems=(f"{phase} names no compose (no repo)",))
    success = body.get("success")
    fact = BodhiComposeChanged(
        compose=compose,
        phase=phase,
        updates=updates,
        release=release,
        request=request,
        success=success if isinstance(success, bool) else None,
        agent=as_str(body.get("agent")),
    )
    return Translation(family=FAMILY, facts=(fact,))


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    """Translate a ``bodhi.*`` message; None for any other topic."""
    if not suffix.startswith(_PREFIX):
        return None
    body = envelope.body
    if not isinstance(body, Mapping):
        return Translation(
            family=FAMILY, problems=(f"body is {type(body).__name__}, not an object",)
        )
    if suffix.startswith(_UPDATE):
        return _update(body, suffix[len(_UPDATE) :])
    if suffix.startswith(_NOT_FOR_GATING):
        return Translation(family=FAMILY, ignored="not used for gating")
    if suffix.startswith(_COMPOSE_PREFIXES) or suffix in _COMPOSE_EXACT or _SYNC.match(suffix):
        return _compose(body, suffix[len(_PREFIX) :])
    return Translation(family=FAMILY, ignored="not used")
