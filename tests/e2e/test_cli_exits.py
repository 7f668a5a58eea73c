"""Exit codes and error lines of every command, run as an operator runs them.

The table (README, "Exit codes"): 0 all done; 1 some input rejected or some action
failed, the rest done (for a question: the answer is no); 2 usage, configuration,
or the store missing/unreachable: one line on stderr naming the URL (password
masked) and the cause, no traceback; 70 an internal error: one line, the
traceback only with ``--debug``.

PostgreSQL "unreachable" is a closed port on this machine (127.0.0.1:1), never
another host. Each case runs every command in-process (``adapters.cli.main.main``, as
the ``relengotron`` script does) and, for one command of each kind (writing,
read-only, the server), as a separate ``relengotron`` process.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NVR = "bash-5.3-1.fc44"
SECRET = "s3cr3t-pw"
UNREACHABLE = f"postgresql://relengotron:{SECRET}@127.0.0.1:1/relengotron"
MASKED = "relengotron:***@127.0.0.1:1/relengotron"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message_file(where: Path) -> Path:
    f = where / "one.jsonl"
    f.write_text(
        json.dumps(
            {
                "topic": "org.fedoraproject.prod.buildsys.tag",
                "id": "2026-exit-1",
                "headers": {"sent-at": "2026-01-01T00:00:00+00:00"},
                "body": {
                    "build_id": 1,
                    "name": "bash",
                    "version": "5.3",
                    "release": "1.fc44",
                    "tag": "f44-build-side",
                    "owner": "packager",
                    "instance": "primary",
                    "tag_id": 1,
                    "user": "packager",
                },
            }
        )
        + "\n"
    )
    return f


def commands(where: Path) -> dict[str, list[str]]:
    """Every command of the README's list, with the arguments it needs."""
    return {
        "ingest": ["ingest", "--no-progress", str(message_file(where))],
        "events": ["events", "--subject", NVR],
        "demo": ["demo"],
        "decide": ["decide"],
        "act": ["act"],
        "act --dry-run": ["act", "--dry-run"],
        "act --follow": ["act", "--follow", "--interval", "0.5"],
        "status": ["status", NVR],
        "waive": ["waive", NVR, "dist.rpmdeplint", "--reason", "test"],
        "evaluate": ["evaluate", NVR, "--policies", str(REPO / "config" / "policies")],
        "artifacts": ["artifacts"],
        "artifacts sync": ["artifacts", "sync"],
        "affected": ["affected", "bash"],
        "graph": ["graph"],
        "push": ["push", "f44-updates#1"],
        "manifest": ["manifest", "load", "--artifact", "a", "--rpms-json", "rpms.json"],
        "manifest solve": ["manifest", "solve", "--repo", "repo"],
        "project": ["project", "--no-progress"],
        "project --follow": ["project", "--no-progress", "--follow"],
        "health": ["health"],
        "serve": ["serve", "--port", str(free_port())],
        "decision": [
            "decision",
            NVR,
            "--product-version",
            "fedora-rawhide",
            "--context",
            "rawhide_pending",
        ],
        "explain": ["explain", NVR],
        "replay --until": ["replay", "--until", "2026-01-01T00:00:00"],
        "replay --verify": ["replay", "--verify", "--no-progress"],
        "override": ["override", NVR, "hold", "--reason", "test"],
    }


READ_ONLY = [
    "events", "status", "evaluate", "artifacts", "affected", "graph", "push", "health",
    "serve", "decision", "explain", "replay --until", "replay --verify",
]  # fmt: skip
# Every command of the README's list but consume, which waits for a store that is down
# (it may be starting too; README, "Consuming from the bus").
ALL = [
    "ingest", "events", "demo", "decide", "act", "act --dry-run", "act --follow", "status",
    "waive", "evaluate", "artifacts", "artifacts sync", "affected", "graph", "push",
    "manifest", "manifest solve", "project", "project --follow", "health", "serve",
    "decision", "explain", "replay --until", "replay --verify", "override",
]  # fmt: skip


def relengotron(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(REPO), **env}
    for name in ("RELENGOTRON_DB", "RELENGOTRON_CONFIG"):
        if name not in env:
            environ.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "relengotron", *argv],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


PER_CLASS = ["ingest", "status", "serve"]  # writing, read-only, the server


def in_process(
    argv: list[str], cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> subprocess.CompletedProcess[str]:
    """``relengotron ARGV`` in this process: the same ``main`` the script runs."""
    from relengotron.adapters.cli.main import main

    monkeypatch.chdir(cwd)
    monkeypatch.delenv("RELENGOTRON_DB", raising=False)
    monkeypatch.delenv("RELENGOTRON_CONFIG", raising=False)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)  # main sets it; undone after
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*argv)``: ``relengotron ARGV`` in this process, in ``tmp_path``."""
    return lambda *argv: in_process(list(argv), tmp_path, capsys, monkeypatch)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def with_db(argv: list[str], url: str) -> list[str]:
    return [*argv, "--db", url]


# ------------------------------------------------------------------ store unreachable


def check_unreachable(done: subprocess.CompletedProcess[str], name: str) -> None:
    assert done.returncode == 2, done.stderr
    line = one_line(done)
    assert line.startswith(f"relengotron {name.split()[0]}: "), line
    assert MASKED in line, line
    assert "refused" in line.lower(), line  # the cause
    assert SECRET not in done.stderr + done.stdout


@pytest.mark.parametrize("name", ALL)
def test_unreachable_postgresql_is_one_line_exit_2(tmp_path, capsys, monkeypatch, name):
    argv = with_db(commands(tmp_path)[name], UNREACHABLE)
    check_unreachable(in_process(argv, tmp_path, capsys, monkeypatch), name)


@pytest.mark.parametrize("name", PER_CLASS)
def test_unreachable_postgresql_as_a_process(tmp_path, name):
    done = relengotron(*with_db(commands(tmp_path)[name], UNREACHABLE), cwd=tmp_path)
    check_unreachable(done, name)


def test_password_from_the_environment_is_masked_too(tmp_path):
    done = relengotron("status", NVR, cwd=tmp_path, RELENGOTRON_DB=UNREACHABLE)
    assert done.returncode == 2
    assert MASKED in one_line(done)
    assert SECRET not in done.stderr + done.stdout


@pytest.mark.parametrize("name", PER_CLASS)
def test_bad_url_scheme_is_exit_2(tmp_path, name):
    done = relengotron(*with_db(commands(tmp_path)[name], "mysql://u:pw@localhost/x"), cwd=tmp_path)
    assert done.returncode == 2
    assert "unsupported database URL scheme 'mysql'" in one_line(done)


@pytest.mark.parametrize("name", ["ingest", "status", "health"])
def test_a_file_that_is_not_a_database_is_a_store_error(cli, tmp_path, name):
    bad = tmp_path / "not-a-db.db"
    bad.write_bytes(b"this is not SQLite\n" * 200)
    done = cli(*with_db(commands(tmp_path)[name], f"sqlite:///{bad}"))
    assert done.returncode == 2, done.stderr
    line = one_line(done)
    assert str(bad) in line and "not a database" in line, line
    assert bad.read_bytes() == b"this is not SQLite\n" * 200


# ------------------------------------------------------------------ no store


def check_nothing_created(
    run: Callable[[list[str]], subprocess.CompletedProcess[str]], tmp_path: Path, name: str
) -> None:
    where = tmp_path / "missing" / "dir" / "x.db"
    argv = commands(tmp_path)[name]
    before = sorted(tmp_path.rglob("*"))
    done = run(with_db(argv, f"sqlite:///{where}"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"no store at sqlite:///{where}" in one_line(done)
    assert not (tmp_path / "missing").exists()
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("name", READ_ONLY)
def test_read_only_commands_create_nothing(tmp_path, capsys, monkeypatch, name):
    check_nothing_created(
        lambda argv: in_process(argv, tmp_path, capsys, monkeypatch), tmp_path, name
    )


@pytest.mark.parametrize("name", ["status", "serve"])
def test_read_only_commands_create_nothing_as_a_process(tmp_path, name):
    check_nothing_created(lambda argv: relengotron(*argv, cwd=tmp_path), tmp_path, name)


def test_default_store_is_not_created_by_a_read_only_command(tmp_path):
    done = relengotron("status", NVR, cwd=tmp_path)
    assert done.returncode == 2
    assert f"no store at sqlite:///{tmp_path / '.relengotron' / 'relengotron.db'}" in one_line(done)
    assert not (tmp_path / ".relengotron").exists()


def test_a_bare_path_that_is_missing_is_no_store(tmp_path):
    done = relengotron("health", "--db", "nothing.db", cwd=tmp_path)
    assert done.returncode == 2
    assert f"no store at sqlite:///{tmp_path / 'nothing.db'}" in one_line(done)
    assert not (tmp_path / "nothing.db").exists()


@pytest.fixture
def empty_schema_url(pg_store):
    url, schema = pg_store
    return url + f"?options=-csearch_path%3D{schema}", schema


@pytest.mark.parametrize("name", ["status", "health", "decision", "replay --verify"])
def test_postgresql_without_our_tables_is_no_store(cli, tmp_path, empty_schema_url, name):
    url, schema = empty_schema_url
    done = cli(*with_db(commands(tmp_path)[name], url))
    assert done.returncode == 2, done.stderr
    assert "no store at postgresql" in one_line(done)
    import psycopg

    conninfo = url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchone()
    assert tables == (0,)


def test_writing_commands_create_the_store(cli, tmp_path):
    where = tmp_path / "new" / "dir" / "x.db"
    done = cli(*with_db(commands(tmp_path)["ingest"], f"sqlite:///{where}"))
    assert done.returncode == 0, done.stderr
    assert where.is_file()
    done = cli("status", NVR, "--db", f"sqlite:///{where}", "--json")
    assert done.returncode in (0, 1), done.stderr  # 1: not a gating candidate (README)
    assert json.loads(done.stdout)["nvr"] == NVR


def test_unknown_build_names_the_store_it_looked_in(cli, tmp_path):
    where = tmp_path / "x.db"
    cli(*with_db(commands(tmp_path)["ingest"], f"sqlite:///{where}"))
    for argv, code in (
        (["status", "zsh-1-1.fc44"], 1),
        (["explain", "zsh-1-1.fc44"], 1),
        (["events", "--subject", "zsh-1-1.fc44"], 1),
    ):
        done = cli(*argv, "--db", f"sqlite:///{where}")
        assert done.returncode == code, argv
        assert f"sqlite:///{where}" in done.stdout, argv


# ------------------------------------------------------------------ usage and configuration


@pytest.mark.parametrize("name", ["ingest", "status", "serve", "act"])
def test_a_settings_file_that_does_not_parse_is_exit_2(cli, tmp_path, name):
    bad = tmp_path / "bad.toml"
    bad.write_text("[koji\nhub = \n")
    argv = [*commands(tmp_path)[name], "--config", str(bad), "--db", str(tmp_path / "x.db")]
    done = cli(*argv)
    assert done.returncode == 2, done.stderr
    assert f"{bad}: not valid TOML" in one_line(done)


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_ingest_of_a_file_that_cannot_be_read_is_exit_2(tmp_path, what):
    path = tmp_path / what
    if what == "directory":
        path.mkdir()
    done = relengotron("ingest", "--no-progress", str(path), "--db", "x.db", cwd=tmp_path)
    assert done.returncode == 2
    assert str(path) in one_line(done)


@pytest.mark.parametrize(
    "argv",
    [
        ["project", "--page-size", "0"],
        ["act", "--follow", "--dry-run"],
        ["ingest", "--batch-size", "0", "-"],
        ["replay", "--until", "yesterday-ish"],
    ],
    ids=["project", "act-follow", "ingest", "replay"],
)
def test_bad_arguments_found_after_parsing_are_exit_2_on_stderr(cli, tmp_path, argv):
    store = tmp_path / "x.db"
    cli(*with_db(commands(tmp_path)["ingest"], f"sqlite:///{store}"))
    done = cli(*argv, "--db", str(store))
    assert done.returncode == 2, done.stdout + done.stderr
    assert one_line(done).startswith(f"relengotron {argv[0]}: ")
    assert done.stdout == ""


def test_argparse_usage_errors_are_exit_2(tmp_path):
    done = relengotron("status", cwd=tmp_path)
    assert done.returncode == 2
    assert "usage:" in done.stderr


# ------------------------------------------------------------------ --debug and 70


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(tmp_path, where):
    argv = ["status", NVR, "--db", UNREACHABLE]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    done = relengotron(*argv, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert MASKED in done.stderr.strip().splitlines()[-1]


def test_every_command_accepts_debug():
    from relengotron.adapters.cli.main import build_parser

    parser = build_parser()
    for name in ALL:
        argv = commands(Path("/tmp"))[name]
        assert parser.parse_args([*argv, "--debug"]).debug is True, name
        assert parser.parse_args(["--debug", *argv]).debug is True, name
        assert parser.parse_args(argv).debug is False, name


def corrupt_events(db: Path) -> None:
    """Garble every stored event's state (a store written by something else)."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE relengotron_events SET state = X'00FF00FF'")


def test_an_unexpected_failure_is_an_internal_error_exit_70(cli, tmp_path):
    store = tmp_path / "x.db"
    done = cli(*with_db(commands(tmp_path)["ingest"], f"sqlite:///{store}"))
    assert done.returncode == 0, done.stderr
    corrupt_events(store)
    done = relengotron("events", "--subject", NVR, "--db", str(store), cwd=tmp_path)
    assert done.returncode == 70, done.stderr
    line = one_line(done)
    assert "internal error" in line and "--debug" in line, line
    done = relengotron("--debug", "events", "--subject", NVR, "--db", str(store), cwd=tmp_path)
    assert done.returncode == 70
    assert "Traceback (most recent call last)" in done.stderr


def test_serve_on_an_address_in_use_is_one_line_exit_2(cli, tmp_path):
    store = tmp_path / "x.db"
    assert cli(*with_db(commands(tmp_path)["ingest"], f"sqlite:///{store}")).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("serve", "--port", str(port), "--db", str(store))
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in one_line(done)


def test_a_store_opened_read_only_refuses_writes_in_one_line(cli, tmp_path):
    store = tmp_path / "x.db"
    assert cli(*with_db(commands(tmp_path)["ingest"], f"sqlite:///{store}")).returncode == 0
    read_only = f"sqlite:///file:{store}?mode=ro&uri=true"
    done = cli("waive", NVR, "dist.rpmdeplint", "--reason", "test", "--db", read_only)
    assert done.returncode == 2, done.stderr
    assert "attempt to write a readonly database" in one_line(done)
    assert read_only in one_line(done)


def test_postgresql_store_once_written_is_found_by_read_only_commands(
    cli, tmp_path, empty_schema_url
):
    url, _ = empty_schema_url
    assert cli("health", "--db", url).returncode == 2
    assert cli(*with_db(commands(tmp_path)["ingest"], url)).returncode == 0
    done = cli("health", "--db", url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["head"] > 0


def test_a_postgresql_database_that_does_not_exist_is_no_store(cli, pg_store):
    url, _ = pg_store  # the server is up; this database is not on it
    missing = url.rsplit("/", 1)[0] + "/relengotron_no_such_database"
    done = cli("status", NVR, "--db", missing)
    assert done.returncode == 2
    line = one_line(done)
    assert "no store at postgresql" in line
    assert 'database "relengotron_no_such_database" does not exist' in line


def test_a_postgresql_server_that_never_answers_is_given_up_on(tmp_path):
    """A listener on this machine that accepts and stays silent: what a firewall that
    drops packets looks like from the client. The default timeout ends the wait."""
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        environ = {k: v for k, v in os.environ.items() if k != "PGCONNECT_TIMEOUT"}
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "relengotron", "status", NVR, "--db",
             f"postgresql://u:{SECRET}@127.0.0.1:{port}/x"],
            cwd=tmp_path, env={**environ, "PYTHONPATH": str(REPO)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert "timeout expired" in one_line(done)
    assert took < 60  # libpq tries twice (SSL, then not), 10 s each


def test_act_with_koji_unreachable_is_exit_1_and_the_moves_stay_pending(cli, tmp_path):
    """Exit 0 says all done: a move koji could not be reached for is not."""
    store = tmp_path / "k.db"
    sample = REPO / "config" / "examples" / "sample-stream.jsonl"
    assert cli("ingest", "--no-progress", str(sample), "--db", str(store)).returncode == 0
    settings = tmp_path / "koji.toml"
    settings.write_text('[koji]\nhub = "http://127.0.0.1:1/kojihub"\nretries = 0\ntimeout = 2\n')
    for dry_run in (["--dry-run"], []):
        done = cli("act", *dry_run, "--json", "--db", str(store), "--config", str(settings))
        assert done.returncode == 1, (dry_run, done.stderr)
        report = json.loads(done.stdout)
        moves = [r for r in report["still_pending"] if r["kind"] == "koji.move"]
        assert moves and all(r["outcome"] == "transient" for r in moves), report


def test_manifest_from_a_repository_that_is_not_there_is_exit_2(cli, tmp_path):
    """Like ingest of a missing file: the input named cannot be used, nothing recorded."""
    missing = tmp_path / "no-repo"
    done = cli("manifest", "solve", "--repo", str(missing), "--db", str(tmp_path / "x.db"))
    assert done.returncode == 2, done.stderr
    assert f"{missing}: no such file or directory" in one_line(done)


def test_decision_for_a_gating_point_without_policies_is_exit_2(cli, tmp_path):
    """Greenwave answers 404 "Found no applicable policies for ...": the request as
    given cannot be answered (a wrong --product-version or --context), not a "no"."""
    store = tmp_path / "x.db"
    assert cli(*with_db(commands(tmp_path)["ingest"], f"sqlite:///{store}")).returncode == 0
    argv = ["decision", NVR, "--product-version", "fedora-99", "--context", "nowhere"]
    done = cli(*argv, "--db", str(store))
    assert done.returncode == 2, done.stderr
    assert "Found no applicable policies" in one_line(done)
    answered = cli(*commands(tmp_path)["decision"], "--db", str(store))
    assert answered.returncode == 1  # the policies are not satisfied: the answer is no


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{SECRET}@localhost:abc/x",
        f"postgresql://u:{SECRET}@localhost:99999/x",
        f"postgresql://u:{SECRET}@oops@[::1/x",
    ],
    ids=["port", "port-range", "garbled"],
)
def test_a_url_that_does_not_parse_is_exit_2_password_masked(cli, url):
    done = cli("status", NVR, "--db", url)
    assert done.returncode == 2, done.stderr
    assert "not a database URL: postgresql+psycopg://u:***@" in one_line(done)
    assert SECRET not in done.stderr + done.stdout


def test_an_output_file_that_cannot_be_written_is_exit_2(cli, tmp_path):
    store = tmp_path / "x.db"
    assert cli(*with_db(commands(tmp_path)["ingest"], f"sqlite:///{store}")).returncode == 0
    where = tmp_path / "no-dir" / "graph.dot"
    done = cli("graph", "-o", str(where), "--db", str(store))
    assert done.returncode == 2, done.stderr
    assert f"{where}: No such file or directory" in one_line(done)


# ------------------------------------------------------------------ the table, command by command

SAMPLE = REPO / "config" / "examples" / "sample-stream.jsonl"
PROMOTED, QUARANTINED, UNKNOWN = "bash-5.3-1.fc44", "vim-9.1.1800-1.fc44", "zsh-1-1.fc44"
GATING = ["--product-version", "fedora-rawhide", "--context", "rawhide_pending"]
POLICIES = str(REPO / "config" / "policies")


def table(where: Path) -> list[tuple[str, list[str], int]]:
    """Every command of the parser, each with what it answers 0, 1 and 2 for on a
    store of the sample stream (README, "Exit codes"): (command, argv, code)."""
    rejected = where / "rejected.jsonl"
    rejected.write_text(SAMPLE.read_text().splitlines()[0] + "\n{not json\n")
    from tests.integration.test_validate_gating_yaml import FEDORA, GOOD

    good, bad = where / "gating.yaml", where / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text("--- !Policy\nrules: []\n")
    parents = ["--policies", str(FEDORA)]
    return [
        ("ingest", ["ingest", str(SAMPLE)], 0),
        ("ingest", ["ingest", str(rejected)], 1),
        ("ingest", ["ingest", str(where / "missing.jsonl")], 2),
        ("events", ["events", "--subject", PROMOTED], 0),
        ("events", ["events", "--subject", UNKNOWN], 1),
        ("events", ["events", "--subject", "not an nvr!"], 2),
        ("demo", ["demo", "--db", str(where / "demo.db")], 0),
        ("decide", ["decide"], 0),
        ("act", ["act", "--dry-run"], 0),
        ("act", ["act", "--follow", "--dry-run"], 2),
        ("status", ["status", PROMOTED], 0),
        ("status", ["status", UNKNOWN], 1),
        ("status", ["status", "not an nvr!"], 2),
        ("waive", ["waive", PROMOTED, "dist.rpmdeplint", "--reason", "r"], 0),
        ("waive", ["waive", "not an nvr!", "dist.rpmdeplint", "--reason", "r"], 2),
        ("evaluate", ["evaluate", PROMOTED, "--policies", POLICIES], 0),
        ("evaluate", ["evaluate", QUARANTINED, "--policies", POLICIES], 1),
        ("evaluate", ["evaluate", UNKNOWN, "--policies", POLICIES], 1),
        ("evaluate", ["evaluate", PROMOTED, "--policies", str(where / "none")], 2),
        ("artifacts", ["artifacts"], 0),
        ("artifacts", ["artifacts", "sync", "--dir", str(where / "none")], 2),
        ("affected", ["affected", PROMOTED, "bash"], 0),
        ("affected", ["affected", "not an nvr!"], 2),
        ("graph", ["graph"], 0),
        ("graph", ["graph", "--artifact", "no-such-artifact"], 1),
        ("push", ["push", "f44-updates#1"], 1),
        ("manifest", ["manifest", "load", "--artifact", "rawhide-repo", "--rpms-json", "-"], 2),
        ("project", ["project"], 0),
        ("health", ["health", "--max-pending-age", "1e12"], 0),
        ("health", ["health", "--max-lag", "-1"], 1),
        ("decision", ["decision", PROMOTED, *GATING], 0),
        ("decision", ["decision", PROMOTED], 0),  # the gating point of the settings
        ("decision", ["decision", QUARANTINED, *GATING], 1),
        ("decision", ["decision", PROMOTED, "--context", "nowhere"], 2),
        ("explain", ["explain", PROMOTED], 0),
        ("explain", ["explain", UNKNOWN], 1),
        ("explain", ["explain", "not an nvr!"], 2),
        ("replay", ["replay", "--until", "2030-01-01T00:00:00", PROMOTED], 0),
        ("replay", ["replay", "--until", "2030-01-01T00:00:00", UNKNOWN], 1),
        ("replay", ["replay", "--verify"], 0),
        ("replay", ["replay", "--until", "yesterday-ish"], 2),
        ("override", ["override", PROMOTED, "hold", "--reason", "r"], 0),
        ("override", ["override", "not an nvr!", "hold", "--reason", "r"], 2),
        ("validate-gating-yaml", ["validate-gating-yaml", str(good), *parents], 0),
        ("validate-gating-yaml", ["validate-gating-yaml", str(bad), *parents], 1),
        ("validate-gating-yaml", ["validate-gating-yaml", str(where / "none.yaml")], 2),
        ("serve", ["serve", "--port", "0"], 2),
        ("consume", ["consume", "--fm-config", str(where / "none.toml")], 2),
        # No [sync] target in these settings: a configuration problem (the gate's
        # answers, 0 and 1, are tests/e2e/test_mirror_sync.py's).
        ("sync", ["sync", "Fedora-Rawhide-20990101.n.0"], 2),
        ("rerun", ["rerun", QUARANTINED, "dist.rpmdeplint", "--reason", "r"], 0),
        ("rerun", ["rerun", UNKNOWN, "dist.rpmdeplint", "--reason", "r"], 1),
        ("rerun", ["rerun", "not an nvr!", "dist.rpmdeplint", "--reason", "r"], 2),
        ("release", ["release", "branch", "45", "--dry-run"], 0),
        ("release", ["release", "eol", "not-a-release", "--dry-run"], 2),
        # No [release.ostree] repo in these settings: a configuration problem (the
        # operations' answers are tests/e2e/test_ostree_cli.py's).
        ("ostree", ["ostree", "gc", "--keep", "3", "--dry-run"], 2),
    ]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("table")
    store = where / "sample.db"
    done = relengotron("ingest", "--no-progress", str(SAMPLE), "--db", str(store), cwd=where)
    assert done.returncode == 0, done.stderr
    return store


def test_every_command_is_in_the_table():
    from relengotron.adapters.cli.main import build_parser

    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert set(choices) == {name for name, _, _ in table(Path("/tmp"))}


ROWS = table(Path("/tmp"))


@pytest.mark.parametrize(
    "row",
    range(len(ROWS)),
    ids=[f"{name}-exit-{code}-{i}" for i, (name, _, code) in enumerate(ROWS)],
)
def test_every_command_follows_the_table(cli, tmp_path, sample_store, row):
    name, argv, code = table(tmp_path)[row]
    store = tmp_path / "sample.db"
    store.write_bytes(sample_store.read_bytes())
    if name not in ("demo", "validate-gating-yaml"):
        argv = [*argv, "--db", str(store)]
    done = cli(*argv)
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    if code == 2:  # on stderr, saying what (argparse: its usage, then the error)
        lines = done.stderr.strip().splitlines()
        assert any(line.startswith(f"relengotron {name}") for line in lines), done.stderr


def test_a_waiver_for_an_unknown_build_or_test_case_is_recorded_with_a_warning(cli, tmp_path):
    """WaiverDB takes a waiver before the build or its results exist, and so do we; but
    a typo must not pass silently: a warning on stderr, exit 0, the waiver recorded."""
    store = tmp_path / "s.db"
    assert cli("ingest", "--no-progress", str(SAMPLE), "--db", str(store)).returncode == 0
    cases = [
        (UNKNOWN, "dist.rpmdeplint", f"nothing is recorded about {UNKNOWN}"),
        (PROMOTED, "dist.rpmdeplnt", f"dist.rpmdeplnt is neither required of {PROMOTED}"),
        (PROMOTED, "dist.rpmdeplint", None),
    ]
    for nvr, testcase, warning in cases:
        done = cli("waive", nvr, testcase, "--reason", "r", "--db", str(store), "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["waiver_id"]  # recorded
        if warning is None:
            assert done.stderr == ""
        else:
            assert one_line(done).startswith(f"relengotron waive: warning: {warning}"), done.stderr
    listing = json.loads(cli("events", "--subject", UNKNOWN, "--db", str(store), "--json").stdout)
    assert [e["testcase"] for e in listing if "Waiver" in e["event"]] == ["dist.rpmdeplint"]
    done = cli("override", "zsh-2-1.fc44", "hold", "--reason", "r", "--db", str(store))
    assert done.returncode == 0
    assert one_line(done) == (
        "relengotron override: warning: nothing is recorded about zsh-2-1.fc44; "
        "the override waits for it"
    )


def test_evaluate_takes_the_gating_point_and_decision_takes_it_from_the_settings(cli, tmp_path):
    store = tmp_path / "s.db"
    assert cli("ingest", "--no-progress", str(SAMPLE), "--db", str(store)).returncode == 0
    db = ["--db", str(store), "--json"]
    at = ["--product-version", "fedora-44", "--context", "bodhi_update_push_testing"]
    done = cli("evaluate", PROMOTED, "--policies", POLICIES, *at, *db)
    assert done.returncode == 1, done.stderr  # no tier-0 result: not satisfied
    out = json.loads(done.stdout)
    assert out["applicable_policies"] == ["fedora_ci_tier0_for_testing"]
    assert (out["product_version"], out["decision_context"]) == tuple(at[1::2])
    done = cli("evaluate", PROMOTED, "--policies", POLICIES, *db)  # the settings' point
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision_context"] == "rawhide_pending"
    done = cli("evaluate", PROMOTED, "--policies", POLICIES, "--context", "nowhere", *db)
    assert done.returncode == 2, done.stdout  # as decision: Greenwave's 404, not a "no"
    assert "Found no applicable policies" in one_line(done)
    settings = tmp_path / "testing.toml"
    settings.write_text(
        '[gating]\nproduct_version = "fedora-44"\ndecision_context = "bodhi_update_push_testing"\n'
    )
    done = cli("decision", PROMOTED, *db, "--config", str(settings))
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["applicable_policies"] == ["fedora_ci_tier0_for_testing"]
