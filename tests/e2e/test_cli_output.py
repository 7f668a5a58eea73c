"""What the commands print for people (issue 19, "No floods"): summaries with counts and
the interesting few; every row with ``--verbose`` or ``--json``; progress bars on stderr
only when asked for or on a terminal, never in the JSON; ``--version``, ``--log-level``
and JSON logs on every command.

Each runs ``relengotron`` as a separate process, as an operator does, on a store of
generated messages (``bench/generate.py``: real shapes, hundreds of builds).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from tests.e2e.test_cli_exits import REPO, relengotron

SAMPLE = REPO / "config" / "examples" / "sample-stream.jsonl"
BOUND = 30  # lines a summary may take, whatever the size of the log


def generated(where: Path, n: int) -> Path:
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = where / f"generated-{n}.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in module.stream(n)))
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, Path]:
    """3,000 generated messages (about 230 builds), recorded without deciding."""
    where = tmp_path_factory.mktemp("big")
    src = generated(where, 3000)
    store = where / "big.db"
    done = relengotron("ingest", "--no-decide", str(src), "--db", str(store), cwd=where)
    assert done.returncode == 0, done.stderr
    return src, store


def copy(store: Path, to: Path) -> Path:
    out = to / store.name
    out.write_bytes(store.read_bytes())
    return out


def test_decide_prints_a_summary_with_counts_not_a_line_per_decision(big, tmp_path):
    _, store = big
    store = copy(store, tmp_path)
    done = relengotron("decide", "--db", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) <= BOUND, done.stdout
    head = re.search(r"(\d[\d,]*) decision\(s\) changed for (\d[\d,]*) build\(s\)", lines[0])
    assert head, lines[0]
    builds = int(head.group(2).replace(",", ""))
    assert builds > 100  # the store is big enough to have flooded
    assert re.search(rf"verdicts now: {builds:,} hold", done.stdout), done.stdout
    assert "(was None)" not in done.stdout
    assert done.stderr == ""  # not a terminal: no progress bar


def test_decide_verbose_and_json_give_every_decision(big, tmp_path):
    _, store = big
    for flag in ("--verbose", "--json"):
        where = tmp_path / flag.strip("-")
        where.mkdir()
        done = relengotron("decide", flag, "--db", str(copy(store, where)), cwd=where)
        assert done.returncode == 0, done.stderr
        if flag == "--json":
            report = json.loads(done.stdout)
            assert len(report["changes"]) == report["decisions"] > 100
        else:
            assert len(done.stdout.splitlines()) > 100
            assert "(was None)" not in done.stdout


def test_ingest_prints_the_decider_summary_too(big, tmp_path):
    src, _ = big
    done = relengotron("ingest", str(src), "--db", str(tmp_path / "x.db"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    decider = done.stdout[done.stdout.index("Decider at") :]
    assert len(decider.splitlines()) <= BOUND, decider


def test_progress_goes_to_stderr_when_asked_and_never_into_the_json(big, tmp_path):
    _, store = big
    store = copy(store, tmp_path)
    done = relengotron("decide", "--json", "--progress", "--db", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decisions"] > 100  # stdout is the JSON alone
    assert "decide" in done.stderr and "events" in done.stderr, done.stderr
    done = relengotron("ingest", "--progress", str(SAMPLE), "--db", str(tmp_path / "y.db"),
                       cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0
    assert "ingest" in done.stderr, done.stderr
    assert "ingest:" not in done.stdout and "\r" not in done.stdout
    for argv in (["project", "--rebuild", "--progress"], ["replay", "--verify", "--progress"]):
        done = relengotron(*argv, "--db", str(tmp_path / "y.db"), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert argv[0] in done.stderr, (argv, done.stderr)
        assert "\r" not in done.stdout


def test_old_no_progress_flag_still_works(tmp_path):
    for argv in (
        ["ingest", "--no-progress", str(SAMPLE)],
        ["decide", "--no-progress"],
        ["project", "--no-progress"],
        ["replay", "--verify", "--no-progress"],
    ):
        done = relengotron(*argv, "--db", str(tmp_path / "x.db"), cwd=tmp_path)
        assert done.returncode == 0, (argv, done.stderr)
        assert done.stderr == "", (argv, done.stderr)


@pytest.fixture
def sample_store(tmp_path) -> Path:
    store = tmp_path / "s.db"
    done = relengotron("ingest", "--no-progress", str(SAMPLE), "--db", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return store


def test_act_dry_run_counts_the_messages_and_names_their_builds(sample_store, tmp_path):
    done = relengotron("act", "--dry-run", "--db", str(sample_store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "31 publish would-publish" in done.stdout, done.stdout
    assert "would-publish" not in done.stdout.split("\n", 1)[1]  # counted, not listed
    assert len(done.stdout.splitlines()) <= BOUND
    verbose = relengotron("act", "--dry-run", "--verbose", "--db", str(sample_store), cwd=tmp_path)
    rows = [line for line in verbose.stdout.splitlines() if "would-publish " in line]
    assert len(rows) == 31, verbose.stdout
    assert all(re.search(r"decision\.changed \S+-\S+-\S+ \(\w+\)", r) for r in rows), rows


def test_act_with_koji_unreachable_says_each_error_once_with_a_count(sample_store, tmp_path):
    settings = tmp_path / "koji.toml"
    settings.write_text('[koji]\nhub = "http://127.0.0.1:1/kojihub"\nretries = 0\ntimeout = 2\n')
    argv = ["act", "--db", str(sample_store), "--config", str(settings)]
    done = relengotron(*argv, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr  # partial: the moves stay pending
    problems = [line for line in done.stdout.splitlines() if "Connection refused" in line]
    assert problems == ["     6 x koji unavailable after 1 tries: Connection refused"], done.stdout
    assert "HTTPConnectionPool" not in done.stdout
    assert "6 move transient" in done.stdout


def test_version():
    done = relengotron("--version", cwd=REPO)
    assert done.returncode == 0
    from importlib.metadata import version

    assert done.stdout.strip() == f"relengotron {version('releng-o-tron')}"


def test_every_command_takes_log_level_and_json_logs():
    from relengotron.adapters.cli.main import build_parser
    from tests.e2e.test_cli_exits import ALL, commands

    parser = build_parser()
    for name in [*ALL, "consume"]:
        argv = commands(Path("/tmp")).get(name, [name])
        for before, after in (([], ["--log-level", "info", "--log-format", "json"]),
                              (["--log-level", "info", "--log-format", "json"], [])):  # fmt: skip
            args = parser.parse_args([*before, *argv, *after])
            assert (args.log_level, args.log_format) == ("INFO", "json"), name
        args = parser.parse_args(argv)
        assert (args.log_level, args.log_format) == (None, "text"), name


def test_json_logs_are_one_object_per_line(sample_store, tmp_path):
    argv = ["status", "nope-1-1.fc44", "--db", str(sample_store)]
    done = relengotron(*argv, "--log-level", "INFO", "--log-format", "json", cwd=tmp_path)
    assert done.returncode == 1
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert records and all(r["level"] == "INFO" and r["time"] for r in records), done.stderr
    assert any(r["message"].startswith("status: exit 1") for r in records), records
    quiet = relengotron(*argv, cwd=tmp_path)
    assert quiet.stderr == ""  # WARNING by default: nothing to say


def test_explain_orders_by_the_time_sent_and_shows_the_time_recorded(tmp_path):
    """Messages recorded in the opposite order to the one they were sent in (a backlog
    replayed newest first): the timeline follows the time sent; each step shows when
    it was recorded too; a first decision is not "(was None)"."""
    lines = SAMPLE.read_text().splitlines()
    reversed_file = tmp_path / "reversed.jsonl"
    reversed_file.write_text("\n".join(reversed(lines)) + "\n")
    store = tmp_path / "r.db"
    done = relengotron("ingest", "--no-progress", str(reversed_file), "--db", str(store),
                       cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    vim = "vim-9.1.1800-1.fc44"
    done = relengotron("explain", vim, "--db", str(store), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["timeline"]
    messages = [s for s in steps if s["kind"] == "message"]
    assert len(messages) > 5
    sent = [s["at"] for s in messages]
    assert sent == sorted(sent)  # by the time sent ...
    assert [s["position"] for s in messages] != sorted(s["position"] for s in messages)
    assert all(s["recorded_at"] for s in steps)  # ... the time recorded beside it
    text = relengotron("explain", vim, "--db", str(store), cwd=tmp_path).stdout
    assert "(was None)" not in text and "first decision" in text
    first = next(line for line in text.splitlines() if "message " in line)
    assert "recorded" in first, first


def test_a_terminal_gets_a_progress_bar_without_asking(big, tmp_path):
    """On a terminal (a pseudo-terminal of 120 columns here) ``decide`` shows its bar."""
    import fcntl
    import os
    import pty
    import struct
    import sys
    import termios

    _, store = big
    store = copy(store, tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 120 columns, then relengotron
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "relengotron", "decide",
                                  "--db", str(store)])  # fmt: skip
    out = b""
    try:
        while chunk := os.read(fd, 65536):
            out += chunk
    except OSError:  # the child closed the terminal
        pass
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    text = out.decode()
    assert "\rdecide: " in text and " events/s]" in text, text
    assert "Decider at position" in text
