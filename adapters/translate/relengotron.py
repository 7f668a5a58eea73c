"""Our own topics: artifact definitions, manifests and compose statuses -> facts.

Topics read (the whole topic ends with one of these, after any prefix, e.g.
``org.fedoraproject.prod.relengotron.artifact.defined``):

- ``relengotron.artifact.defined`` ``{"name", "kind", "definition": {...}, "digest"?,
  "source"?}`` -> :class:`ArtifactDefined`. Without a digest, ``sha256:`` of the
  canonical JSON of the definition.
- ``relengotron.artifact.retired`` ``{"name", "reason"?}`` -> :class:`ArtifactRetired`.
- ``relengotron.manifest.learned`` ``{"artifact", "source", "packages": {name: nvr or
  null}, "ref"?, "rpms"?}`` -> :class:`ManifestLearned`; ``source`` one of
  ``MANIFEST_SOURCES``; the digest is always ours: ``sha256:`` of the canonical JSON of
  ``{"source", "packages"}`` (a digest in the body is ignored).
- ``relengotron.compose.status`` ``{"ref", "status", "artifact"?, "compose"?,
  "target"?, "location"?, "detail"?}`` -> :class:`ComposeStatusChanged` (origin
  ``relengotron``); ``status`` one of ``COMPOSE_STATUSES``.

A body with a missing or wrong-typed field gives no fact, and one problem per field
saying what is wrong; the message itself is still recorded. ``relengotron.waiver.new``
is WaiverDB's shape and belongs to ``waiverdb``.

- ``relengotron.policy.activated`` ``{"policy_set_hash", "policies": [Policy.canonical()
  ...], "source"?, "username"?}`` -> :class:`PolicySetActivated`; the policies must read
  back (``policies.spec.policy_set_from_canonical``) to exactly that hash.
- ``relengotron.gate.override`` ``{"nvr", "action": "promote"|"hold"|"release",
  "reason", "username"?, "context"?}`` -> :class:`GateOverridden`.
- ``relengotron.test.rerun`` ``{"nvr", "testcase", "reason", "scenario"?,
  "username"?}`` -> :class:`TestRerunRequested`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from relengotron.adapters.translate.base import Envelope, Translation
from relengotron.domain.facts import (
    COMPOSE_STATUSES,
    MANIFEST_SOURCES,
    OVERRIDE_ACTIONS,
    ArtifactDefined,
    ArtifactRetired,
    ComposeStatusChanged,
    Fact,
    GateOverridden,
    ManifestLearned,
    PolicySetActivated,
    TestRerunRequested,
)
from relengotron.policies.spec import PolicyError, policy_set_from_canonical

FAMILY = "relengotron"

ARTIFACT_DEFINED = "relengotron.artifact.defined"
ARTIFACT_RETIRED = "relengotron.artifact.retired"
MANIFEST_LEARNED = "relengotron.manifest.learned"
COMPOSE_STATUS = "relengotron.compose.status"
POLICY_ACTIVATED = "relengotron.policy.activated"
GATE_OVERRIDE = "relengotron.gate.override"
TEST_RERUN = "relengotron.test.rerun"

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def digest_of(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value`` (sorted keys, no blanks)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def manifest_digest(source: str, packages: Mapping[str, str | None]) -> str:
    """The digest of a manifest: its source and package map, whatever their order."""
    return digest_of({"source": source, "packages": dict(packages)})


def _kind(value: Any) -> str:
    """How a wrong value is named in a problem: ``a list``, ``the string '12'``."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    names = {str: "string", bool: "boolean", int: "integer", float: "number"}
    name = names.get(type(value), type(value).__name__)
    return f"the {name} {value!r}"


class _Fields:
    """Reads typed fields from a body and notes exactly what is wrong with each."""

    def __init__(self, topic: str, body: Mapping[str, Any]) -> None:
        self.topic = topic
        self.body = body
        self.problems: list[str] = []

    def _wrong(self, key: str, expected: str) -> None:
        self.problems.append(f"{self.topic}: {key!r} is {_kind(self.body[key])}, not {expected}")

    def text(self, key: str) -> str:
        """A required non-empty string ('' when missing or wrong, with a problem)."""
        if key not in self.body:
            self.problems.append(f"{self.topic}: {key!r} is missing")
            return ""
        value = self.body[key]
        if not isinstance(value, str):
            self._wrong(key, "a string")
            return ""
        if not value.strip():
            self.problems.append(f"{self.topic}: {key!r} is empty")
            return ""
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.body.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self._wrong(key, "a string or null")
            return None
        return value or None

    def choice(self, key: str, allowed: tuple[str, ...] | frozenset[str]) -> str:
        value = self.text(key)
        if value and value not in allowed:
            names = ", ".join(allowed if isinstance(allowed, tuple) else sorted(allowed))
            self.problems.append(f"{self.topic}: {key!r} is {value!r}, not one of {names}")
            return ""
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        if key not in self.body:
            self.problems.append(f"{self.topic}: {key!r} is missing")
            return {}
        value = self.body[key]
        if not isinstance(value, Mapping):
            self._wrong(key, "an object")
            return {}
        return dict(value)

    def count(self, key: str) -> int:
        """An optional non-negative integer (0 when absent)."""
        value = self.body.get(key)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "an integer")
            return 0
        if value < 0:
            self.problems.append(f"{self.topic}: {key!r} is {value}, not a count")
            return 0
        return value


def _artifact_defined(fields: _Fields) -> Fact:
    name = fields.text("name")
    kind = fields.text("kind")
    definition = fields.mapping("definition")
    digest = fields.optional_text("digest")
    if digest is not None and not _DIGEST.match(digest):
        fields.problems.append(
            f"{fields.topic}: 'digest' is {digest!r}, not 'sha256:' and 64 hex digits"
        )
    if digest is None:
        try:
            digest = digest_of(definition)
        except (TypeError, ValueError) as exc:
            fields.problems.append(f"{fields.topic}: 'definition' is not JSON data ({exc})")
    return ArtifactDefined(
        name=name,
        kind=kind,
        digest=digest or "",
        definition=definition,
        source=fields.optional_text("source"),
    )


def _artifact_retired(fields: _Fields) -> Fact:
    return ArtifactRetired(name=fields.text("name"), reason=fields.optional_text("reason"))


def _packages(fields: _Fields) -> dict[str, str | None]:
    """``packages``: source package name -> source NVR or null."""
    packages: dict[str, str | None] = {}
    for name, nvr in fields.mapping("packages").items():
        if not isinstance(name, str) or not name.strip():
            fields.problems.append(f"{fields.topic}: 'packages' has the package name {name!r}")
        elif nvr is not None and not (isinstance(nvr, str) and nvr.strip()):
            fields.problems.append(
                f"{fields.topic}: 'packages'[{name!r}] is {_kind(nvr)}, not an NVR or null"
            )
        else:
            packages[name] = nvr
    return packages


def _manifest_learned(fields: _Fields) -> Fact:
    artifact = fields.text("artifact")
    source = fields.choice("source", MANIFEST_SOURCES)
    packages = _packages(fields)
    return ManifestLearned(
        artifact=artifact,
        source=source,
        digest=manifest_digest(source, packages),
        packages=tuple(sorted(packages.items())),
        ref=fields.optional_text("ref"),
        rpms=fields.count("rpms"),
    )


def _compose_status(fields: _Fields) -> Fact:
    return ComposeStatusChanged(
        ref=fields.text("ref"),
        status=fields.choice("status", COMPOSE_STATUSES),
        origin="relengotron",
        artifact=fields.optional_text("artifact"),
        compose=fields.optional_text("compose"),
        target=fields.optional_text("target"),
        location=fields.optional_text("location"),
        detail=fields.optional_text("detail"),
    )


def _policy_activated(fields: _Fields) -> Fact:
    claimed = fields.text("policy_set_hash")
    policies = fields.body.get("policies")
    canonical: tuple[dict[str, Any], ...] = ()
    if not isinstance(policies, list):
        fields.problems.append(f"{fields.topic}: 'policies' is {_kind(policies)}, not a list")
    else:
        try:
            policy_set = policy_set_from_canonical(policies)
        except PolicyError as exc:
            fields.problems.append(f"{fields.topic}: {exc}")
        else:
            canonical = tuple(p.canonical() for p in policy_set.policies)
            if claimed and claimed != policy_set.content_hash:
                fields.problems.append(
                    f"{fields.topic}: 'policy_set_hash' is {claimed!r} but the policies "
                    f"hash to {policy_set.content_hash!r}"
                )
    return PolicySetActivated(
        policy_set_hash=claimed,
        policies=canonical,
        source=fields.optional_text("source"),
        username=fields.optional_text("username"),
    )


def _gate_override(fields: _Fields) -> Fact:
    return GateOverridden(
        nvr=fields.text("nvr"),
        action=fields.choice("action", OVERRIDE_ACTIONS),
        reason=fields.text("reason"),
        username=fields.optional_text("username"),
        context=fields.optional_text("context"),
    )


def _test_rerun(fields: _Fields) -> Fact:
    return TestRerunRequested(
        nvr=fields.text("nvr"),
        testcase=fields.text("testcase"),
        reason=fields.text("reason"),
        scenario=fields.optional_text("scenario"),
        username=fields.optional_text("username"),
    )


_READERS: dict[str, Callable[[_Fields], Fact]] = {
    ARTIFACT_DEFINED: _artifact_defined,
    ARTIFACT_RETIRED: _artifact_retired,
    MANIFEST_LEARNED: _manifest_learned,
    COMPOSE_STATUS: _compose_status,
    POLICY_ACTIVATED: _policy_activated,
    GATE_OVERRIDE: _gate_override,
    TEST_RERUN: _test_rerun,
}


def _topic_of(suffix: str) -> str | None:
    """The one of our topics ``suffix`` is, with or without a further prefix."""
    for topic in _READERS:
        if suffix == topic or suffix.endswith("." + topic):
            return topic
    return None


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    topic = _topic_of(suffix)
    if topic is None:
        return None
    body = envelope.body
    if not isinstance(body, Mapping):
        return Translation(
            family=FAMILY, problems=(f"{topic}: body is {_kind(body)}, not an object",)
        )
    fields = _Fields(topic, body)
    fact = _READERS[topic](fields)
    if fields.problems:
        return Translation(family=FAMILY, problems=tuple(fields.problems))
    return Translation(family=FAMILY, facts=(fact,))
