"""Read-model catch-up speed: ``relengotron project --rebuild`` against reading the log.

    python bench/replay.py [--n 50000] [--db URL] [--page-size 5000] [--repeat 3]

Without ``--db``, records N generated messages (mixed families, real body shapes)
into a fresh SQLite store through the real ingest path and runs the decider over
them, so the log holds input messages, subject events, gates, decisions and
outbox actions. Then, in the same run:

* baseline: read the raw event table alone, page by page in log order (the
  same query shape the projector uses, every row, no decoding);
* rebuild: drop the read models and fold the whole log again (read the topics
  the read models use, decode, fold, write rows and the tracked position page by
  page, one transaction per page);
* catch-up: record 1,000 more messages and bring the read models up to date.

Each timing is the best of ``--repeat`` runs. The last line is JSON:
``log_events``, ``folded_events``, ``baseline_rows_per_s``, ``rebuild_events_per_s``
(log events per second of rebuild), ``folded_events_per_s``, ``ratio``
(rebuild / baseline), ``target_events_per_s`` (20,000) and ``met``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import stream

from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.settings import DEFAULT_POLICIES
from relengotron.adapters.store.readmodels import Projector
from relengotron.adapters.store.store import open_app
from relengotron.domain.application import RelengApp
from relengotron.projections.config import GatingConfig
from relengotron.projections.processes.decider import Decider

TARGET = 20_000


def read_raw(app: RelengApp, page: int) -> tuple[int, float]:
    """Every row of the event table, page by page, undecoded: rows and seconds."""
    recorder = app.recorder
    table = recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    engine = recorder.datastore.engine  # type: ignore[attr-defined]
    rows = 0
    t0 = time.perf_counter()
    with engine.connect() as conn:
        name = conn.dialect.identifier_preparer.format_table(table)
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"SELECT id, originator_id, originator_version, topic, state FROM {name} "
            f"WHERE id > {mark} ORDER BY id LIMIT {mark}"
        )
        after = 0
        while True:
            got = conn.exec_driver_sql(sql, (after, page)).fetchall()
            if not got:
                break
            rows += len(got)
            after = got[-1][0]
    return rows, time.perf_counter() - t0


def record(app: RelengApp, tmp: Path, n: int, seed: int) -> None:
    src = tmp / f"in-{seed}.jsonl"
    src.write_text("".join(json.dumps(m) + "\n" for m in stream(n, seed=seed)))
    ingest_files(app, [str(src)])
    Decider(app, load_policy_set(DEFAULT_POLICIES), GatingConfig()).run()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000, help="messages to generate (no --db)")
    ap.add_argument("--db", help="an existing store to measure (default: generate one)")
    ap.add_argument("--page-size", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        app = open_app(args.db or f"sqlite:///{tmp / 'store.db'}")
        if not args.db:
            t0 = time.perf_counter()
            record(app, tmp, args.n, seed=1)
            print(f"recorded {args.n:,} messages and decided in {time.perf_counter() - t0:.1f} s")
        projector = Projector(app, GatingConfig(), page_size=args.page_size)
        raw = min((read_raw(app, args.page_size) for _ in range(args.repeat)), key=lambda x: x[1])
        log_events, raw_s = raw
        best = None
        for _ in range(args.repeat):
            report = projector.rebuild()
            if best is None or report.seconds < best.seconds:
                best = report
        assert best is not None
        more = 1000
        if not args.db:
            record(app, tmp, more, seed=2)
            catch_up = projector.run()
        else:
            catch_up = None
    rebuild_rate = log_events / best.seconds
    print(f"log:        {log_events:,} events")
    raw_rate = log_events / raw_s
    print(f"baseline:   read the raw event table in {raw_s:.2f} s ({raw_rate:,.0f} rows/s)")
    print(
        f"rebuild:    {best.events:,} events folded into {best.rows:,} rows in "
        f"{best.seconds:.2f} s = {rebuild_rate:,.0f} log events/s "
        f"({best.events_per_s:,.0f} folded events/s); target {TARGET:,}"
    )
    if catch_up is not None:
        print(
            f"catch-up:   {more:,} more messages ({catch_up.events:,} events) in "
            f"{catch_up.seconds:.3f} s"
        )
    print(
        json.dumps(
            {
                "log_events": log_events,
                "folded_events": best.events,
                "rows_written": best.rows,
                "baseline_rows_per_s": round(log_events / raw_s),
                "rebuild_s": round(best.seconds, 3),
                "rebuild_events_per_s": round(rebuild_rate),
                "folded_events_per_s": round(best.events_per_s),
                "ratio": round(rebuild_rate / (log_events / raw_s), 3),
                "catch_up_events": catch_up.events if catch_up else None,
                "catch_up_s": round(catch_up.seconds, 3) if catch_up else None,
                "target_events_per_s": TARGET,
                "met": rebuild_rate >= TARGET,
            }
        )
    )


if __name__ == "__main__":
    main()
