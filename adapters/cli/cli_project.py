"""Commands: ``relengotron project`` keeps the read models up to date with the log."""

from __future__ import annotations

import argparse
import json
import signal
import time
from collections.abc import Callable
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.cli import progress
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM, UsageError
from relengotron.adapters.ingest.collector import fewer_collections
from relengotron.adapters.store.readmodels import ProjectReport


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "project",
        help="bring the read models (API, page, audit) up to date with the log",
    )
    p.add_argument("--rebuild", action="store_true", help="drop the read models and fold again")
    p.add_argument("--follow", action="store_true", help="keep following the log until interrupted")
    p.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="--follow: seconds between polls"
    )
    p.add_argument(
        "--page-size", type=int, default=5000, metavar="N", help="events per transaction"
    )
    progress.add_option(p)
    common(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON (one per run)")

    p = sub.add_parser(
        "health", help="how far behind the log the followers are; exit 1 past the limits"
    )
    p.add_argument(
        "--max-lag", type=int, default=10_000, metavar="N", help="log events a follower may lag"
    )
    p.add_argument(
        "--max-pending-age",
        type=float,
        default=3600.0,
        metavar="S",
        help="seconds the oldest pending outbox action may wait",
    )
    common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int | None:
    if args.command == "health":
        return cmd_health(args)
    if args.command != "project":
        return None
    if args.page_size < 1 or args.interval <= 0:
        raise UsageError("--page-size and --interval must be positive")
    cfg = bootstrap.settings(args.config)
    app = bootstrap.application(args.db, cfg)
    bar = progress.bar_for(args, "project", unit="events", through="positions")
    projector = bootstrap.projector(app, cfg, page_size=args.page_size, progress=bar)
    with fewer_collections():  # bulk work: a rebuild, or a first run, folds the whole log
        report = projector.rebuild() if args.rebuild else projector.run()
    if bar is not None:
        bar.close()
    _print(report, args.json)
    if not args.follow:
        return EXIT_OK
    stop = {"now": False}

    def _stop(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop["now"]:
            time.sleep(args.interval)
            report = projector.run()
            if report.events:
                _print(report, args.json)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _print(report: ProjectReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_json()), flush=True)
        return
    what = "Rebuilt" if report.rebuilt else "Projected"
    why = f" ({report.reason})" if report.reason else ""
    print(
        f"{what}{why}: {report.events:,} events from position {report.start:,} to "
        f"{report.position:,} in {report.seconds:.2f} s "
        f"({report.events_per_s:,.0f} events/s, {report.rows:,} rows written).",
        flush=True,
    )


def cmd_health(args: argparse.Namespace) -> int:
    """For monitoring (cron, Nagios-style checks): exit 1 when a follower lags more than
    ``--max-lag`` events or an outbox action waits longer than ``--max-pending-age``."""
    from datetime import UTC, datetime

    cfg = bootstrap.settings(args.config)
    app = bootstrap.application(args.db, cfg, create=False)
    health = bootstrap.read_model(app, cfg).health()
    problems = [
        f"{name} lags {f['lag']:,} events (limit {args.max_lag:,})"
        for name, f in health["followers"].items()
        if f["lag"] > args.max_lag
    ]
    oldest = health["outbox"]["oldest_requested_at"]
    if oldest:
        when = datetime.fromisoformat(oldest)
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        age = (datetime.now(UTC) - when).total_seconds()
        if age > args.max_pending_age:
            problems.append(
                f"the oldest pending outbox action waits {age:,.0f} s "
                f"(limit {args.max_pending_age:,.0f} s)"
            )
    health["problems"] = problems
    if args.json:
        print(json.dumps(health))
    else:
        print(f"log: {health['head']:,} events, {health['messages']:,} messages (read models)")
        for name, f in health["followers"].items():
            print(f"  {name:<11} at {f['position']:,} (lag {f['lag']:,})")
        out = health["outbox"]
        print(f"  outbox: {out['pending']:,} pending (oldest requested {oldest or '-'})")
        print("\n".join(f"PROBLEM: {p}" for p in problems) if problems else "OK")
    return EXIT_PROBLEM if problems else EXIT_OK
