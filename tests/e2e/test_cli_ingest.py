"""``relengotron ingest`` and ``relengotron events`` end to end, on real messages."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relengotron.adapters.cli.main import main
from relengotron.adapters.translate import FAMILIES

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ingest_json(capsys, *argv: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, "ingest", "--json", "--no-progress", *argv)
    return code, json.loads(out)


def event_count(url: str) -> int:
    from relengotron.adapters.store.store import open_app

    app = open_app(url)
    return app.recorder.max_notification_id() or 0


def test_whole_corpus_twice(capsys, corpus_dir, store_url):
    files = sorted(str(p) for p in (corpus_dir / "real").glob("*.jsonl"))
    code, first = ingest_json(capsys, "--db", store_url, *files)
    assert code == 0
    lines = sum(1 for f in files for line in Path(f).read_text().splitlines() if line.strip())
    assert first["read"] == lines
    assert first["rejected"] == 0
    assert first["new"] + first["duplicate"] == lines
    assert first["unrecognized"] == 0, first["unrecognized_topics"]
    assert set(first["families"]) >= set(FAMILIES)
    # The real corpus has no pungi/ODCS messages and none of our own topics.
    seen = [fam for fam in FAMILIES if fam not in ("compose", "relengotron")]
    assert all(first["families"][fam] > 0 for fam in seen), first["families"]
    events = event_count(store_url)
    assert events >= first["events"] > first["new"]

    code, second = ingest_json(capsys, "--db", store_url, *files)
    assert code == 0
    assert second["new"] == 0
    assert second["duplicate"] == lines
    assert second["events"] == 0
    assert event_count(store_url) == events


def test_unknown_topic_is_recorded_and_counted(capsys, tmp_path, store_url):
    f = tmp_path / "odd.jsonl"
    f.write_text(
        json.dumps(
            {
                "topic": "org.fedoraproject.prod.fedocal.meeting.new",
                "body": {"x": 1},
                "id": "2026-unk",
            }
        )
        + "\n"
    )
    code, s = ingest_json(capsys, "--db", store_url, str(f))
    assert code == 0
    assert (s["new"], s["unrecognized"]) == (1, 1)
    assert s["unrecognized_topics"] == {"org.fedoraproject.prod.fedocal.meeting.new": 1}
    from relengotron.adapters.store.store import open_app

    stored = open_app(store_url).stored_message("2026-unk")
    assert stored is not None and stored.status == "unrecognized" and stored.body == {"x": 1}


def test_broken_lines_are_named_kept_and_the_rest_ingested(capsys, tmp_path, store_url, corpus_dir):
    good = (
        (corpus_dir / "real" / "koji-fedoramessaging-messages_tests.jsonl").read_text().splitlines()
    )
    lines = [
        good[0],
        "{this is not json",
        good[1],
        '["an", "array"]',
        '{"body": {"no": "topic"}}',
        "",
        good[2],
        '"just a string"',
    ]
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "ingest", "--db", store_url, "--no-progress", str(f))
    assert code == 1
    assert f"{f}:2: not JSON" in out
    assert f"{f}:4: not a JSON object (got list)" in out
    assert f"{f}:5: no topic" in out
    assert f"{f}:8: not a JSON object (got str)" in out
    # Read again: each line, good or bad, is recorded already (issue 14: a rerun is all
    # duplicates, no second record of a rejected line; `rejected` counts records written).
    code, s = ingest_json(capsys, "--db", store_url, str(f))
    assert code == 0
    assert s["rejected"] == 0 and s["duplicate"] == 7 and s["new"] == 0
    assert s["rejections"] == []
    # the same lines under another name: rejected again, each its own record
    g = tmp_path / "mixed-again.jsonl"
    g.write_text("\n".join(lines) + "\n")
    code, s = ingest_json(capsys, "--db", store_url, str(g))
    assert code == 1
    assert s["rejected"] == 4 and s["duplicate"] == 3 and s["new"] == 0
    assert [r["line"] for r in s["rejections"]] == [2, 4, 5, 8]
    # the broken text itself is kept, named with its file and line
    from relengotron.adapters.store.store import open_app
    from relengotron.domain import ids

    app = open_app(store_url)
    kept = app.repository.get(ids.rejected_line_id(str(f), 2, "{this is not json", None))
    assert (kept.raw, kept.reason.startswith("not JSON")) == ("{this is not json", True)


def test_a_line_over_the_limit_is_kept_named_and_the_rest_ingested(
    capsys, tmp_path, store_url, corpus_dir
):
    """Issue 18: a line longer than ``--max-line-bytes`` is not held; it is recorded as
    rejected input with its size, SHA-256 and first bytes, and the lines after it are
    ingested. A limit under 1 byte is a usage error."""
    import hashlib

    good = (
        (corpus_dir / "real" / "koji-fedoramessaging-messages_tests.jsonl").read_text().splitlines()
    )
    long = json.dumps({"topic": "x", "body": {"pad": "y" * 50_000}})
    f = tmp_path / "long.jsonl"
    f.write_text("\n".join([good[0], long, good[1]]) + "\n")
    limit = max(len(good[0]), len(good[1])) + 10
    code, s = ingest_json(capsys, "--db", store_url, "--max-line-bytes", str(limit), str(f))
    assert code == 1
    assert s["new"] == 2 and s["rejected"] == 1
    (rejection,) = s["rejections"]
    assert rejection["line"] == 2
    assert f"longer than the limit of {limit:,} bytes" in rejection["reason"]
    assert hashlib.sha256(long.encode()).hexdigest() in rejection["reason"]
    from relengotron.adapters.store.store import open_app
    from relengotron.domain import ids

    app = open_app(store_url)
    head = long.encode()[:4096].decode()
    kept = app.repository.get(ids.rejected_line_id(str(f), 2, head, None))
    assert kept.raw == head and "longer than the limit" in kept.reason
    code, _, err = run(capsys, "ingest", "--db", store_url, "--max-line-bytes", "0", str(f))
    assert code == 2 and "--max-line-bytes must be at least 1" in err


def test_formats_array_datagrepper_gzip_and_stdin(capsys, tmp_path, store_url, corpus_dir):
    records = [
        json.loads(x)
        for x in (corpus_dir / "real" / "fedmsg_repo_docs_tests.jsonl").read_text().splitlines()
    ]
    arr = tmp_path / "array.json"
    arr.write_text(json.dumps(records[:3], indent=2))
    dg = tmp_path / "dg.json"
    raw = [
        {
            "topic": r["topic"],
            "msg": r["body"],
            "msg_id": r.get("id"),
            "timestamp": 1500000000 + i,
            "i": 1,
            "headers": {},
        }
        for i, r in enumerate(records[3:6])
    ]
    dg.write_text(json.dumps({"raw_messages": raw, "count": 3, "pages": 1, "total": 3}))
    gz = tmp_path / "more.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in records[6:9]) + "\n")
    code, s = ingest_json(capsys, "--db", store_url, str(arr), str(dg), str(gz))
    assert code == 0 and s["read"] == 9 and s["rejected"] == 0
    assert s["new"] + s["duplicate"] == 9

    # stdin, through the installed console script
    env = {**os.environ, "RELENGOTRON_DB": store_url}
    body = "\n".join(json.dumps(r) for r in records[9:]) + "\n"
    proc = subprocess.run(
        [sys.executable, "-m", "relengotron", "ingest", "--json", "-"],
        input=body,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s["read"] == len(records) - 9 and s["files"] == ["<stdin>"]


def test_usage_errors_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "ingest", "--no-progress", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "no such file" in err
    with pytest.raises(SystemExit) as exc:
        main(["ingest"])
    assert exc.value.code == 2
    code, _, err = run(capsys, "events", "--change", "bash", "--db", f"sqlite:///{tmp_path}/x.db")
    assert code == 2 and "NAMESPACE/REPO/REV" in err
    code, _, err = run(capsys, "ingest", "--db", "mysql://x/y", str(tmp_path))
    assert code == 2


def test_events_of_a_build_and_a_change(capsys, tmp_path, store_url):
    rev = "0123456789abcdef0123456789abcdef01234567"
    msgs = [
        {
            "topic": "org.fedoraproject.prod.git.receive",
            "id": "m1",
            "body": {
                "commit": {
                    "namespace": "rpms",
                    "repo": "bash",
                    "rev": rev,
                    "branch": "rawhide",
                    "agent": "alice",
                    "summary": "Update to 5.3",
                    "stats": {"files": {"bash.spec": {}}},
                }
            },
        },
        {
            "topic": "org.fedoraproject.prod.buildsys.build.state.change",
            "id": "m2",
            "body": {
                "name": "bash",
                "version": "5.3",
                "release": "1.fc44",
                "new": 1,
                "old": 0,
                "build_id": 42,
                "owner": "alice",
                "instance": "primary",
                "task_id": 9,
                "request": [
                    f"git+https://src.fedoraproject.org/rpms/bash.git#{rev}",
                    "rawhide",
                    {},
                ],
            },
        },
        {
            "topic": "org.fedoraproject.prod.buildsys.tag",
            "id": "m3",
            "body": {
                "name": "bash",
                "version": "5.3",
                "release": "1.fc44",
                "tag": "rawhide-pending",
                "build_id": 42,
                "owner": "alice",
                "user": "bodhi",
                "instance": "primary",
            },
        },
    ]
    f = tmp_path / "s.jsonl"
    f.write_text("\n".join(json.dumps(m) for m in msgs) + "\n")
    assert run(capsys, "ingest", "--db", store_url, "--no-progress", str(f))[0] == 0
    code, out, _ = run(
        capsys, "events", "--db", store_url, "--subject", "bash-5.3-1.fc44", "--json"
    )
    assert code == 0
    events = json.loads(out)
    assert [e["event"] for e in events] == ["Build.Seen", "Build.StateChanged", "Build.Tagged"]
    assert events[1]["state"] == "COMPLETE" and events[1]["change"] == f"rpms/bash#{rev}"
    assert events[2]["tag"] == "rawhide-pending" and events[2]["message"] == "m3"
    assert events[2]["topic"] == "org.fedoraproject.prod.buildsys.tag"
    code, out, _ = run(capsys, "events", "--db", store_url, "--change", f"rpms/bash/{rev}")
    assert code == 0
    assert " Pushed " in out and " BuildLinked " in out and "alice" in out
    code, out, _ = run(capsys, "events", "--db", store_url, "--subject", "nope-1-1")
    assert code == 1 and "No events" in out  # a build nothing is known about: no
