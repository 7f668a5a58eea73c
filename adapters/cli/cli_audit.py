"""Audit commands: explain, replay (--until, --verify), override."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.audit import audit, audit_asof, audit_verify
from relengotron.adapters.cli import progress
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE
from relengotron.adapters.cli.cli_gating import render_status
from relengotron.adapters.cli.subjects import check_nvr, unknown_build, warn
from relengotron.adapters.services import inputs
from relengotron.adapters.services.status import build_status


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("explain", help="the chain behind a build's decisions: messages to moves")
    p.add_argument("nvr", metavar="NVR")
    common(p)
    p.add_argument("--json", action="store_true", help="print everything as one JSON object")

    p = sub.add_parser("replay", help="the gating state as of a past instant, or verify the log")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--until", metavar="TIME", help="ISO 8601 instant (message time; naive = UTC)")
    g.add_argument(
        "--verify", action="store_true", help="re-derive every decision from the raw messages"
    )
    p.add_argument("nvrs", nargs="*", metavar="NVR", help="with --until: only these builds")
    common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    progress.add_option(p)

    p = sub.add_parser("override", help="promote or hold a build by hand, or release that")
    p.add_argument("nvr", metavar="NVR")
    p.add_argument("action", choices=("promote", "hold", "release"))
    p.add_argument("--reason", required=True, metavar="TEXT", help="why (kept with the override)")
    p.add_argument("--username", metavar="USER", help="who overrides (default: $USER)")
    common(p)
    p.add_argument("--json", action="store_true", help="print the resulting status as JSON")


def run(args: argparse.Namespace) -> int | None:
    handler = {"explain": cmd_explain, "replay": cmd_replay, "override": cmd_override}.get(
        args.command
    )
    return handler(args) if handler else None


def _setup(args: argparse.Namespace, *, create: bool = True) -> tuple[Any, Any]:
    cfg = bootstrap.settings(args.config)
    return cfg, bootstrap.application(args.db, cfg, create=create)


def cmd_explain(args: argparse.Namespace) -> int:
    check_nvr(args.nvr)
    cfg, app = _setup(args, create=False)
    result = audit.explain(app, cfg, args.nvr)
    if result is None:
        return unknown_build(args.nvr, app, args.json)
    print(json.dumps(result, default=str) if args.json else audit.render_explain(result))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    cfg, app = _setup(args, create=False)
    if args.verify:
        if args.nvrs:
            print("relengotron replay: --verify replays the whole log; no NVRs", file=sys.stderr)
            return EXIT_USAGE
        bar = progress.bar_for(args, "replay")
        report = audit_verify.verify(app, cfg, progress=bar)
        if bar is not None:
            bar.close()
        print(json.dumps(report, default=str) if args.json else audit_verify.render_verify(report))
        return EXIT_OK if report["identical"] else EXIT_PROBLEM
    for nvr in args.nvrs:
        check_nvr(nvr)
    try:
        audit.parse_time(args.until)
    except ValueError:
        print(
            f"relengotron replay: --until {args.until!r} is not an ISO 8601 time", file=sys.stderr
        )
        return EXIT_USAGE
    result = audit_asof.as_of(app, cfg, args.until, list(args.nvrs))
    print(json.dumps(result, default=str) if args.json else audit_asof.render_as_of(result))
    unknown = [b for b in result["builds"] if b.get("known") is False]
    return EXIT_PROBLEM if args.nvrs and unknown else EXIT_OK


def cmd_override(args: argparse.Namespace) -> int:
    check_nvr(args.nvr)
    cfg, app = _setup(args)
    username = args.username or getpass.getuser()
    inputs.sync_policies(app, cfg)
    key = inputs.record_override(
        app,
        cfg,
        nvr=args.nvr,
        action=args.action,
        reason=args.reason,
        username=username,
        source="relengotron override",
    )
    decider = bootstrap.decider(app, cfg)
    decider.run()
    status = build_status(decider.view, args.nvr, cfg.gating.pending_tag)
    if args.json:
        print(json.dumps({"override_id": key, "action": args.action, "status": status}))
    else:
        print(f"Recorded override {args.action} of {args.nvr} ({key}).")
        if status:
            print(render_status(status))
    if not status:
        warn("override", f"nothing is recorded about {args.nvr}; the override waits for it")
    return EXIT_OK
