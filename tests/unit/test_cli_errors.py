"""The central end of every command (``adapters.cli.cli_errors.run_command``): the exit-code
table applied to what a command raised. The e2e side is tests/e2e/test_cli_exits.py."""

from __future__ import annotations

import io
import sqlite3

import pytest

from relengotron.adapters.cli.cli_errors import UsageError, run_command
from relengotron.adapters.settings import SettingsError
from relengotron.adapters.store.store_errors import StoreMissing, remember, store_failure


def ended(body, *, debug: bool = False) -> tuple[int, str]:
    err = io.StringIO()
    code = run_command("demo", body, debug=debug, stderr=err)
    return code, err.getvalue()


def raising(exc: BaseException):
    def body() -> int:
        raise exc

    return body


def test_a_command_that_ends_normally_keeps_its_code():
    assert ended(lambda: 1) == (1, "")


def test_an_unexpected_exception_is_an_internal_error_70():
    code, err = ended(raising(RuntimeError("the dog ate the log")))
    assert code == 70
    assert err.count("\n") == 1
    assert "internal error (RuntimeError: the dog ate the log)" in err
    assert "--debug" in err and "Traceback" not in err


def test_debug_prints_the_traceback_then_the_line():
    code, err = ended(raising(RuntimeError("boom")), debug=True)
    assert code == 70
    assert err.startswith("Traceback (most recent call last)")
    assert err.strip().splitlines()[-1].startswith("relengotron demo: internal error")


@pytest.mark.parametrize(
    "exc",
    [
        UsageError("bad"),
        SettingsError("x.toml: bad"),
        StoreMissing("sqlite:////x.db", "no such file"),
    ],
)
def test_usage_configuration_and_store_errors_are_2(exc):
    code, err = ended(raising(exc))
    assert code == 2
    assert err == f"relengotron demo: {exc}\n"


def test_a_store_failing_mid_command_names_the_store_it_opened(tmp_path):
    bad = tmp_path / "x.db"
    bad.write_bytes(b"not a database" * 100)

    def body() -> int:
        remember(f"postgresql+psycopg://u:pw@127.0.0.1/x?f={bad}")
        sqlite3.connect(bad).execute("SELECT 1 FROM sqlite_master")
        return 0

    code, err = ended(body)
    assert code == 2
    assert err.startswith("relengotron demo: cannot use the store at postgresql+psycopg://u:***@")
    assert err.rstrip().endswith(": file is not a database")
    assert "pw" not in err


def test_integrity_errors_are_not_store_failures(tmp_path):
    conn = sqlite3.connect(tmp_path / "y.db")
    conn.execute("CREATE TABLE t (k PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as caught:
        conn.execute("INSERT INTO t VALUES (1)")
    assert store_failure(caught.value) is None


def test_interrupted_is_130():
    code, err = ended(raising(KeyboardInterrupt()))
    assert (code, err) == (130, "relengotron demo: interrupted\n")


def test_opening_an_unreachable_store_raises_what_the_consumer_retries_on():
    """``consume`` and the followers wait for a store that is down at start
    (``adapters.live.storage.STORAGE_ERRORS``): open_app must not turn the driver's
    error into one of ours; the command line names the store instead."""
    from relengotron.adapters.live.storage import STORAGE_ERRORS
    from relengotron.adapters.store.store import open_app
    from relengotron.adapters.store.store_errors import last_url

    with pytest.raises(STORAGE_ERRORS) as caught:
        open_app("postgresql://u:pw@127.0.0.1:1/x")
    assert "refused" in (store_failure(caught.value) or "").lower()
    assert last_url() == "postgresql+psycopg://u:pw@127.0.0.1:1/x"


def test_no_message_repeats_the_store_password():
    remember("postgresql+psycopg://releng:hunter2-x@db1/relengotron")
    code, err = ended(raising(RuntimeError("connect postgresql://releng:hunter2-x@db1 failed")))
    assert code == 70
    assert "hunter2-x" not in err and "releng:***@db1" in err
