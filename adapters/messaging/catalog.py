"""Every message kind releng-o-tron publishes, by the kind its outbox actions name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relengotron.adapters.messaging import schemas
from relengotron.adapters.messaging.base import DEFAULT_PREFIX, RelengotronMessage, create_from
from relengotron.adapters.messaging.push_schemas import PushCompletedV1, PushStoppedV1
from relengotron.adapters.messaging.rerun_schemas import TestRerunRequestedV1
from relengotron.adapters.messaging.sync_schemas import ComposeSyncedV1

SCHEMAS: dict[str, type[RelengotronMessage]] = {
    **schemas.SCHEMAS,
    PushCompletedV1.TOPIC_SUFFIX: PushCompletedV1,
    PushStoppedV1.TOPIC_SUFFIX: PushStoppedV1,
    TestRerunRequestedV1.TOPIC_SUFFIX: TestRerunRequestedV1,
    ComposeSyncedV1.TOPIC_SUFFIX: ComposeSyncedV1,
}


def message_for(
    kind: str, body: Mapping[str, Any], prefix: str = DEFAULT_PREFIX
) -> RelengotronMessage:
    """A validated message of ``kind`` (a key of ``SCHEMAS``) on ``<prefix>.<kind>``."""
    return create_from(SCHEMAS, kind, body, prefix)
