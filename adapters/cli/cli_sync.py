"""``relengotron sync COMPOSE``: sync a compose whose gate passes to the master mirror."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM, UsageError
from relengotron.adapters.services.sync import SyncUsageError, sync_compose


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "sync", help="sync a compose whose gate passes to the master mirror ([sync] target)"
    )
    p.add_argument("compose", metavar="COMPOSE", help="a compose id (Fedora-Rawhide-20261206.n.0)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="decide and show what rsync would copy; record and change nothing",
    )
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int | None:
    if args.command != "sync":
        return None
    cfg = bootstrap.settings(args.config)
    app = bootstrap.application(args.db, cfg, create=False)
    try:
        report = sync_compose(app, cfg, args.compose, dry_run=args.dry_run)
    except SyncUsageError as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(render(report.as_json()))
    return EXIT_OK if report.synced else EXIT_PROBLEM


def render(out: dict[str, Any]) -> str:
    gate = "passed" if out["policies_satisfied"] else "NOT passed"
    lines = [f"{out['compose']}: {out['outcome']}{' (dry run)' if out['dry_run'] else ''}"]
    if out["policies_satisfied"] is not None:
        lines.append(f"  gate {gate}: {out['summary']}")
    if out["detail"]:
        lines.append(f"  {out['detail']}")
    result = out["result"]
    if "files_transferred" in result:
        lines.append(
            f"  {result['files_transferred']} of {result.get('files', '?')} files copied "
            f"({result.get('bytes_transferred', '?')} bytes)"
        )
    return "\n".join(lines)
