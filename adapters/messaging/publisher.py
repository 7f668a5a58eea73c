"""Publisher port implementations: a fedora-messaging publisher and an in-memory recorder.

Why ``FedoraMessagingPublisher`` speaks AMQP with pika instead of ``fedora_messaging.api.publish``:
the blocking API starts a Twisted reactor thread (crochet) and builds *one* process-wide
connection service from ``config.conf["amqp_url"]`` on its first call.  Later changes to the URL
are ignored, and a service pointed at an unreachable broker keeps reconnecting for the life of
the process, so two publishers with different URLs (or a retry after a bad URL) cannot work.
This module therefore publishes the way fedora-messaging's own Twisted publisher does: the
message's validation, routing key rule (``topic_prefix`` + topic), JSON body and AMQP properties
(schema, severity, ``sent-at`` and filter headers, message id) come from fedora-messaging, the
frame goes out on a pika ``BlockingConnection`` with publisher confirms, and broker outcomes are
raised as the same fedora-messaging exceptions before being mapped to ``PublishError``.
Consumers read these messages with ``fedora_messaging.message.get_message`` like any other.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import jsonschema.exceptions
import pika
import pika.adapters.blocking_connection
import pika.credentials
import pika.exceptions
from fedora_messaging import config as fm_config
from fedora_messaging import exceptions as fm_exc
from fedora_messaging.message import Message
from pika.adapters.utils.connection_workflow import AMQPConnectorException

_log = logging.getLogger(__name__)

#: fedora-messaging exceptions a publish can end with, and whether retrying later can help.
TRANSIENT_BY_EXCEPTION: tuple[tuple[type[Exception], bool, str], ...] = (
    (fm_exc.ValidationError, False, "invalid"),
    (fm_exc.PublishForbidden, False, "forbidden"),
    (fm_exc.PublishReturned, True, "returned"),
    (fm_exc.PublishTimeout, True, "timeout"),
    (fm_exc.ConnectionException, True, "connection"),
)


class PublishError(Exception):
    """A message could not be published.

    Attributes:
        transient: True when the same message can succeed later, so keep it and retry with a
            backoff; False when this message can never be published as it is (drop it or park
            it for a human), because retrying would only repeat the refusal.
        kind: what went wrong: "invalid", "forbidden", "returned", "timeout", "connection" or
            "unexpected" (see ``publish_error_from``).
    """

    def __init__(self, message: str = "", *, transient: bool, kind: str = "unexpected") -> None:
        super().__init__(message)
        self.transient = transient
        self.kind = kind


def publish_error_from(exc: BaseException) -> PublishError:
    """Map an exception from a fedora-messaging publish to a ``PublishError``.

    - ``ValidationError`` (or jsonschema's, which ``Message.validate`` raises): permanent.  The
      body does not match its schema; it will not match next time either.
    - ``PublishForbidden``: permanent.  The broker refuses this user this topic; resending the
      same message gets the same answer until an operator changes the permissions.
    - ``PublishReturned``: transient.  The broker nacked the message (resource alarm, internal
      error, queue limits); fedora-messaging documents resending as the handling.
    - ``PublishTimeout``: transient.  The broker could not be reached, or did not confirm, in
      time.  The message may nonetheless have arrived: consumers should de-duplicate on the
      message id (resending the same ``Message`` object keeps its id).
    - ``ConnectionException``: transient.  Connection refused or lost, bad credentials, broker
      closing the channel (e.g. a missing exchange): a deployment or network problem, not a
      problem of this message.
    - anything else: transient, kind "unexpected" (retrying never loses a message).
    """
    if isinstance(exc, jsonschema.exceptions.ValidationError | jsonschema.exceptions.SchemaError):
        exc = fm_exc.ValidationError(exc)
    text = exc.summary if isinstance(exc, fm_exc.ValidationError) else str(exc)
    for cls, transient, kind in TRANSIENT_BY_EXCEPTION:
        if isinstance(exc, cls):
            return PublishError(f"{kind}: {text}", transient=transient, kind=kind)
    return PublishError(f"unexpected: {exc!r}", transient=True)


def _connection_error(reason: object) -> fm_exc.ConnectionException:
    return fm_exc.ConnectionException(str(reason), reason=reason)


def _validated(message: Message) -> None:
    try:
        message.validate()
    except (jsonschema.exceptions.ValidationError, jsonschema.exceptions.SchemaError) as exc:
        err = publish_error_from(exc)
        raise PublishError(f"{message.topic}: {err}", transient=False, kind=err.kind) from exc


@runtime_checkable
class Publisher(Protocol):
    """The publisher port: publish one message, return its id, or raise ``PublishError``."""

    def publish(self, message: Message) -> str: ...


class RecordingPublisher:
    """Keeps messages in a list instead of sending them (embedded demo, tests).

    Messages are validated like the real publisher does, so an invalid message raises
    ``PublishError(transient=False)`` here too.  ``fail_next`` makes the next calls fail, to
    exercise retry paths.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._failures: list[PublishError] = []
        self._lock = threading.Lock()

    def publish(self, message: Message) -> str:
        _validated(message)
        with self._lock:
            if self._failures:
                raise self._failures.pop(0)
            self.messages.append(message)
        return message.id

    def fail_next(self, error: PublishError, times: int = 1) -> None:
        """Raise ``error`` from the next ``times`` publish calls (nothing is recorded)."""
        with self._lock:
            self._failures.extend([error] * times)

    @property
    def topics(self) -> list[str]:
        return [m.topic for m in self.messages]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


@dataclass
class _Settings:
    params: pika.URLParameters
    attempts: int
    retry_delay: float
    topic_prefix: str


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class FedoraMessagingPublisher:
    """Publishes fedora-messaging messages to an AMQP broker (see the module docstring).

    Args:
        amqp_url: broker URL (``pika.URLParameters`` format).  Default: ``amqp_url`` from the
            fedora-messaging configuration.
        config_file: a fedora-messaging TOML file to read instead of the process-wide
            configuration (``FEDORA_MESSAGING_CONF`` or ``/etc/fedora-messaging/config.toml``).
            Used for ``amqp_url`` (unless given), ``topic_prefix``, ``tls`` and
            ``client_properties``.  The process-wide configuration is never modified.
        timeout: seconds allowed for connecting (all attempts of the URL's
            ``connection_attempts``, spaced by ``retry_delay``); also the blocked-connection
            timeout while waiting for the broker's confirm.
        exchange: the exchange to publish to.

    Nothing is read or connected before the first ``publish``.  One connection is kept and
    reused (checked before each publish, re-opened when the broker dropped it); calls are
    serialised with a lock, so an instance can be shared between threads.  ``close()`` (or
    ``with``) releases the connection.
    """

    def __init__(
        self,
        amqp_url: str | None = None,
        *,
        config_file: str | None = None,
        timeout: float = 30.0,
        exchange: str = "amq.topic",
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.amqp_url = amqp_url
        self.config_file = config_file
        self.timeout = timeout
        self.exchange = exchange
        self._settings: _Settings | None = None
        self._connection: pika.BlockingConnection | None = None
        self._channel: pika.adapters.blocking_connection.BlockingChannel | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public
    def publish(self, message: Message) -> str:
        """Publish and wait for the broker's confirm; return the message id.

        Raises:
            PublishError: see ``publish_error_from`` for what is transient.
            fedora_messaging.exceptions.ConfigurationException: the configuration file or the
                AMQP URL is unusable (a deployment error, raised as is).
        """
        _validated(message)
        with self._lock:
            settings = self._resolve()
            try:
                self._send(settings, message)
            except fm_exc.BaseException as exc:
                raise publish_error_from(exc) from exc
        return message.id

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> FedoraMessagingPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- config
    def _resolve(self) -> _Settings:
        if self._settings is not None:
            return self._settings
        if self.config_file is None:
            conf: dict[str, Any] = fm_config.conf
        else:
            if not os.path.isfile(self.config_file):
                raise fm_exc.ConfigurationException(
                    f"fedora-messaging configuration file {self.config_file} does not exist"
                )
            conf = fm_config.LazyConfig().load_config(self.config_file)
        url = self.amqp_url or conf["amqp_url"]
        try:
            if urlsplit(url).scheme not in ("amqp", "amqps"):
                raise ValueError("the scheme must be amqp or amqps")
            params = pika.URLParameters(url)
        except (ValueError, TypeError) as exc:
            raise fm_exc.ConfigurationException(f"bad AMQP URL {_redact(url)}: {exc}") from exc
        if url.startswith("amqps"):
            self._configure_tls(params, conf["tls"])
        if params.client_properties is None:
            props = dict(conf["client_properties"])
            if props.get("app") in (None, "Unknown"):
                props["app"] = "releng-o-tron"
            params.client_properties = props
        params.blocked_connection_timeout = self.timeout
        settings = _Settings(
            params=params,
            attempts=max(1, params.connection_attempts),
            retry_delay=float(params.retry_delay),
            topic_prefix=str(conf["topic_prefix"] or ""),
        )
        params.connection_attempts = 1  # attempts are paced here, within the timeout
        self._settings = settings
        return settings

    @staticmethod
    def _configure_tls(params: pika.URLParameters, tls: dict[str, Any]) -> None:
        """TLS as fedora-messaging sets it up: CA bundle, optional client cert (EXTERNAL auth)."""
        try:
            context = ssl.create_default_context(cafile=tls.get("ca_cert") or None)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if tls.get("certfile") and tls.get("keyfile"):
                context.load_cert_chain(tls["certfile"], tls["keyfile"])
                params.credentials = pika.credentials.ExternalCredentials()
        except (OSError, ssl.SSLError) as exc:
            raise fm_exc.ConfigurationException(f"bad [tls] configuration: {exc}") from exc
        params.ssl_options = pika.SSLOptions(context, server_hostname=params.host)

    # ---------------------------------------------------------------- sending
    def _send(self, settings: _Settings, message: Message) -> None:
        """Publish one message, raising fedora-messaging's exceptions for broker outcomes."""
        topic = message.topic
        if settings.topic_prefix:
            topic = f"{settings.topic_prefix.rstrip('.')}.{topic}"
        try:
            body = message._encoded_body
        except (TypeError, ValueError) as exc:  # a body the schema let through but JSON cannot
            raise fm_exc.ValidationError(exc) from exc
        channel = self._open_channel(settings)
        try:
            channel.basic_publish(
                exchange=self.exchange,
                routing_key=topic,
                body=body,
                properties=message._properties,
            )
        except (pika.exceptions.NackError, pika.exceptions.UnroutableError) as exc:
            raise fm_exc.PublishReturned(reason=exc) from exc
        except pika.exceptions.ChannelClosedByBroker as exc:
            self._channel = None
            if exc.reply_code == 403:
                raise fm_exc.PublishForbidden(reason=exc) from exc
            raise _connection_error(exc) from exc
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._drop_connection()
            raise _connection_error(exc) from exc
        _log.debug("published %s on %s to %s", message.id, topic, self.exchange)

    def _open_channel(
        self, settings: _Settings
    ) -> pika.adapters.blocking_connection.BlockingChannel:
        if self._connection is not None and self._connection.is_open:
            try:  # notice a connection the broker dropped while we were idle
                self._connection.process_data_events(time_limit=0)
            except (pika.exceptions.AMQPError, OSError):
                self._drop_connection()
        if self._connection is None or not self._connection.is_open:
            self._drop_connection()
            self._connection = self._connect(settings)
        if self._channel is None or not self._channel.is_open:
            try:
                self._channel = self._connection.channel()
                self._channel.confirm_delivery()
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._drop_connection()
                raise _connection_error(exc) from exc
        return self._channel

    def _connect(self, settings: _Settings) -> pika.BlockingConnection:
        params, host = settings.params, f"{settings.params.host}:{settings.params.port}"
        deadline = time.monotonic() + self.timeout
        error: Exception | None = None
        for attempt in range(settings.attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            params.socket_timeout = params.stack_timeout = remaining
            try:
                return pika.BlockingConnection(params)
            except (
                pika.exceptions.ProbableAuthenticationError,
                pika.exceptions.AuthenticationError,
                pika.exceptions.ProbableAccessDeniedError,
            ) as exc:
                raise _connection_error(f"{host} refused the login: {exc!r}") from exc
            except (pika.exceptions.AMQPError, AMQPConnectorException, OSError) as exc:
                error = exc
                _log.info("connecting to %s failed (attempt %d): %r", host, attempt + 1, exc)
            pause = min(settings.retry_delay, deadline - time.monotonic())
            if attempt + 1 < settings.attempts and pause > 0:
                time.sleep(pause)
        if time.monotonic() >= deadline:
            raise fm_exc.PublishTimeout(
                reason=f"no connection to {host} within {self.timeout:g}s ({error!r})"
            )
        raise _connection_error(f"cannot connect to {host}: {error!r}")

    def _drop_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                _log.debug("closing the AMQP connection failed", exc_info=True)
