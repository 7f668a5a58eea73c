"""Any input in, nothing lost, never a crash (issue 14): odd bytes, odd JSON, broken
compression. Each becomes a recorded message (its problems listed, the exact input kept
when the stored body differs from it) or a rejected input with the reason, one record per
line; the rest of the file is recorded; SQLite and PostgreSQL store the same thing."""

from __future__ import annotations

import base64
import gzip
import json
import lzma
from pathlib import Path
from typing import Any

import pytest
import zstandard

from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.store.store import open_app
from relengotron.domain.application import RelengApp

REJECTED = "domain.message:RejectedInput.Rejected"
RECEIVED = "domain.message:InboundMessage.Received"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def good(i: int) -> str:
    return json.dumps(
        {
            "topic": "org.fedoraproject.prod.fedocal.meeting.new",
            "id": f"good-{i}",
            "body": {"n": i},
        }
    )


def odd(key: str, body_json: str) -> str:
    """A message line whose body is given as JSON text (escapes stay as written)."""
    topic = "org.fedoraproject.prod.fedocal.meeting.new"
    return f'{{"topic": "{topic}", "id": "{key}", "body": {body_json}}}'


def write(tmp_path: Path, name: str, lines: list[str | bytes]) -> str:
    data = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def stored(app: RelengApp, topic: str) -> list[Any]:
    """Every stored event of one topic, as domain events, in log order."""
    out = []
    for n in app.recorder.select_notifications(start=1, limit=1_000_000, topics=[topic]):
        out.append(app.mapper.to_domain_event(n))
    return out


def rejected_records(app: RelengApp) -> list[Any]:
    return stored(app, REJECTED)


def exact(event: Any) -> bytes:
    return base64.b64decode(event.original)


# ------------------------------------------------------------------ the findings


def test_a_lone_surrogate_costs_no_neighbour_and_is_kept_exactly(store, tmp_path):
    line = odd("sur-1", r'{"text": "a\udc00b", "\ud800key": 1}')
    f = write(tmp_path, "s.jsonl", [good(1), line, good(2)])
    s = ingest_files(store, [f], batch_size=10)
    assert (s.read, s.new, s.rejected) == (3, 3, 0)
    m = store.stored_message("sur-1")
    assert m.body == {"text": "a\ufffdb", "\ufffdkey": 1}
    assert any("lone surrogate" in p for p in m.problems), m.problems
    assert exact(m) == line.encode()
    assert store.stored_message("good-1") is not None and store.stored_message("good-2")
    again = ingest_files(store, [f], batch_size=10)
    assert (again.new, again.duplicate, again.rejected) == (0, 3, 0)


def test_nesting_beyond_the_parser_is_a_named_rejection(store, tmp_path):
    deep = odd("deep", "[" * 1500 + "]" * 1500)
    deeper = "[" * 200_000
    f = write(tmp_path, "d.jsonl", [good(1), deep, deeper, good(2)])
    s = ingest_files(store, [f])
    assert (s.read, s.new, s.rejected) == (4, 2, 2)
    assert [r.line for r in s.rejections] == [2, 3]
    assert all("nested" in r.reason for r in s.rejections), s.rejections
    kept = {r.line: r for r in rejected_records(store)}
    assert kept[2].raw == deep and kept[3].raw == deeper


def _zstd_frames(data: bytes) -> bytes:
    """zstd as a stream of frames (as ``zstd`` writes many files): one per 2 KiB."""
    c = zstandard.ZstdCompressor()
    return b"".join(c.compress(data[i : i + 2048]) for i in range(0, len(data), 2048))


@pytest.mark.parametrize("kind", ["gz", "xz", "zst"])
def test_a_truncated_compressed_file_is_a_named_rejection(kind, tmp_path):
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    text = "".join(good(i) + "\n" for i in range(200)).encode()
    packed = {
        "gz": gzip.compress,
        "xz": lzma.compress,
        "zst": _zstd_frames,
    }[kind](text)
    whole = tmp_path / f"whole.jsonl.{kind}"
    whole.write_bytes(packed)
    s = ingest_files(app, [str(whole)])
    assert (s.read, s.new, s.rejected) == (200, 200, 0)
    cut = tmp_path / f"cut.jsonl.{kind}"
    cut.write_bytes(packed[: len(packed) // 2])
    s = ingest_files(app, [str(cut)])
    assert s.rejected == 1, s.as_json()
    (r,) = s.rejections
    assert "truncated" in r.reason or "corrupt" in r.reason, r.reason
    assert kind in r.reason or {"gz": "gzip", "zst": "zstd"}.get(kind, "") in r.reason
    assert s.read == s.duplicate + s.rejected  # the complete lines before the cut: known
    assert s.duplicate > 0
    again = ingest_files(app, [str(cut)])
    assert (again.rejected, again.duplicate) == (0, again.read)


def test_each_rejected_line_is_its_own_record_and_a_rerun_adds_none(store, tmp_path):
    f = write(tmp_path, "r.jsonl", ["{garbage", good(1), "{garbage", "{garbage", "[1]"])
    s = ingest_files(store, [f])
    assert (s.read, s.new, s.rejected, s.duplicate) == (5, 1, 4, 0)
    records = rejected_records(store)
    assert len(records) == s.rejected == 4
    assert sorted((r.source, r.line) for r in records) == [(f, 1), (f, 3), (f, 4), (f, 5)]
    assert all(r.raw in ("{garbage", "[1]") and r.reason for r in records)
    assert all(r.timestamp is not None for r in records)
    again = ingest_files(store, [f])
    assert (again.read, again.new, again.rejected, again.duplicate) == (5, 0, 0, 5)
    assert len(rejected_records(store)) == 4
    # the same content at other lines of another file: records of their own
    g = write(tmp_path, "r2.jsonl", ["{garbage"])
    assert ingest_files(store, [g]).rejected == 1
    assert len(rejected_records(store)) == 5


# ------------------------------------------------------------------ any input in


def test_nul_characters_on_both_stores(store, tmp_path):
    nul = odd("nul-1", r'{"t\u0000": "a\u0000b", "nvr": "bash-1-1\u0000"}')
    raw_nul = b"{\x00 not json"
    f = write(tmp_path, "n.jsonl", [good(1), nul, raw_nul, good(2)])
    s = ingest_files(store, [f])
    assert (s.read, s.new, s.rejected) == (4, 3, 1)
    m = store.stored_message("nul-1")
    assert m.body == {"t\ufffd": "a\ufffdb", "nvr": "bash-1-1\ufffd"}
    assert any("NUL" in p for p in m.problems), m.problems
    assert exact(m) == nul.encode()
    (r,) = rejected_records(store)
    assert "\x00" not in r.raw and exact(r) == raw_nul
    assert ingest_files(store, [f]).duplicate == 4


def test_invalid_utf8_is_recorded_with_its_exact_bytes(store, tmp_path):
    bad_msg = odd("latin-1", '{"who": "Jos\xe9"}').encode("latin-1")
    garbage = bytes(range(128, 256))
    f = write(tmp_path, "u.jsonl", [good(1), bad_msg, garbage, good(2)])
    s = ingest_files(store, [f])
    assert (s.read, s.new, s.rejected) == (4, 3, 1)
    m = store.stored_message("latin-1")
    assert m.body == {"who": "Jos\ufffd"}
    assert any("UTF-8" in p for p in m.problems), m.problems
    assert exact(m) == bad_msg
    (r,) = rejected_records(store)
    assert exact(r) == garbage and "UTF-8" in r.reason


def test_numbers_json_cannot_carry_everywhere(store, tmp_path):
    lines = [
        odd("nan", '{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400}'),
        odd("big", f'{{"id": {"9" * 30}, "neg": -{"9" * 30}}}'),
        odd("huge", '{"id": %s}' % ("7" * 5000)),
        odd("ok", f'{{"id": {-(2**63)}, "u": {2**64 - 1}, "f": 1.5}}'),
    ]
    f = write(tmp_path, "num.jsonl", lines)
    s = ingest_files(store, [f])
    assert (s.read, s.new, s.rejected) == (4, 4, 0)
    assert store.stored_message("nan").body == {
        "a": "NaN",
        "b": "Infinity",
        "c": "-Infinity",
        "d": "1e400",
    }
    assert store.stored_message("big").body == {"id": "9" * 30, "neg": "-" + "9" * 30}
    assert store.stored_message("huge").body == {"id": "7" * 5000}
    ok = store.stored_message("ok")
    assert ok.body == {"id": -(2**63), "u": 2**64 - 1, "f": 1.5} and ok.original is None
    for key in ("nan", "big", "huge"):
        m = store.stored_message(key)
        assert exact(m) == lines[["nan", "big", "huge"].index(key)].encode()
        assert m.problems, key


def test_duplicate_keys_are_a_listed_problem(store, tmp_path):
    line = odd("dup", '{"nvr": "a-1-1", "nvr": "b-1-1", "x": {"y": 1, "y": 2}}')
    f = write(tmp_path, "k.jsonl", [line])
    s = ingest_files(store, [f])
    assert s.new == 1
    m = store.stored_message("dup")
    assert m.body == {"nvr": "b-1-1", "x": {"y": 2}}  # the last wins, as in json.loads
    assert any("duplicate key" in p and "nvr" in p for p in m.problems), m.problems
    assert exact(m) == line.encode()


def test_a_20_mb_line_and_20_mb_of_garbage(store, tmp_path):
    big = odd("big-body", json.dumps({"log": "x" * 20_000_000}))
    garbage = "{" + "y" * 20_000_000
    f = write(tmp_path, "big.jsonl", [good(1), big, garbage, good(2)])
    s = ingest_files(store, [f])
    assert (s.read, s.new, s.rejected) == (4, 3, 1)
    assert len(store.stored_message("big-body").body["log"]) == 20_000_000
    (r,) = rejected_records(store)
    assert r.raw == garbage


TAG = (
    '{"topic": "org.fedoraproject.prod.buildsys.tag", "id": "%s", "body": {"build_id": %s,'
    ' "name": "bash", "version": "5.2", "release": "%s", "tag": "f44-updates-candidate",'
    ' "owner": "x", "user": "x", "instance": "primary", "x": %s}}'
)


def test_the_same_odd_input_is_stored_and_decided_the_same_on_sqlite_and_postgresql(
    tmp_path, pg_store
):
    from relengotron.projections.processes.decider import Decider
    from tests.integration.test_decision_replay import CONFIG, POLICIES

    lines: list[str | bytes] = [
        good(1),
        odd("s", r'{"a": "\udc00\u0000", "n": NaN, "i": %s}' % ("1" * 40)),
        odd("d", '{"k": 1, "k": 2}'),
        "{garbage\x00",
        b"\xff\xfe not text",
        odd("nested", "[" * 2000 + "]" * 2000),
        odd("nokey", '"just a string"'),
        TAG % ("t1", "1", r"1.fc44\u0000", "NaN"),
        TAG % ("t2", "2", r"2.fc44\udc00", "1"),
        TAG % ("t3", "3" * 30, "3.fc44", "1"),
    ]
    f = write(tmp_path, "same.jsonl", lines)
    url, schema = pg_store
    states = []
    for app in (open_app(f"sqlite:///{tmp_path / 'a.db'}"), open_app(url, schema=schema)):
        s = ingest_files(app, [f])
        Decider(app, POLICIES, CONFIG).run()
        rows = []
        for n in app.recorder.select_notifications(start=1, limit=10_000):
            state = json.loads(n.state)
            state.pop("timestamp", None)
            rows.append((n.originator_id, n.originator_version, n.topic, state))
        states.append((s.read, s.new, s.rejected, rows))
        app.close()
    assert states[0] == states[1]
    assert states[0][:3] == (10, 7, 3)
    assert len(states[0][3]) > 10  # the builds, their tags, the decider's events


# ------------------------------------------------------------------ old stores


def _load_old_rows(app: RelengApp) -> None:
    """Rows the code before this change wrote (tests/fixtures, made with commit 3ae379e):
    a koji tag message, a message with a NUL in its body, and a line rejected twice
    (``{this is not json`` at lines 2 and 4 of ``old.jsonl``: one record then)."""
    from eventsourcing.persistence import StoredEvent

    rows = json.loads((FIXTURES / "store-before-issue-14.json").read_text())
    from uuid import UUID

    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=UUID(r["originator_id"]),
                originator_version=r["originator_version"],
                topic=r["topic"],
                state=r["state"].encode(),
            )
            for r in rows
        ]
    )


def test_a_store_written_before_keeps_reading(store, tmp_path):
    _load_old_rows(store)
    (old,) = rejected_records(store)
    assert (old.raw, old.source, old.line, old.original) == (
        "{this is not json",
        "old.jsonl",
        2,
        None,
    )
    assert store.stored_message("old-2").body == {"x": "a\x00b"}
    assert store.stored_message("old-2").original is None
    # the same file again (as named then): what the old record holds is a duplicate;
    # the repeat at line 4, which the old code folded into it, gets its own record now
    (tmp_path / "old.jsonl").write_bytes(
        b"".join(
            [
                json.dumps(
                    {
                        "topic": "org.fedoraproject.prod.fedocal.meeting.new",
                        "id": "old-x",
                        "body": {},
                    }
                ).encode(),
                b"\n{this is not json\n",
            ]
        )
    )
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        lines = [
            odd("old-2", r'{"x": "a\u0000b"}'),
            "{this is not json",
            odd("old-3", "{}"),
            "{this is not json",
        ]
        write(tmp_path, "old.jsonl", lines)
        s = ingest_files(store, ["old.jsonl"])
    finally:
        os.chdir(cwd)
    assert (s.read, s.new, s.duplicate, s.rejected) == (4, 1, 2, 1)
    assert sorted(r.line for r in rejected_records(store)) == [2, 4]


def test_the_read_models_project_every_odd_message(store, tmp_path):
    """What the read models read (orjson) and write (text columns; PostgreSQL refuses NUL)
    holds for every odd message: a koji tag with a NUL in its NVR, NaN, a huge integer."""
    from relengotron.adapters.store.readmodels import Projector
    from tests.integration.test_readmodels import CONFIG

    tag = (
        '{"topic": "org.fedoraproject.prod.buildsys.tag", "id": "%s", "body": {"build_id": %s,'
        ' "name": "bash", "version": "5.2", "release": "1.fc44%s", "tag": "f44-updates-candidate",'
        ' "owner": "x", "user": "x", "instance": "primary", "x": %s}}'
    )
    lines = [
        tag % ("t1", "1", r"\u0000", "1"),
        tag % ("t2", "2", r"\udc00", "NaN"),
        tag % ("t3", "3" * 40, "", "1e999"),
        tag % ("t4", "4", "", "1"),
    ]
    f = write(tmp_path, "tags.jsonl", lines)
    assert ingest_files(store, [f]).new == 4
    report = Projector(store, CONFIG).run()
    assert report.events > 4


def test_compressed_standard_input_is_known_by_its_first_bytes(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    text = "".join(good(i) + "\n" for i in range(5)).encode()
    for packed in (gzip.compress(text), lzma.compress(text), _zstd_frames(text)):
        db = f"sqlite:///{tmp_path / 'stdin.db'}"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "relengotron",
                "ingest",
                "-",
                "--db",
                db,
                "--json",
            ],
            input=packed,
            capture_output=True,
            cwd=root,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        summary = json.loads(done.stdout)
        assert summary["read"] == 5 and summary["rejected"] == 0, summary


def test_odd_elements_of_a_json_array(store, tmp_path):
    elements = [
        json.loads(good(1)),
        json.loads(odd("arr-s", r'{"t": "\udc00", "n": NaN, "k": 1, "k": 2}')),
        json.loads(odd("arr-deep", "[" * 150 + "]" * 150)),
        json.loads(good(2)),
    ]
    f = tmp_path / "array.json"
    f.write_text(
        "[\n"
        + ",\n".join(
            [
                good(1),
                odd("arr-s", r'{"t": "\udc00", "n": NaN, "k": 1, "k": 2}'),
                odd("arr-deep", "[" * 150 + "]" * 150),
                good(2),
            ]
        )
        + "\n]\n"
    )
    s = ingest_files(store, [str(f)])
    assert (s.read, s.new, s.rejected) == (4, 3, 1)
    m = store.stored_message("arr-s")
    assert m.body == {"t": "\ufffd", "n": "NaN", "k": 2}
    assert any("duplicate keys" in p for p in m.problems), m.problems
    assert any("surrogates" in p for p in m.problems), m.problems
    exact_value = json.loads(base64.b64decode(m.original))  # the element, escapes kept
    assert exact_value["body"]["t"] == "\udc00" and elements[1]["id"] == "arr-s"
    (r,) = rejected_records(store)
    assert "nested deeper than 100 levels" in r.reason and r.line == 3


def test_a_message_no_store_can_hold_costs_no_neighbour_even_past_the_reader(store):
    """The safety net: a message built without the reader (surrogates in its body)
    fails its batch; the rest is recorded one at a time and it is kept as rejected."""
    from relengotron.adapters.ingest.ingest import Ingestor
    from relengotron.domain.values import IncomingMessage

    ing = Ingestor(store, batch_size=10)
    for key, body in (("n1", {"a": 1}), ("bad", {"a": "\udc00"}), ("n2", {"a": 2})):
        ing.add(IncomingMessage(key=key, topic=TOPIC_UNKNOWN, body=body, source=f"x:{key}"))
    ing.flush()
    assert (ing.summary.new, ing.summary.rejected) == (2, 1)
    assert store.has_message("n1") and store.has_message("n2")
    (r,) = rejected_records(store)
    assert "could not be recorded as a message" in r.reason
    assert "\udc00" not in r.raw and "\\udc00" in r.raw


def test_the_safety_net_keeps_the_line_of_a_message_that_filled_its_batch(store):
    """The net keeps a failing message as its input line (its file and line number),
    also when it was the message that filled the batch (the batch is recorded while it
    is added: its line must be known by then)."""
    from relengotron.adapters.ingest.ingest import Ingestor
    from relengotron.adapters.ingest.reader import Item

    ing = Ingestor(store, batch_size=2)
    good = {"topic": TOPIC_UNKNOWN, "body": {"a": 1}, "id": "g1"}
    bad = {"topic": TOPIC_UNKNOWN, "body": {"a": "\udc00"}, "id": "b1"}  # past the reader
    ing.add_item(Item("feed.jsonl", 1, json.dumps(good), record=good))
    ing.add_item(Item("feed.jsonl", 2, "the exact line", record=bad))
    ing.flush()
    assert (ing.summary.new, ing.summary.rejected) == (1, 1)
    (r,) = rejected_records(store)
    assert "could not be recorded as a message" in r.reason
    assert (r.source, r.line, r.raw) == ("feed.jsonl", 2, "the exact line")


TOPIC_UNKNOWN = "org.fedoraproject.prod.fedocal.meeting.new"


def test_a_file_name_that_is_not_utf8(store, tmp_path):
    import os

    name = os.fsdecode(b"\xff-bad.jsonl")  # '\udcff-bad.jsonl'
    path = tmp_path / name
    path.write_bytes((good(1) + "\n{garbage\n").encode())
    s = ingest_files(store, [str(path)])
    assert (s.read, s.new, s.rejected) == (2, 1, 1)
    assert store.stored_message("good-1").source.endswith("\ufffd-bad.jsonl:1")
    assert ingest_files(store, [str(path)]).duplicate == 2


def test_the_same_odd_message_from_a_file_and_from_the_bus_is_one_message(store, tmp_path):
    """A backfill overlapping the live stream: the exact forms differ (the line's bytes,
    the received record), the stored message is the same, so the second is a duplicate."""
    from relengotron.adapters.live.messages import incoming_from

    line = odd("both-1", r'{"t": "a\udc00", "n": NaN}')
    f = write(tmp_path, "backfill.jsonl", [line])
    assert ingest_files(store, [f]).new == 1
    live = incoming_from(json.loads(line), "amqp:q")
    assert live.original is not None and live.original != store.stored_message("both-1").original
    outcome = store.record([live])
    assert (outcome.new, outcome.duplicate) == ((), ("both-1",))


def test_a_misnamed_or_cut_compressed_file(tmp_path):
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    plain = tmp_path / "plain-after-all.jsonl.gz"
    plain.write_text(good(1) + "\n")
    assert ingest_files(app, [str(plain)]).new == 1
    cut = tmp_path / "cut-in-header.jsonl.xz"
    cut.write_bytes(lzma.compress(b"x")[:3])
    s = ingest_files(app, [str(cut)])
    assert s.rejected == 1 and "truncated xz" in s.rejections[0].reason
    empty = tmp_path / "empty.jsonl.zst"
    empty.write_bytes(b"")
    assert ingest_files(app, [str(empty)]).read == 0
