"""Messages about Bodhi pushes we coordinate: ``push.completed`` and ``push.stopped``.

Bodhi sends one message with the updates of a push and waits; releng-o-tron
composes the repositories and affected artifacts, waits for their tests,
releases, and then tells Bodhi with ``push.completed`` (finish the push: emails,
bugs, comments) or ``push.stopped`` (the stage it stopped at, and why).
"""

from __future__ import annotations

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
)

_STAGES = ("repos", "artifacts", "tests", "release")
_COMPOSE = _obj({"compose": _TEXT, "artifact": _TEXT, "ref": _OPT_TEXT, "location": _OPT_TEXT})
_AT = {"type": ["string", "null"]}


class _PushMessage(RelengotronMessage):
    @property
    def packages(self) -> list[str]:
        builds = self.body.get("builds") or []
        return sorted({b.rsplit("-", 2)[0] for b in builds if isinstance(b, str)})

    @property
    def usernames(self) -> list[str]:
        return []


class PushCompletedV1(_PushMessage):
    """A push's repositories and artifacts are composed, tested and released."""

    TOPIC_SUFFIX = "push.completed"
    topic = f"{DEFAULT_PREFIX}.{TOPIC_SUFFIX}"
    severity = fm.INFO
    body_schema: ClassVar[dict[str, Any]] = _body_schema(
        "push.completed.v1",
        "releng-o-tron composed, tested and released a Bodhi push",
        {
            "push": _TEXT,
            "builds": {"type": "array", "items": _TEXT},
            "composes": {"type": "array", "items": _COMPOSE},
            "at": _AT,
        },
    )

    @property
    def summary(self) -> str:
        return (
            f"push {self._get('push')} released: {len(self.body.get('builds') or [])} builds, "
            f"{len(self.body.get('composes') or [])} composes"
        )


class PushStoppedV1(_PushMessage):
    """A push stopped at a stage; Bodhi should not finish it."""

    TOPIC_SUFFIX = "push.stopped"
    topic = f"{DEFAULT_PREFIX}.{TOPIC_SUFFIX}"
    severity = fm.ERROR
    body_schema: ClassVar[dict[str, Any]] = _body_schema(
        "push.stopped.v1",
        "releng-o-tron stopped a Bodhi push at a stage",
        {"push": _TEXT, "stage": _enum(*_STAGES), "reason": _TEXT, "at": _AT},
    )

    @classmethod
    def severity_for(cls, body: Mapping[str, Any]) -> int:
        return cls.severity

    @property
    def summary(self) -> str:
        return f"push {self._get('push')} stopped at {self._get('stage')}: {self._get('reason')}"
