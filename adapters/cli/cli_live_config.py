"""``relengotron consume``'s configuration: the fedora-messaging file (which one, and
what its ``[consumer_config]`` and ``[queues]`` must say for nothing to be dropped), and
logging as that file sets it up or, without ``log_config``, on stderr."""

from __future__ import annotations

import logging
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relengotron.adapters.settings import Settings

ENV_FM_CONF = "FEDORA_MESSAGING_CONF"
DEFAULT_FM_CONF = "/etc/fedora-messaging/config.toml"
DLX_ARGUMENT = "x-dead-letter-exchange"
CONSUMER_KEYS = ("db_url", "dead_letter_exchange", "dead_letter_queue", "parallel")
DEFAULT_PARALLEL = 32  # consumers of the queue per process (their messages commit together)


class ConsumeUsageError(Exception):
    """A configuration we cannot consume with: printed, exit 2."""


@dataclass(frozen=True)
class ConsumeConfig:
    fm_config: str
    fm_config_origin: str
    conf: Mapping[str, Any]  # fedora-messaging's, loaded
    queues: tuple[str, ...]
    db_url: str | None
    dead_letter_exchange: str
    dead_letter_queue: str
    passive: bool
    parallel: int = DEFAULT_PARALLEL


def fm_config_path(option: str | None, cfg: Settings) -> tuple[str, str]:
    """The fedora-messaging configuration file and where its name came from."""
    if option:
        return option, "--fm-config"
    if cfg.bus.config_file:
        return cfg.bus.config_file, "[bus] config_file"
    env = os.environ.get(ENV_FM_CONF)
    if env:
        return env, f"${ENV_FM_CONF}"
    return DEFAULT_FM_CONF, "default"


def load_consume_config(option: str | None, cfg: Settings) -> ConsumeConfig:
    from fedora_messaging import config as fm_config
    from fedora_messaging.exceptions import ConfigurationException

    from relengotron.adapters.live.deadletter import DEFAULT_EXCHANGE, DEFAULT_QUEUE, url_parameters

    path, origin = fm_config_path(option, cfg)
    if not Path(path).is_file():
        raise ConsumeUsageError(f"fedora-messaging configuration not found: {path} ({origin})")
    # fedora-messaging reads FEDORA_MESSAGING_CONF when its configuration is first used;
    # set it for anything that loads it lazily, and load this file explicitly now.
    os.environ[ENV_FM_CONF] = path
    try:
        conf = fm_config.conf.load_config(path)
    except ConfigurationException as exc:
        raise ConsumeUsageError(f"{path}: {exc.message}") from exc
    consumer = conf.get("consumer_config") or {}
    unknown = sorted(set(consumer) - set(CONSUMER_KEYS))
    if unknown:
        raise ConsumeUsageError(
            f"{path}: unknown key(s) {', '.join(unknown)} in [consumer_config] "
            f"(known: {', '.join(CONSUMER_KEYS)})"
        )
    for key in CONSUMER_KEYS:
        if key == "parallel":
            value = consumer.get(key, DEFAULT_PARALLEL)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 64:
                raise ConsumeUsageError(
                    f"{path}: [consumer_config] parallel must be a whole number from 1 to 64"
                )
        elif key in consumer and (not isinstance(consumer[key], str) or not consumer[key]):
            raise ConsumeUsageError(f"{path}: [consumer_config] {key} must be a non-empty string")
    exchange = consumer.get("dead_letter_exchange", DEFAULT_EXCHANGE)
    dl_queue = consumer.get("dead_letter_queue", DEFAULT_QUEUE)
    queues = conf["queues"]
    if dl_queue in queues:
        raise ConsumeUsageError(
            f"{path}: the dead-letter queue {dl_queue!r} must not be in [queues] "
            "(fedora-messaging would consume it, and drop what it refuses again)"
        )
    for name, q in queues.items():
        if (q.get("arguments") or {}).get(DLX_ARGUMENT) != exchange:
            raise ConsumeUsageError(
                f"{path}: [queues.{name}] needs arguments = {{{DLX_ARGUMENT} = {exchange!r}}}: "
                "without it the broker drops the messages fedora-messaging refuses"
            )
    try:
        url_parameters(conf["amqp_url"])
    except ValueError as exc:
        raise ConsumeUsageError(f"{path}: {exc}") from exc
    return ConsumeConfig(
        fm_config=path,
        fm_config_origin=origin,
        conf=conf,
        queues=tuple(queues),
        db_url=consumer.get("db_url"),
        dead_letter_exchange=exchange,
        dead_letter_queue=dl_queue,
        passive=bool(conf.get("passive_declares")),
        parallel=int(consumer.get("parallel", DEFAULT_PARALLEL)),
    )


def setup_logging(path: str, conf: Any, level: str | None = None, fmt: str = "text") -> None:
    """fedora-messaging's ``log_config`` when the file has one (``--log-level`` and
    ``--log-format`` still apply on top when given); else stderr, our lines at INFO (or
    ``level``) and everybody else's (fedora-messaging logs each message at INFO) at WARNING."""
    from relengotron.adapters.cli import logs

    try:
        with open(path, "rb") as f:
            has_own = "log_config" in tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        has_own = False
    if has_own:
        conf.setup_logging()
        if level is not None:
            for name in logs.OURS:
                logging.getLogger(name).setLevel(level)
        if fmt != "text":
            logs.reformat(fmt)
        return
    logs.configure(level, fmt, default="INFO", stream=sys.stderr)
    # pika logs each failed connection attempt at ERROR, with a traceback; the drainer
    # says it once per attempt, at WARNING.
    if level != "DEBUG":
        logging.getLogger("pika").setLevel(logging.CRITICAL)
