"""Bulk ingest throughput against a plain baseline on the same database, in the same run.

    python bench/ingest.py [--n 100000] [--db URL] [--batch-size 500] [--no-verify]

Writes N generated messages (mixed families, ~2% redeliveries) as JSON Lines,
ingests them into a fresh store through the real CLI path (read, parse,
translate, dedupe, record), then decodes every stored event back. The baseline
is a plain ``executemany`` of the same raw JSON rows in one transaction into a
plain table on the same kind of database (the best of three runs): ``sqlite3``
for SQLite; for PostgreSQL
(``--db postgresql+psycopg://...``, a fresh schema per run) psycopg's
``executemany`` (and, shown too, ``COPY``) into a table in that schema.

Then, unless ``--no-verify``: the decider runs over the log (as ``relengotron
ingest`` does after recording; timed apart), and on the resulting store
``relengotron replay --verify`` (``adapters.audit.audit_verify.verify``) and
``relengotron project --rebuild`` (``Projector.rebuild``) run through their real
code paths, each in a process of its own as the command would (the store opened
afresh, timed from then on); each is given in log events per second (every event
of the log, as the issue's target counts them).

``ratio`` is ingest msgs/s over the faster baseline of that database (on PostgreSQL,
COPY: psycopg's ``executemany`` is bound by round trips), ``ratio_executemany`` over
``executemany``. ``before_store_msgs_per_s``: what ingest does to each message before
the store sees it (read, parse, envelope, translate; nothing recorded), the best of
three runs; ``ceiling`` is that over the same baseline: the ratio ingest would reach
if recording cost nothing; ``of_ceiling`` is ingest over it. Last line: JSON with
msgs_per_s, baseline_rows_per_s, ratio, ceiling, verify_events_per_s,
rebuild_events_per_s and what they were measured on.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import stream

from relengotron.adapters.ingest.collector import fewer_collections
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import ingest_files, to_incoming
from relengotron.adapters.ingest.reader import InputFile
from relengotron.adapters.store.store import open_app

TARGET_EVENTS_PER_S = 50_000
BASELINE_RUNS = 3  # the best of these (one run of a baseline is noisy on a busy machine)


def _raw_rows(lines: list[str]) -> list[tuple[str, str, str]]:
    return [(json.loads(line)["id"], json.loads(line)["topic"], line) for line in lines]


def baseline(lines: list[str], path: Path) -> float:
    rows = _raw_rows(lines)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, topic TEXT, body TEXT)")
    t0 = time.perf_counter()
    with con:
        con.executemany("INSERT OR IGNORE INTO raw VALUES (?, ?, ?)", rows)
    dt = time.perf_counter() - t0
    con.close()
    return len(rows) / dt


def _pg(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _fresh_pg_schema(url: str) -> str:
    """A new schema, so every run starts from an empty store."""
    schema = f"bench_{os.getpid()}_{int(time.time())}"
    with _pg(url) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def _drop_pg_schema(url: str, schema: str) -> None:
    with _pg(url) as con:
        con.execute(f'DROP SCHEMA "{schema}" CASCADE')


def pg_baseline(lines: list[str], url: str, schema: str, run: int = 0) -> tuple[float, float]:
    """Rows/s of psycopg ``executemany`` and of ``COPY`` of the same raw rows into a
    plain table in ``schema``, each in one transaction (a fresh table each)."""
    rows = _raw_rows(lines)
    out = []
    with _pg(url) as con:
        con.autocommit = False
        for how in ("executemany", "copy"):
            table = f'"{schema}".raw_{how}_{run}'
            con.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, topic TEXT, body TEXT)")
            con.commit()
            t0 = time.perf_counter()
            with con.cursor() as cur:
                if how == "executemany":
                    cur.executemany(
                        f"INSERT INTO {table} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", rows
                    )
                else:
                    # COPY has no ON CONFLICT: the redeliveries are left out first.
                    seen: set[str] = set()
                    with cur.copy(f"COPY {table} (id, topic, body) FROM STDIN") as copy:
                        for row in rows:
                            if row[0] not in seen:
                                seen.add(row[0])
                                copy.write_row(row)
            con.commit()
            out.append(len(rows) / (time.perf_counter() - t0))
    return out[0], out[1]


def before_the_store(src: Path, runs: int = BASELINE_RUNS) -> float:
    """Msgs/s of what ingest does to each message before the store sees it, as
    ``ingest_files`` does it (read and parse the file, make the envelope, translate),
    recording nothing; the best of ``runs``. No way of recording can make ingest
    faster than this: ``ceiling`` in the result is this over the baseline."""
    best = 0.0
    for _ in range(runs):
        n = 0
        with fewer_collections():
            t0 = time.perf_counter()
            for item in InputFile(str(src)).items():
                if item.error is None:
                    to_incoming(to_envelope(item.record), "bench", item.problems, item.original)
                n += 1
            best = max(best, n / (time.perf_counter() - t0))
    return best


def timed_step(what: str, url: str, schema: str | None) -> dict[str, Any]:
    """``replay --verify`` or ``project --rebuild`` as the command runs it (its own
    process, the store opened afresh), timed from after opening the store."""
    from relengotron.adapters import bootstrap
    from relengotron.adapters.audit import audit_verify

    cfg = bootstrap.settings(None)
    app = open_app(url, schema=schema, create=False)
    t0 = time.perf_counter()
    if what == "verify":
        report = audit_verify.verify(app, cfg)
        out = {"identical": report["identical"], "messages": report["messages"]}
        out["differences"] = report["differences"][:3]
    else:
        with fewer_collections():  # as ``relengotron project`` runs it
            rebuilt = bootstrap.projector(app, cfg).rebuild()
        out = {"folded": rebuilt.events}
    out["seconds"] = time.perf_counter() - t0
    app.close()
    return out


def _step_to(conn: Any, what: str, url: str, schema: str | None) -> None:
    conn.send(timed_step(what, url, schema))


def in_own_process(what: str, url: str, schema: str | None) -> dict[str, Any]:
    """As the command runs it: a process of its own, not a pool's daemon (which may not
    start the process ``replay --verify`` decides in)."""
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=_step_to, args=(theirs, what, url, schema))
    proc.start()
    theirs.close()
    try:
        result: dict[str, Any] = mine.recv()
    except EOFError:
        raise RuntimeError(f"{what} failed (exit code {proc.join() or proc.exitcode})") from None
    proc.join()
    return result


def after_ingest(app: Any, url: str, schema: str | None, result: dict[str, Any]) -> None:
    """Decide, then ``replay --verify`` and ``project --rebuild`` on the store, timed."""
    from relengotron.adapters import bootstrap

    cfg = bootstrap.settings(None)
    policies = bootstrap.policy_set(cfg)
    t0 = time.perf_counter()
    # What ``relengotron ingest`` does after recording, but for the gating.yaml
    # fetches (no network here): decide over everything recorded, as bulk work (with
    # fewer garbage collections, as the command runs it).
    with fewer_collections():
        decided = bootstrap.decider(app, cfg, policies).run()
    result["decide_s"] = round(time.perf_counter() - t0, 2)
    result["decisions"] = len(decided.decisions)
    head = app.log_head()
    result["log_events"] = head

    verified = in_own_process("verify", url, schema)
    assert verified["identical"], verified["differences"]
    verify_s = verified["seconds"]
    result["verify_s"] = round(verify_s, 2)
    result["verify_messages_per_s"] = round(verified["messages"] / verify_s, 1)
    result["verify_events_per_s"] = round(head / verify_s, 1)

    rebuilt = in_own_process("rebuild", url, schema)
    rebuild_s = rebuilt["seconds"]
    result["rebuild_s"] = round(rebuild_s, 2)
    result["rebuild_events_per_s"] = round(head / rebuild_s, 1)
    result["rebuild_folded_events"] = rebuilt["folded"]
    print(
        f"decide: {result['decide_s']:.1f} s ({result['decisions']:,} decisions); "
        f"log {head:,} events\n"
        f"replay --verify: {head / verify_s:,.0f} events/s "
        f"({verified['messages'] / verify_s:,.0f} msgs/s, {verify_s:.1f} s, identical)\n"
        f"project --rebuild: {head / rebuild_s:,.0f} events/s ({rebuild_s:.1f} s); "
        f"target {TARGET_EVENTS_PER_S:,} events/s each",
        file=sys.stderr,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument(
        "--no-verify", action="store_true", help="ingest only: no decide, verify, rebuild"
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        lines = [json.dumps(m) for m in stream(args.n)]
        src = d / "stream.jsonl"
        src.write_text("\n".join(lines) + "\n")
        url = args.db or f"sqlite:///{d / 'store.db'}"
        schema = _fresh_pg_schema(url) if url.startswith("postgres") else None
        try:
            run(args, url, schema, d, src, lines)
        finally:
            if schema is not None:
                _drop_pg_schema(url, schema)


def run(
    args: argparse.Namespace, url: str, schema: str | None, d: Path, src: Path, lines: list[str]
) -> None:
    copy_rate = None
    if schema is not None:
        rates = [pg_baseline(lines, url, schema, run) for run in range(BASELINE_RUNS)]
        base, copy_rate = max(r[0] for r in rates), max(r[1] for r in rates)
        base_name = "psycopg executemany"
    else:
        base = max(baseline(lines, d / f"baseline-{run}.db") for run in range(BASELINE_RUNS))
        base_name = "sqlite3 executemany"
    # The ratio is to the faster plain way of writing the rows on this database
    # (PostgreSQL's own executemany is round-trip bound: COPY is its bulk path).
    best = max(base, copy_rate or 0.0)
    floor = before_the_store(src)
    app = open_app(url, schema=schema)
    t0, c0 = time.perf_counter(), time.process_time()
    summary = ingest_files(app, [str(src)], batch_size=args.batch_size)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0

    t1 = time.perf_counter()
    decoded = 0
    start = 1
    while True:
        page = app.recorder.select_notifications(start, 5000)
        if not page:
            break
        for n in page:
            app.mapper.to_domain_event(n)
            decoded += 1
        start = page[-1].id + 1
    decode_s = time.perf_counter() - t1
    assert decoded == summary.events, (decoded, summary.events)
    assert summary.new + summary.duplicate == args.n, summary.as_json()

    rate = args.n / dt
    result = {
        "n": args.n,
        "store": url.split(":", 1)[0],
        "msgs_per_s": round(rate, 1),
        "baseline": base_name,
        "baseline_rows_per_s": round(base, 1),
        "baseline_copy_rows_per_s": round(copy_rate, 1) if copy_rate else None,
        "ratio": round(rate / best, 4),
        "ratio_executemany": round(rate / base, 4),
        "new": summary.new,
        "duplicate": summary.duplicate,
        "events": summary.events,
        "decode_events_per_s": round(decoded / decode_s, 1),
        "seconds": round(dt, 2),
        # CPU seconds of this process while ingesting (the database server's not
        # included): steadier than msgs/s when other work shares the machine.
        "cpu_s": round(cpu, 2),
        "before_store_msgs_per_s": round(floor, 1),
        "ceiling": round(floor / best, 4),
        # ingest over what it does before the store: how much of it recording takes
        "of_ceiling": round(rate / floor, 4),
        "target_ratio": 0.10,
        "target_events_per_s": TARGET_EVENTS_PER_S,
    }
    copy_note = f" (COPY: {copy_rate:,.0f} rows/s)" if copy_rate else ""
    print(
        f"ingest: {rate:,.0f} msgs/s ({summary.events:,} events); "
        f"baseline {base_name}: {base:,.0f} rows/s{copy_note}; ratio {rate / best:.3f}\n"
        f"before the store (read, parse, translate; nothing recorded): {floor:,.0f} msgs/s, "
        f"the ceiling of the ratio {floor / best:.3f} (ingest runs at {rate / floor:.2f} of it)",
        file=sys.stderr,
    )
    if not args.no_verify:
        after_ingest(app, url, schema, result)
    app.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
