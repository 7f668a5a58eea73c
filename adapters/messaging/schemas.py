"""The messages releng-o-tron publishes, as fedora-messaging schemas (one class per version).

Consumers validate messages with the schema *they* have installed, so bodies allow additional
properties (adding a field to v1 must not make older consumers drop messages). Every key we
define is required (nullable where it may be empty) and ``create`` refuses unknown keys, so the
producer side stays strict. Incompatible changes need a new class (``...V2``) and entry point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

from fedora_messaging import message as fm

from relengotron.adapters.messaging.base import (
    _OPT_TEXT,
    _TEXT,
    DEFAULT_PREFIX,
    RelengotronMessage,
    _body_schema,
    _enum,
    _obj,
    _unique,
    create_from,
)

_ISO_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?"
_KOJI_SUBJECTS = frozenset({"koji_build", "brew-build"})
_OPT_INT: dict[str, Any] = {"type": ["integer", "null"]}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time", "pattern": _ISO_TIME}
_NVR: dict[str, Any] = {"type": "string", "pattern": r"^[^\s]+-[^\s-]+-[^\s-]+$"}
_REQUIREMENTS: dict[str, Any] = {
    "type": "array",
    "items": _obj(
        {"type": _TEXT, "testcase": {"type": ["string", "null"]}},
        optional=["testcase"],
        description="A Greenwave-shaped requirement; keys other than 'type' pass through",
    ),
}
_BUILD_MOVE: dict[str, Any] = {
    "nvr": _NVR,
    "package": _TEXT,
    "owner": _OPT_TEXT,
    "from_tag": _TEXT,
    "to_tag": _TEXT,
    "task_id": _OPT_INT,
    "decision_id": _TEXT,
    "summary": {"type": "string"},
}


def package_from_nvr(nvr: str) -> str:
    """The package (Koji build name) of ``name-version-release``."""
    parts = nvr.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else nvr


def iso_now() -> str:
    """The current UTC time as an ISO 8601 string (for ``decided_at`` / ``generated_at``)."""
    return dt.datetime.now(tz=dt.UTC).replace(microsecond=0).isoformat()


class DecisionChangedV1(RelengotronMessage):
    """The gating verdict for a subject changed (or was first made)."""

    TOPIC_SUFFIX = "decision.changed"
    topic = f"{DEFAULT_PREFIX}.{TOPIC_SUFFIX}"
    VERDICTS: ClassVar[tuple[str, ...]] = ("promote", "waived", "hold", "quarantine")
    body_schema: ClassVar[dict[str, Any]] = _body_schema(
        "decision.changed.v1",
        "releng-o-tron's gating decision for a subject changed",
        {
            "subject_type": _TEXT,
            "subject_identifier": _TEXT,
            "product_version": _TEXT,
            "decision_context": _TEXT,
            "verdict": _enum(*VERDICTS),
            "previous_verdict": _enum(*VERDICTS, None),
            "policies_satisfied": {"type": "boolean"},
            "summary": {"type": "string"},
            "satisfied_requirements": _REQUIREMENTS,
            "unsatisfied_requirements": _REQUIREMENTS,
            "applicable_policies": {"type": "array", "items": _TEXT},
            "policy_set_hash": {"type": "string"},
            "decision_id": _TEXT,
            "decided_at": {**_TIME, "type": ["string", "null"]},
            "owner": _OPT_TEXT,
        },
    )

    @classmethod
    def severity_for(cls, body: Mapping[str, Any]) -> int:
        return fm.WARNING if body.get("verdict") == "quarantine" else fm.INFO

    @property
    def _nvr(self) -> str | None:
        """The subject, when it is a Koji build (only those have an NVR and a package)."""
        ident = self.body.get("subject_identifier")
        if self.body.get("subject_type") in _KOJI_SUBJECTS and isinstance(ident, str) and ident:
            return ident
        return None

    @property
    def packages(self) -> list[str]:
        return [package_from_nvr(self._nvr)] if self._nvr else []

    @property
    def summary(self) -> str:
        return (
            f"{self._get('subject_identifier')}: {self._get('previous_verdict', 'none')} -> "
            f"{self._get('verdict')} ({self._get('decision_context')}, "
            f"{self._get('product_version')})"
        )


class BuildPromotedV1(RelengotronMessage):
    """A build passed gating (or was waived) and was moved to the next tag."""

    TOPIC_SUFFIX = "build.promoted"
    topic = f"{DEFAULT_PREFIX}.{TOPIC_SUFFIX}"
    body_schema: ClassVar[dict[str, Any]] = _body_schema(
        "build.promoted.v1",
        "releng-o-tron promoted a build",
        {
            **_BUILD_MOVE,
            "verdict": _enum("promote", "waived"),
            "satisfied_requirements": _REQUIREMENTS,
        },
    )

    @property
    def summary(self) -> str:
        nvr, verdict = self._get("nvr"), self._get("verdict")
        return f"{nvr} promoted from {self._get('from_tag')} to {self._get('to_tag')} ({verdict})"


class BuildQuarantinedV1(RelengotronMessage):
    """A build failed gating and was moved aside; its owner should look at the reasons."""

    TOPIC_SUFFIX = "build.quarantined"
    topic = f"{DEFAULT_PREFIX}.{TOPIC_SUFFIX}"
    severity = fm.WARNING
    body_schema: ClassVar[dict[str, Any]] = _body_schema(
        "build.quarantined.v1",
        "releng-o-tron quarantined a build",
        {**_BUILD_MOVE, "unsatisfied_requirements": _REQUIREMENTS, "suspect_reason": _TEXT},
    )

    @property
    def summary(self) -> str:
        reason = self._get("suspect_reason", "no reason given")
        return f"{self._get('nvr')} quarantined in {self._get('to_tag')}: {reason}"


class BatchCheckRequestedV1(RelengotronMessage):
    """Ask CI to test a group of builds together (shaped like the Fedora CI messages spec)."""

    TOPIC_SUFFIX = "batch.check.requested"
    topic = f"{DEFAULT_PREFIX}.{TOPIC_SUFFIX}"
    severity = fm.DEBUG
    SPEC_VERSION: ClassVar[str] = "1.0.0"
    _BUILD: ClassVar[dict[str, Any]] = _obj(
        {
            "type": _enum("koji-build"),
            "nvr": _NVR,
            "component": _TEXT,
            "issuer": _OPT_TEXT,
            "id": _OPT_INT,
            "scratch": {"type": "boolean", "enum": [False]},
        }
    )
    body_schema: ClassVar[dict[str, Any]] = _body_schema(
        "batch.check.requested.v1",
        "releng-o-tron asks CI to test a group of Koji builds together",
        {
            "artifact": _obj(
                {
                    "type": _enum("koji-build-group"),
                    "id": _TEXT,
                    "builds": {"type": "array", "minItems": 1, "items": _BUILD},
                    "repository": _OPT_TEXT,
                }
            ),
            "testcase": _TEXT,
            "bisection": _obj(
                {
                    "parent": _OPT_TEXT,
                    "round": {"type": "integer", "minimum": 1},
                    "max_rounds": {"type": "integer", "minimum": 1},
                    "half": _enum("a", "b", None),
                }
            ),
            "reply_to": _OPT_TEXT,
            "generated_at": _TIME,
            "version": {"type": "string", "pattern": r"^1\.[0-9]+\.[0-9]+$"},
        },
        optional=["reply_to"],
    )

    @classmethod
    def semantic_problems(cls, body: Mapping[str, Any]) -> list[str]:
        bisection = body.get("bisection") or {}
        if bisection.get("round", 0) > bisection.get("max_rounds", 0):
            return [f"bisection round {bisection['round']} exceeds max_rounds"]
        return []

    @property
    def _builds(self) -> list[Mapping[str, Any]]:
        builds = self._map("artifact").get("builds")
        return [b for b in builds or [] if isinstance(b, Mapping)]

    @property
    def packages(self) -> list[str]:
        return _unique(b.get("component") for b in self._builds)

    @property
    def usernames(self) -> list[str]:
        return _unique(b.get("issuer") for b in self._builds)

    def _round_text(self) -> str:
        bis = self._map("bisection")
        text = f"round {bis.get('round', '?')}/{bis.get('max_rounds', '?')}"
        if bis.get("parent"):
            text += f", half {bis.get('half') or '?'} of {bis['parent']}"
        return text

    @property
    def summary(self) -> str:
        nvrs = [str(b.get("nvr", "?")) for b in self._builds]
        shown = ", ".join(nvrs[:3]) + (f" and {len(nvrs) - 3} more" if len(nvrs) > 3 else "")
        group = self._map("artifact").get("id", "?")
        return (
            f"{self._get('testcase')} requested for group {group} ({self._round_text()}): {shown}"
        )

    def _lines(self) -> list[str]:
        artifact = self._map("artifact")
        return [
            *super()._lines(),
            f"Group: {artifact.get('id', '?')} ({self._round_text()})",
            f"Repository: {artifact.get('repository') or '-'}",
            f"Builds: {len(self._builds)}",
            *(f"  - {b.get('nvr', '?')} (owner: {b.get('issuer') or '-'})" for b in self._builds),
        ]


SCHEMAS: dict[str, type[RelengotronMessage]] = {
    cls.TOPIC_SUFFIX: cls
    for cls in (DecisionChangedV1, BuildPromotedV1, BuildQuarantinedV1, BatchCheckRequestedV1)
}


def message_for(
    kind: str, body: Mapping[str, Any], prefix: str = DEFAULT_PREFIX
) -> RelengotronMessage:
    """A validated message of ``kind`` (a key of ``SCHEMAS``) on ``<prefix>.<kind>``."""
    return create_from(SCHEMAS, kind, body, prefix)
