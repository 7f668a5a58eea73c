"""``--log-level`` and ``--log-format json`` (adapters/cli/logs.py), also for ``consume``,
whose logging is set up from the fedora-messaging file (adapters/cli/cli_live_config.py)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from relengotron.adapters.cli import logs
from relengotron.adapters.cli.cli_live_config import setup_logging


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    ours = {name: logging.getLogger(name).level for name in (*logs.OURS, "pika")}
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lvl in ours.items():
        logging.getLogger(name).setLevel(lvl)


def test_json_lines_from_the_level_given():
    stream = io.StringIO()
    logs.configure("INFO", "json", stream=stream)
    logging.getLogger("relengotron.adapters.x").debug("not shown")
    logging.getLogger("relengotron.adapters.x").info("shown %d", 1)
    logging.getLogger("some.library").info("a library's INFO: not shown")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert (record["level"], record["logger"], record["message"]) == (
        "INFO",
        "relengotron.adapters.x",
        "shown 1",
    )
    assert record["time"].endswith("+00:00")


def test_consume_without_log_config_takes_the_options(tmp_path, capsys):
    fm = tmp_path / "fm.toml"
    fm.write_text('amqp_url = "amqp://localhost"\n')
    setup_logging(str(fm), conf=None, level="WARNING", fmt="json")
    logging.getLogger("relengotron.adapters.live").info("not shown: below WARNING")
    logging.getLogger("relengotron.adapters.live").warning("the broker went away")
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["message"] == "the broker went away"
    setup_logging(str(fm), conf=None)  # the defaults: text, ours at INFO
    logging.getLogger("relengotron.adapters.live").info("ready")
    assert capsys.readouterr().err.rstrip().endswith("adapters.live INFO ready")
