"""fedora-messaging's decoding of a delivery, made total: refused, never a halt.

``fedora_messaging.message.get_message`` turns a body that is not text, not JSON or not
valid for its schema into ``ValidationError``, and the consumer then rejects the
delivery without requeueing it (the broker dead-letters it: see
:mod:`adapters.live.deadletter`). Any other exception escapes its read loop: a body
nested beyond the JSON parser's limit (``RecursionError``) stopped consuming, and the
delivery, unacknowledged, came back to the next consumer, which stopped too. A poison
body blocked the queue for ever.

:func:`install` wraps ``get_message`` as fedora-messaging's consumer calls it: any
exception but ``ValidationError`` becomes ``ValidationError`` (logged with its cause),
so the delivery is refused and dead-lettered like every other body it cannot read, and
kept from there with its exact bytes.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def install() -> None:
    """Guard fedora-messaging's consumer's ``get_message`` (this process)."""
    from fedora_messaging.exceptions import ValidationError
    from fedora_messaging.twisted import consumer

    real = consumer.get_message
    if getattr(real, "relengotron_guard", False):
        return

    def get_message(routing_key: str, properties: Any, body: bytes) -> Any:
        try:
            return real(routing_key, properties, body)
        except ValidationError:
            raise
        except Exception as exc:  # any other failure to read a body: refuse it
            log.warning(
                "message id %s: fedora-messaging cannot read the body (%s: %s); refused "
                "(dead-lettered)",
                getattr(properties, "message_id", None),
                type(exc).__name__,
                str(exc)[:200],
            )
            raise ValidationError(exc) from exc

    get_message.relengotron_guard = True  # type: ignore[attr-defined]
    consumer.get_message = get_message
