"""``compose.synced``: a compose whose gate passed is on the master mirror.

The message tells mirror managers and dashboards where the compose is (``location``),
the ``latest-…`` link that now names it (``switched`` false when the link stayed at a
newer compose), and the decision that let it go (Fedora's
``rawhide_compose_sync_to_mirrors``). Sent once a ``compose.sync`` outbox action is
done (``adapters.effects.compose_effects``), the action's id as the message id.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fedora_messaging import message as fm

from relengotron.adapters.messaging.base import (
    _OPT_TEXT,
    _TEXT,
    DEFAULT_PREFIX,
    RelengotronMessage,
    _body_schema,
)


class ComposeSyncedV1(RelengotronMessage):
    """A compose synced to the master mirror after its gate passed."""

    TOPIC_SUFFIX = "compose.synced"
    topic = f"{DEFAULT_PREFIX}.{TOPIC_SUFFIX}"
    severity = fm.INFO
    body_schema: ClassVar[dict[str, Any]] = _body_schema(
        "compose.synced.v1",
        "releng-o-tron synced a compose whose gate passed to the master mirror",
        {
            "compose": _TEXT,
            "location": _TEXT,
            "link": _OPT_TEXT,
            "switched": {"type": "boolean"},
            "previous": _OPT_TEXT,
            "decision_context": _OPT_TEXT,
            "product_version": _OPT_TEXT,
            "summary": {"type": "string"},
            "at": {"type": ["string", "null"]},
        },
        optional=("previous", "at"),
    )

    @property
    def usernames(self) -> list[str]:
        return []

    @property
    def packages(self) -> list[str]:
        return []

    @property
    def summary(self) -> str:
        where = self._get("location")
        if self.body.get("switched") is False:
            return f"compose {self._get('compose')} synced to {where} (latest kept newer)"
        return f"compose {self._get('compose')} synced to {where}"
