"""``test.rerun.requested``: ask CI to run a build's test again (``relengotron rerun``).

Shaped as Bodhi's "re-trigger tests" request, which Fedora CI listens to: Bodhi's
``POST /updates/{id}/trigger-tests`` publishes ``UpdateReadyForTestingV3``
(``bodhi-server/bodhi/server/services/updates.py`` ``trigger_tests``; the body from
``bodhi-server/bodhi/server/models.py`` ``Update._build_group_test_message``;
``bodhi-messages/bodhi/messages/schemas/update.py``): ``artifact`` a
``koji-build-group`` of ``koji-build`` entries (``id``, ``task_id``, ``nvr``),
``agent`` the requester, ``re-trigger: true``. Ours is about one build, not an update
(``update`` is null), and names the test (``testcase``, ``scenario``), the ``reason``
and the ``deadline`` until which the rerun is awaited.
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
    _obj,
)

_OPT_INT = {"type": ["integer", "null"]}
_BUILD = _obj(
    {"type": {"type": "string", "enum": ["koji-build"]}, "id": _OPT_INT, "task_id": _OPT_INT,
     "nvr": _TEXT}
)  # fmt: skip


class TestRerunRequestedV1(RelengotronMessage):
    """Run a build's test again (Bodhi's re-trigger shape, one build)."""

    __test__ = False  # not a pytest class
    TOPIC_SUFFIX = "test.rerun.requested"
    topic = f"{DEFAULT_PREFIX}.{TOPIC_SUFFIX}"
    severity = fm.INFO
    body_schema: ClassVar[dict[str, Any]] = _body_schema(
        "test.rerun.requested.v1",
        "releng-o-tron asks CI to run a build's test again",
        {
            "artifact": _obj(
                {
                    "type": {"type": "string", "enum": ["koji-build-group"]},
                    "builds": {"type": "array", "minItems": 1, "maxItems": 1, "items": _BUILD},
                }
            ),
            "agent": _TEXT,
            "re-trigger": {"type": "boolean", "enum": [True]},
            "update": {"type": "null"},
            "testcase": _TEXT,
            "scenario": _OPT_TEXT,
            "reason": _TEXT,
            "requested_at": {"type": ["string", "null"]},
            "deadline": {"type": ["string", "null"]},
        },
    )

    @classmethod
    def severity_for(cls, body: Mapping[str, Any]) -> int:
        return cls.severity

    @property
    def _nvr(self) -> str:
        builds = self._map("artifact").get("builds") or [{}]
        return str(builds[0].get("nvr", "?"))

    @property
    def packages(self) -> list[str]:
        return [self._nvr.rsplit("-", 2)[0]]

    @property
    def usernames(self) -> list[str]:
        agent = self.body.get("agent")
        return [agent] if isinstance(agent, str) and agent else []

    @property
    def summary(self) -> str:
        scenario = f" ({self._get('scenario')})" if self.body.get("scenario") else ""
        return (
            f"{self._get('agent')} asks for {self._get('testcase')}{scenario} of {self._nvr} "
            f"to run again: {self._get('reason')}"
        )
