"""Logging for every command: ``--log-level LEVEL`` and ``--log-format text|json``,
on stderr (``consume`` may hand it to fedora-messaging's ``log_config`` instead)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
OURS = ("relengotron",)  # our loggers (every module is under the namespace)


def add_options(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    """The two options; on a subcommand they default to SUPPRESS so that they may be
    given before or after the command."""
    p.add_argument(
        "--log-level",
        type=str.upper,
        choices=LEVELS,
        metavar="LEVEL",
        default=None if top else argparse.SUPPRESS,
        help="our log messages from this level on (DEBUG, INFO, WARNING, ...; default "
        "WARNING, INFO for consume)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text" if top else argparse.SUPPRESS,
        help="log lines as text (default) or one JSON object per line",
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and
    the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure(
    level: str | None,
    fmt: str = "text",
    *,
    default: str = "WARNING",
    stream: TextIO | None = None,
) -> None:
    """Log to ``stream`` (stderr): ours from ``level`` (else ``default``) on, the
    libraries' from WARNING on (from ``level`` when it is higher; DEBUG shows them all)."""
    ours = level or default
    root = logging.getLogger()
    for h in list(root.handlers):  # ours from an earlier call (main run in-process)
        if getattr(h, "relengotron", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.relengotron = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    number = logging.getLevelName(ours)
    root.setLevel(logging.DEBUG if number == logging.DEBUG else max(number, logging.WARNING))
    for name in OURS:
        logging.getLogger(name).setLevel(ours)


def reformat(fmt: str) -> None:
    """Give every handler of the root logger our format (after a ``log_config``)."""
    for h in logging.getLogger().handlers:
        h.setFormatter(formatter(fmt))
