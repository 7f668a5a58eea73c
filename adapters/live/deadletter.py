"""Dead letters: what fedora-messaging refuses is kept all the same.

fedora-messaging decodes and validates each body before it calls the consumer; a body
that is not UTF-8 JSON, not an object, or not valid against its schema class is
rejected (``basic_nack(requeue=False)``) and never reaches us. The consume queue is
declared with ``x-dead-letter-exchange = "relengotron.dead-letter"``, so the broker
re-publishes each rejected message there, with its routing key, properties and an
``x-death`` header (reason ``rejected``, the original queue and exchange).

This module declares that exchange (fanout, durable) and its queue (durable, never
listed in fedora-messaging's ``queues``, so fedora-messaging never consumes it), binds
them, and drains the queue with pika in a thread of its own. Each dead letter becomes:

* a **message** when its body is a JSON object (e.g. a body its schema class refuses,
  or a message the queue dead-lettered for another reason: ``expired``, ``maxlen``):
  recorded like any other (translated, deduplicated by message id), with a problem
  saying it was refused by fedora-messaging and why. The body is read as ``ingest``
  reads a line (``adapters.ingest.jsontext``; bytes that are not UTF-8 as U+FFFD), and when
  something had to be changed to store it the exact bytes are kept in ``original``;
* otherwise **rejected input** (``RejectedInput.Rejected``): ``raw`` is a JSON object
  with ``routing_key``, ``exchange`` (the dead-letter exchange), ``properties``
  (``message_id``, ``content_type``, ``content_encoding``, ``timestamp``, ``headers``
  with ``x-death``) and the body: ``body`` (the text, when the bytes are UTF-8) or
  ``body_base64`` (the bytes, when they are not); ``reason`` is "refused by
  fedora-messaging: not a valid message (<fedora-messaging's error>) (x-death reason
  rejected, queue <original queue>)"; ``source`` is ``amqp-dead-letter:<queue>``.

Each is acknowledged after its commit; the store unavailable, it waits with the same
back-off as the consumer (the letter stays unacknowledged meanwhile).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema.exceptions
import pika
import pika.exceptions
from fedora_messaging.message import Message, get_class
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from relengotron.adapters.ingest.branches import BranchFilter
from relengotron.adapters.ingest.jsontext import NotJSON, parser
from relengotron.adapters.live.consumer import Recorder
from relengotron.adapters.live.messages import canonical, incoming_from, jsonable
from relengotron.adapters.live.storage import FIRST_DELAY, MAX_DELAY, LiveStats
from relengotron.adapters.messaging.publisher import FedoraMessagingPublisher
from relengotron.domain.safe_text import BAD_UTF8, ORIGINAL
from relengotron.domain.values import IncomingMessage, RejectedLine

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "relengotron.dead-letter"
DEFAULT_QUEUE = "relengotron.dead-letter"
#: Broker answers that retrying cannot fix (access refused, not found, inequivalent
#: arguments): fatal while setting up, so ``consume`` stops with the reason.
FATAL_REPLY_CODES = (403, 404, 406)


@dataclass(frozen=True)
class DeadLetterSettings:
    exchange: str = DEFAULT_EXCHANGE
    queue: str = DEFAULT_QUEUE
    passive: bool = False  # fedora-messaging's passive_declares: they must exist already


def url_parameters(url: Any) -> pika.URLParameters:
    """ValueError for a URL pika cannot use (pika wants ``user:password@``, the password
    may be empty)."""
    if not isinstance(url, str) or not url.startswith(("amqp://", "amqps://")):
        raise ValueError(f"amqp_url must start with amqp:// or amqps://, not {url!r}")
    try:
        return pika.URLParameters(url)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"pika cannot use amqp_url ({exc!r}); user:password@ (empty password: user:@)"
        ) from exc


def dead_letter_parameters(
    conf: Mapping[str, Any], purpose: str = "dead letters"
) -> pika.URLParameters:
    """pika parameters from a fedora-messaging configuration: URL, TLS, client properties
    (the app name marked with ``purpose``). ValueError for a URL pika cannot use,
    fedora-messaging's ConfigurationException for unusable ``[tls]`` files."""
    url = conf["amqp_url"]
    params = url_parameters(url)
    if url.startswith("amqps"):
        FedoraMessagingPublisher._configure_tls(params, conf["tls"])
    props = dict(params.client_properties or conf.get("client_properties") or {})
    app = props.get("app")
    props["app"] = (
        f"{app} ({purpose})" if app and app != "Unknown" else f"releng-o-tron ({purpose})"
    )
    if props.get("connection_name"):
        props["connection_name"] = f"{props['connection_name']} ({purpose})"
    params.client_properties = props
    return params


def declare(channel: BlockingChannel, settings: DeadLetterSettings) -> None:
    """The dead-letter exchange (fanout) and queue, durable, bound together."""
    channel.exchange_declare(
        settings.exchange, exchange_type="fanout", durable=True, passive=settings.passive
    )
    channel.queue_declare(settings.queue, durable=True, passive=settings.passive)
    if not settings.passive:
        channel.queue_bind(settings.queue, settings.exchange)


# ------------------------------------------------------------------ a letter -> a record


def _death(headers: Mapping[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        return dict(deaths[0])
    return {}


# What the broker stamps on each dead-lettering: left out of the raw text kept for a
# rejected body, whose identity it is (a redelivery of the same bad message is then
# the same rejected input, kept once); when we received it is the event's own time.
_DELIVERY_STAMPS = ("time", "count")


def _without_delivery_stamps(headers: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(headers)
    deaths = out.get("x-death")
    if isinstance(deaths, list):
        out["x-death"] = [
            {k: v for k, v in d.items() if k not in _DELIVERY_STAMPS}
            if isinstance(d, Mapping)
            else d
            for d in deaths
        ]
    return out


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value) if value is not None else "?"


def _validated(
    routing_key: str,
    properties: pika.BasicProperties,
    headers: dict[str, Any],
    text: str | None,
    encoding: str,
) -> tuple[Any, str | None, set[str]]:
    """The body (store-safe), why fedora-messaging refuses it (None: it does not), and
    what was changed to store it. The same checks as ``fedora_messaging.message.
    get_message`` (decoding, JSON, the schema class named by the headers), without its
    error lines in the log for every letter; JSON is read by ``adapters.ingest.jsontext`` (no
    traceback for any text: deep nesting, NaN, integers beyond ``int()``'s limit)."""
    if text is None:
        return None, f"the body is not {encoding} text", set()
    try:
        parsed, notes = parser().parse(text)
    except NotJSON as exc:
        return None, f"the body is {exc}", set()
    schema = headers.get("fedora_messaging_schema")
    cls = get_class(schema) if isinstance(schema, str) else Message
    try:
        message = cls(body=parsed, topic=routing_key, properties=properties)
        message.validate()
    except jsonschema.exceptions.ValidationError as exc:
        return parsed, exc.message, notes
    except (jsonschema.exceptions.SchemaError, TypeError, ValueError, RecursionError) as exc:
        return parsed, f"{type(exc).__name__}: {exc}", notes
    return parsed, None, notes


def dead_letter_item(
    routing_key: str,
    exchange: str,
    properties: pika.BasicProperties,
    body: bytes,
    source: str,
    branches: BranchFilter | None = None,
) -> tuple[IncomingMessage | RejectedLine, str]:
    """What to record for one dead letter, and the raw text to keep if recording it as a
    message fails for a reason that is not the store's (see the module docstring)."""
    headers = dict(properties.headers or {})
    death = _death(headers)
    how = f"x-death reason {_text(death.get('reason'))}, queue {_text(death.get('queue'))}"
    encoding = properties.content_encoding or "utf-8"
    bad_utf8 = False
    try:
        text: str | None = body.decode(encoding)
    except UnicodeDecodeError:
        # Read as ingest reads a line that is not UTF-8: invalid bytes as U+FFFD, the
        # exact bytes kept (a message then lists the problem; else rejected as before).
        text = body.decode("utf-8", "replace") if _is_utf8(encoding) else None
        bad_utf8 = text is not None
    except LookupError:
        text = None
    parsed, refusal, notes = _validated(routing_key, properties, headers, text, encoding)
    if bad_utf8:
        notes.add(BAD_UTF8)
        why = f"the body is not {encoding} text"
        refusal = why if refusal is None else f"{why}; {refusal}"
    if refusal is not None:
        refusal = f"refused by fedora-messaging: not a valid message ({refusal}) ({how})"
    if refusal is None or (isinstance(parsed, dict) and routing_key):
        # A message after all (dead-lettered for another reason, or a schema class
        # installed since), or an object its schema refuses: recorded like any other.
        record = {
            "topic": routing_key,
            "id": properties.message_id,
            "headers": jsonable(headers),
            "body": parsed,
        }
        note = refusal or f"received from the dead-letter queue ({how})"
        problems: tuple[str, ...] = (note,)
        original = None
        if notes:  # the body as stored differs from the bytes: they are kept
            problems = (*sorted(notes), ORIGINAL, note)
            original = body
        return incoming_from(record, source, problems, original, branches), canonical(record)
    raw: dict[str, Any] = {
        "routing_key": routing_key,
        "exchange": exchange,
        "properties": {
            "message_id": properties.message_id,
            "content_type": properties.content_type,
            "content_encoding": properties.content_encoding,
            "timestamp": properties.timestamp,
            # With a message id, the delivery stamps are left out: a redelivery of the
            # same message is the same record. Without one, they tell two deliveries
            # of the same bytes apart (each its own record, issue 14).
            "headers": jsonable(
                _without_delivery_stamps(headers) if properties.message_id else headers
            ),
        },
    }
    try:  # the bytes as they came: UTF-8 text, else base64
        raw["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        raw["body_base64"] = base64.b64encode(body).decode("ascii")
    raw_text = canonical(raw)
    return RejectedLine(raw=raw_text, reason=refusal, source=source), raw_text


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8")


# ------------------------------------------------------------------ the drainer


class DeadLetterDrainer(threading.Thread):
    """Drains the dead-letter queue into the store until ``stop`` is set.

    ``ready`` is set once the exchange and queue are declared and bound (the consume
    queue must not start before: the broker drops what it dead-letters to an exchange
    that does not exist). ``error`` holds a fatal setup error (access refused, a
    passive declaration that found nothing, an exchange of another type); connection
    failures are retried with the back-off, for ever.
    """

    def __init__(
        self,
        params: pika.URLParameters,
        settings: DeadLetterSettings,
        recorder: Recorder,
        *,
        stats: LiveStats,
        stop: threading.Event,
        poll: float = 0.5,
        branches: BranchFilter | None = None,
    ) -> None:
        super().__init__(name="relengotron-dead-letters", daemon=True)
        self.params = params
        self.branches = branches
        self.settings = settings
        self.recorder = recorder
        self.stats = stats
        self.stop_event = stop
        self.poll = poll
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.source = f"amqp-dead-letter:{settings.queue}"

    def run(self) -> None:
        delay = FIRST_DELAY
        try:
            while not self.stop_event.is_set():
                connection: pika.BlockingConnection | None = None
                try:
                    connection = pika.BlockingConnection(self.params)
                    channel = connection.channel()
                    declare(channel, self.settings)
                    channel.basic_qos(prefetch_count=1)
                    if not self.ready.is_set():
                        log.info(
                            "dead letters: exchange %s, queue %s",
                            self.settings.exchange,
                            self.settings.queue,
                        )
                    self.ready.set()
                    delay = FIRST_DELAY
                    self._drain(connection, channel)
                except pika.exceptions.ChannelClosedByBroker as exc:
                    if not self.ready.is_set() and exc.reply_code in FATAL_REPLY_CODES:
                        self.error = exc
                        log.error("dead-letter queue: %s", exc)
                        return
                    delay = self._pause(exc, delay)
                except (pika.exceptions.AMQPError, AMQPConnectorException, OSError) as exc:
                    delay = self._pause(exc, delay)
                finally:
                    _close(connection)
        except BaseException as exc:  # a bug: say so; consume notices the thread ended
            self.error = exc
            log.exception("the dead-letter drainer failed")
        finally:
            self.recorder.close()

    def _pause(self, exc: BaseException, delay: float) -> float:
        if self.stop_event.is_set():
            return delay
        log.warning("dead-letter queue: %r; reconnecting in %.1f s", exc, delay)
        self.stop_event.wait(delay)
        return min(delay * 2, MAX_DELAY)

    def _drain(self, connection: pika.BlockingConnection, channel: BlockingChannel) -> None:
        lost = threading.Event()

        def sleep(seconds: float) -> bool:
            """Wait, keeping the connection alive (heartbeats); True to give up."""
            deadline = time.monotonic() + seconds
            while not self.stop_event.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                try:
                    connection.sleep(min(left, 0.5))
                except (pika.exceptions.AMQPError, OSError):
                    lost.set()  # the broker requeues the unacknowledged letter
                    return True
            return True

        while not self.stop_event.is_set():
            method, properties, body = channel.basic_get(self.settings.queue, auto_ack=False)
            if method is None:
                connection.sleep(self.poll)
                continue
            self.stats.add(dead_letters=1)
            item, raw = dead_letter_item(
                method.routing_key or "",
                method.exchange or "",
                properties,
                body,
                self.source,
                self.branches,
            )
            if self.recorder.record(item, raw, sleep=sleep):
                channel.basic_ack(method.delivery_tag)
                continue
            if lost.is_set():
                raise pika.exceptions.AMQPConnectionError("connection lost while waiting")
            channel.basic_nack(method.delivery_tag, requeue=True)  # stopping
            return


def _close(connection: pika.BlockingConnection | None) -> None:
    if connection is not None and connection.is_open:
        try:
            connection.close()
        except (pika.exceptions.AMQPError, OSError):
            log.debug("closing the dead-letter connection failed", exc_info=True)
