"""Fuzzing ``ingest`` (issue 14): real message shapes mutated, and raw garbage.

Each hypothesis example is a batch of inputs (one JSON Lines file): real records from
``../shared/corpus/real`` with dropped keys, values of the wrong type, huge strings,
deep nesting, odd text (lone surrogates, NUL, invalid UTF-8, NaN, huge integers,
duplicate keys), truncated lines, other JSON values, redeliveries, and random bytes.
Hypothesis draws each input's kind and a seed; the mutation itself is a seeded
``random.Random``, so generation stays cheap and every run is the same
(``derandomize``). For every batch: no exception, ``read == new + duplicate +
rejected``, one stored record per rejection, and a second pass all duplicates. The
read models then project the whole fuzzed log, and the decider decides it.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.store.readmodels import Projector
from relengotron.adapters.store.store import open_app
from relengotron.domain.application import RelengApp

REJECTED = "domain.message:RejectedInput.Rejected"
PER_BATCH = 250
BATCHES = 42  # 10,500 inputs per run
KINDS = (
    "real",
    "drop",
    "wrong-type",
    "huge",
    "deep",
    "odd-text",
    "garbage",
    "truncated",
    "not-an-object",
    "no-id",
    "again",
)
ODD = (
    r"\udc00",
    r"\ud800x",
    r"\u0000",
    r"\ud83d\ude00",
    r"\\u0000",
)
ODD_VALUES = ("NaN", "Infinity", "-Infinity", "1e999", "9" * 25, "-" + "9" * 25, "7" * 4500)


def corpus(corpus_dir: Path) -> list[dict[str, Any]]:
    out = []
    for f in sorted((corpus_dir / "real").glob("*.jsonl")):
        out.extend(json.loads(line) for line in f.read_text().splitlines() if line.strip())
    return out


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a record (dict keys, list indexes), shallow first."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _set(record: Any, path: tuple[Any, ...], value: Any) -> None:
    for p in path[:-1]:
        record = record[p]
    record[path[-1]] = value


def _drop(record: Any, path: tuple[Any, ...]) -> None:
    for p in path[:-1]:
        record = record[p]
    del record[path[-1]]


def _any_value(rng: random.Random) -> Any:
    return rng.choice(
        [None, True, 0, -1, 2**63, 1.5, "", "x", [], {}, [1, "a"], {"k": None}, "\u2028é中"]
    )


def mutate(kind: str, seed: int, records: list[dict[str, Any]], done: list[bytes]) -> bytes:
    """One input line (bytes, possibly with newlines of its own for garbage)."""
    rng = random.Random(seed)
    record = json.loads(json.dumps(rng.choice(records)))
    if "id" in record and kind != "no-id":
        record["id"] = f"{record['id']}-{seed % 997}"  # some reuse: same id, other content
    paths = _paths(record)
    if kind == "again" and done:
        return rng.choice(done)
    if kind == "no-id":
        record.pop("id", None)
    elif kind == "drop":
        for path in rng.sample(paths, min(len(paths), rng.randint(1, 4))):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                _drop(record, path)
    elif kind == "wrong-type":
        for path in rng.sample(paths, min(len(paths), rng.randint(1, 3))):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                _set(record, path, _any_value(rng))
    elif kind == "huge":
        size = 1_000_000 if rng.random() < 0.05 else rng.choice([1_000, 10_000, 100_000])
        _set(record, rng.choice(paths) if paths else ("body",), "h" * size)
    elif kind == "deep":
        depth = rng.choice([50, 99, 100, 101, 150, 990, 1000, 1001, 5000, 100_000])
        half = rng.randint(0, depth)
        opens = "[" * half + '{"d": ' * (depth - half)
        closes = "}" * (depth - half) + "]" * half
        record["body"] = "@BODY@"
        return json.dumps(record).replace('"@BODY@"', opens + "1" + closes).encode()
    elif kind == "odd-text":
        text = json.dumps(record)
        cuts = sorted(rng.sample(range(len(text)), 3))
        for at in reversed(cuts):
            if text[at - 1 : at] == '"' and rng.random() < 0.5:
                text = text[:at] + rng.choice(ODD) + text[at:]  # inside a string
        if rng.random() < 0.4:
            dup = f'"body": {{"dup": 1, "dup": {rng.choice(ODD_VALUES)}, '
            text = text.replace('"body": {', dup, 1)
        data = text.encode()
        if rng.random() < 0.3:
            at = rng.randrange(len(data))
            data = data[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]) + data[at:]
        return data
    elif kind == "garbage":
        return rng.randbytes(rng.choice([1, 10, 100, 1000]))
    elif kind == "truncated":
        text = json.dumps(record)
        return text[: rng.randrange(1, len(text))].encode()
    elif kind == "not-an-object":
        return json.dumps(_any_value(rng)).encode()
    return json.dumps(record, ensure_ascii=rng.random() < 0.5).encode()


def rejected_since(app: RelengApp, position: int) -> int:
    """Rejected-input records written after log position ``position``."""
    found = app.recorder.select_notifications(position + 1, 10**9, topics=[REJECTED])
    return len(found)


def test_ingest_fuzz(corpus_dir, tmp_path):
    records = corpus(corpus_dir)
    app = open_app(f"sqlite:///{tmp_path / 'fuzz.db'}")
    seen = {"inputs": 0, "read": 0, "rejected": 0, "files": 0}
    started = time.perf_counter()

    @settings(
        max_examples=BATCHES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(
            st.tuples(st.sampled_from(KINDS), st.integers(0, 2**32)),
            min_size=PER_BATCH,
            max_size=PER_BATCH,
        )
    )
    def one_batch(recipe: list[tuple[str, int]]) -> None:
        done: list[bytes] = []
        for kind, seed in recipe:
            done.append(mutate(kind, seed, records, done))
        seen["files"] += 1
        f = tmp_path / f"batch-{seen['files']}.jsonl"
        f.write_bytes(b"\n".join(done) + b"\n")
        before = app.recorder.max_notification_id() or 0
        s = ingest_files(app, [str(f)], batch_size=100)
        assert s.read == s.new + s.duplicate + s.rejected, s.as_json()
        assert rejected_since(app, before) == s.rejected == len(s.rejections)
        again = ingest_files(app, [str(f)], batch_size=100)
        assert (again.read, again.duplicate) == (s.read, s.read), again.as_json()
        assert again.new == again.rejected == again.events == 0
        seen["inputs"] += len(done)
        seen["read"] += s.read
        seen["rejected"] += s.rejected

    one_batch()
    seconds = time.perf_counter() - started
    assert seen["inputs"] >= 10_000, seen
    assert 0 < seen["rejected"] < seen["read"], seen
    # Everything the fuzz recorded reads back through the read models (orjson, text).
    report = Projector(app, _config()).run()
    assert report.events > 0
    # ... and through the decider (gates of every fuzzed build that reached a gating tag).
    from relengotron.projections.processes.decider import Decider
    from tests.integration.test_decision_replay import CONFIG, POLICIES

    Decider(app, POLICIES, CONFIG).run()
    print(
        f"\nfuzz: {seen['inputs']:,} inputs ({seen['read']:,} lines read, "
        f"{seen['rejected']:,} rejected), each ingested twice, in {seconds:.1f} s: "
        f"{seen['inputs'] / seconds:,.0f} inputs/s"
    )


def _config() -> Any:
    from tests.integration.test_readmodels import CONFIG

    return CONFIG
