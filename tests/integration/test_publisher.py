"""Publishers: the fedora-messaging publisher against RabbitMQ, failure mapping, the recorder.

Tests marked ``rabbitmq`` need the broker on 127.0.0.1:5672: they skip when it is unreachable,
and fail instead when CI=true.  The others need no broker.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema.exceptions
import pytest
from fedora_messaging import config as fm_config
from fedora_messaging import exceptions as fm_exc
from fedora_messaging import message as fm

from relengotron.adapters.messaging.publisher import (
    FedoraMessagingPublisher,
    Publisher,
    PublishError,
    RecordingPublisher,
    publish_error_from,
)
from relengotron.adapters.messaging.schemas import SCHEMAS, BuildPromotedV1, message_for
from tests.rabbit import HOST, URL
from tests.rabbit import receive as _receive
from tests.rabbit import require_rabbitmq as _require_rabbitmq
from tests.unit.test_message_schemas import GOOD, promoted_body

UNREACHABLE = f"amqp://guest:guest@{HOST}:1/%2F"


@pytest.fixture
def publisher() -> Iterator[FedoraMessagingPublisher]:
    with FedoraMessagingPublisher(amqp_url=URL, timeout=10) as pub:
        yield pub


# ---------------------------------------------------------------------- with the broker
@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_each_kind_arrives_and_deserializes_into_its_class(
    kind: str, prefix: str, listener: Any, publisher: FedoraMessagingPublisher
) -> None:
    msg = message_for(kind, GOOD[kind](), prefix)
    assert publisher.publish(msg) == msg.id
    [(method, props, raw)] = _receive(listener)
    assert method.routing_key == f"{prefix}.{kind}"
    assert props.content_type == "application/json" and props.message_id == msg.id
    assert props.headers["fedora_messaging_schema"] == f"relengotron.{kind}.v1"
    assert props.headers["fedora_messaging_severity"] == msg.severity
    assert "sent-at" in props.headers
    back = fm.get_message(method.routing_key, props, raw)
    assert type(back) is SCHEMAS[kind]
    assert back.body == msg.body and back.id == msg.id and back.topic == msg.topic
    assert back.usernames == msg.usernames and back.packages == msg.packages


@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
def test_repeated_publishes_reuse_one_connection(
    prefix: str, listener: Any, publisher: FedoraMessagingPublisher
) -> None:
    sent = [BuildPromotedV1.create(promoted_body(), prefix=prefix) for _ in range(5)]
    ids = [publisher.publish(m) for m in sent]
    first_connection = publisher._connection
    ids.append(publisher.publish(BuildPromotedV1.create(promoted_body(), prefix=prefix)))
    assert publisher._connection is first_connection is not None
    received = _receive(listener, count=6)
    assert [props.message_id for _, props, _ in received] == ids
    assert len(set(ids)) == 6


@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
def test_recovers_when_the_connection_was_dropped(
    prefix: str, listener: Any, publisher: FedoraMessagingPublisher
) -> None:
    publisher.publish(BuildPromotedV1.create(promoted_body(), prefix=prefix))
    dropped = publisher._connection
    assert dropped is not None
    # what a broker restart or a missed heartbeat looks like from here: the socket goes away
    dropped._impl._transport._sock.shutdown(socket.SHUT_RDWR)
    again = BuildPromotedV1.create(promoted_body(), prefix=prefix)
    assert publisher.publish(again) == again.id
    assert publisher._connection is not dropped
    assert [p.message_id for _, p, _ in _receive(listener, count=2)][1] == again.id


@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
def test_config_file_supplies_url_and_topic_prefix(
    tmp_path: Path, prefix: str, listener: Any
) -> None:
    outer = prefix.split(".")[0]
    conf = tmp_path / "fedora-messaging.toml"
    conf.write_text(f'amqp_url = "{URL}"\ntopic_prefix = "{outer}.stg"\n')
    before = fm_config.conf["amqp_url"]
    msg = BuildPromotedV1.create(promoted_body())  # topic relengotron.build.promoted
    with FedoraMessagingPublisher(config_file=str(conf), timeout=10) as pub:
        pub.publish(msg)
    [(method, props, raw)] = _receive(listener)
    assert method.routing_key == f"{outer}.stg.relengotron.build.promoted"
    back = fm.get_message(method.routing_key, props, raw)
    assert isinstance(back, BuildPromotedV1) and back.body == msg.body
    assert fm_config.conf["amqp_url"] == before  # the process-wide config is left alone


@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
def test_missing_exchange_is_transient() -> None:
    _require_rabbitmq()
    pub = FedoraMessagingPublisher(URL, timeout=5, exchange=f"missing-{uuid.uuid4().hex}")
    with pytest.raises(PublishError) as err:
        pub.publish(BuildPromotedV1.create(promoted_body()))
    assert err.value.transient is True and "NOT_FOUND" in str(err.value)
    pub.close()


@pytest.mark.rabbitmq
@pytest.mark.timeout(60)
def test_bad_credentials_are_transient() -> None:
    _require_rabbitmq()
    pub = FedoraMessagingPublisher(URL.replace("guest:guest", "guest:wrong"), timeout=5)
    with pytest.raises(PublishError) as err:
        pub.publish(BuildPromotedV1.create(promoted_body()))
    assert err.value.transient is True and err.value.kind == "connection"


# ------------------------------------------------------------------- without a broker
@pytest.mark.timeout(30)
def test_unreachable_broker_is_transient_and_quick() -> None:
    pub = FedoraMessagingPublisher(UNREACHABLE, timeout=3)
    start = time.monotonic()
    with pytest.raises(PublishError) as err:
        pub.publish(BuildPromotedV1.create(promoted_body()))
    assert err.value.transient is True
    assert time.monotonic() - start < 5
    # and it keeps failing the same way when called again
    with pytest.raises(PublishError) as again:
        pub.publish(BuildPromotedV1.create(promoted_body()))
    assert again.value.transient is True


@pytest.mark.timeout(30)
def test_silent_server_times_out_within_the_timeout() -> None:
    """A socket that accepts but never speaks AMQP: all attempts fit in ``timeout``."""
    with socket.socket() as server:
        server.bind((HOST, 0))
        server.listen(8)
        port = server.getsockname()[1]
        url = f"amqp://guest:guest@{HOST}:{port}/%2F?connection_attempts=10&retry_delay=1"
        pub = FedoraMessagingPublisher(url, timeout=1.5)
        start = time.monotonic()
        with pytest.raises(PublishError) as err:
            pub.publish(BuildPromotedV1.create(promoted_body()))
        elapsed = time.monotonic() - start
    assert err.value.transient is True and err.value.kind == "timeout"
    assert 1.0 <= elapsed < 4


def test_invalid_message_is_permanent_and_never_connects() -> None:
    msg = BuildPromotedV1.create(promoted_body())
    msg.body = {**msg.body, "verdict": "quarantine"}  # broken after creation
    pub = FedoraMessagingPublisher(UNREACHABLE, timeout=3)
    with pytest.raises(PublishError) as err:
        pub.publish(msg)
    assert err.value.transient is False and err.value.kind == "invalid"
    assert "quarantine" in str(err.value)
    assert pub._connection is None and pub._settings is None


def test_nothing_happens_before_the_first_publish(tmp_path: Path) -> None:
    pub = FedoraMessagingPublisher(config_file=str(tmp_path / "absent.toml"))
    assert pub._settings is None and pub._connection is None
    with pytest.raises(fm_exc.ConfigurationException, match=r"absent\.toml"):
        pub.publish(BuildPromotedV1.create(promoted_body()))


def test_bad_url_is_a_configuration_error() -> None:
    pub = FedoraMessagingPublisher("http://secret:hunter2@example.org/", timeout=1)
    with pytest.raises(fm_exc.ConfigurationException) as err:
        pub.publish(BuildPromotedV1.create(promoted_body()))
    assert "hunter2" not in str(err.value)


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FedoraMessagingPublisher(URL, timeout=0)


@pytest.mark.parametrize(
    ("exc", "transient", "kind"),
    [
        (fm_exc.ValidationError("bad"), False, "invalid"),
        (jsonschema.exceptions.ValidationError("bad"), False, "invalid"),
        (fm_exc.PublishForbidden(reason="403"), False, "forbidden"),
        (fm_exc.PublishReturned(reason="nack"), True, "returned"),
        (fm_exc.PublishTimeout(reason="slow"), True, "timeout"),
        (fm_exc.ConnectionException("refused"), True, "connection"),
        (RuntimeError("?"), True, "unexpected"),
    ],
)
def test_fedora_messaging_exceptions_map_to_publish_error(
    exc: Exception, transient: bool, kind: str
) -> None:
    err = publish_error_from(exc)
    assert isinstance(err, PublishError)
    assert (err.transient, err.kind) == (transient, kind)


# ------------------------------------------------------------------------- the recorder
def test_recording_publisher_keeps_messages() -> None:
    rec = RecordingPublisher()
    msgs = [message_for(kind, GOOD[kind](), "relengotron") for kind in sorted(GOOD)]
    assert [rec.publish(m) for m in msgs] == [m.id for m in msgs]
    assert rec.messages == msgs
    assert rec.topics == [f"relengotron.{kind}" for kind in sorted(GOOD)]
    rec.clear()
    assert rec.messages == []


def test_recording_publisher_validates_and_can_fail_on_demand() -> None:
    rec = RecordingPublisher()
    bad = BuildPromotedV1.create(promoted_body())
    bad.body = {k: v for k, v in bad.body.items() if k != "nvr"}
    with pytest.raises(PublishError) as err:
        rec.publish(bad)
    assert err.value.transient is False
    rec.fail_next(PublishError("broker down", transient=True, kind="connection"), times=2)
    good = BuildPromotedV1.create(promoted_body())
    for _ in range(2):
        with pytest.raises(PublishError, match="broker down"):
            rec.publish(good)
    assert rec.publish(good) == good.id
    assert rec.messages == [good]


def test_both_implement_the_port() -> None:
    assert isinstance(RecordingPublisher(), Publisher)
    assert isinstance(FedoraMessagingPublisher(UNREACHABLE), Publisher)
