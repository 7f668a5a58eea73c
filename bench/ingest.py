"""Bulk ingest throughput against a plain sqlite3 baseline measured in the same run.

    python bench/ingest.py [--n 100000] [--db URL] [--batch-size 500]

Writes N generated messages (mixed families, ~2% redeliveries) as JSON Lines,
ingests them into a fresh store through the real CLI path (read, parse,
translate, dedupe, record), then decodes every stored event back. The baseline
is plain ``sqlite3`` ``executemany`` of the same raw JSON rows in one
transaction. Last line: JSON with msgs_per_s, baseline_rows_per_s, ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import stream

from adapters.ingest.ingest import ingest_files
from adapters.store.store import open_app


def baseline(lines: list[str], path: Path) -> float:
    rows = [(json.loads(line)["id"], json.loads(line)["topic"], line) for line in lines]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--batch-size", type=int, default=500)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        lines = [json.dumps(m) for m in stream(args.n)]
        src = d / "stream.jsonl"
        src.write_text("\n".join(lines) + "\n")
        base = baseline(lines, d / "baseline.db")

        url = args.db or f"sqlite:///{d / 'store.db'}"
        schema = _fresh_pg_schema(url) if url.startswith("postgres") else None
        app = open_app(url, schema=schema)
        t0 = time.perf_counter()
        summary = ingest_files(app, [str(src)], batch_size=args.batch_size)
        dt = time.perf_counter() - t0

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
            "baseline_rows_per_s": round(base, 1),
            "ratio": round(rate / base, 4),
            "new": summary.new,
            "duplicate": summary.duplicate,
            "events": summary.events,
            "decode_events_per_s": round(decoded / decode_s, 1),
            "seconds": round(dt, 2),
            "target_ratio": 0.10,
        }
        print(
            f"ingest: {rate:,.0f} msgs/s ({summary.events:,} events); "
            f"baseline sqlite3 executemany: {base:,.0f} rows/s; ratio {rate / base:.3f}",
            file=sys.stderr,
        )
        print(json.dumps(result))
        _ = os.environ


if __name__ == "__main__":
    main()
