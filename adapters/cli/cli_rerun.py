"""``relengotron rerun NVR TESTCASE [--scenario S] --reason TEXT``: ask for a test to
run again, before waiving it.

The request is recorded (``relengotron.test.rerun``) and published by the decider
(``test.rerun.requested``, Bodhi's re-trigger shape); the failed result then holds the
build (``rerun-requested``) instead of quarantining it, until a newer result comes or
the deadline (``[gating.rerun] timeout_hours``) passes.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM
from relengotron.adapters.cli.cli_gating import render_status
from relengotron.adapters.cli.subjects import check_nvr
from relengotron.adapters.services import inputs
from relengotron.adapters.services.status import build_status


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("rerun", help="ask for a build's test to run again (before waiving)")
    p.add_argument("nvr", metavar="NVR")
    p.add_argument("testcase", metavar="TESTCASE")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why (kept with the request)")
    p.add_argument("--scenario", metavar="S", help="only this scenario")
    p.add_argument("--username", metavar="USER", help="who asks (default: $USER)")
    common(p)
    p.add_argument("--json", action="store_true", help="print the resulting status as JSON")


def run(args: argparse.Namespace) -> int | None:
    return cmd_rerun(args) if args.command == "rerun" else None


def cmd_rerun(args: argparse.Namespace) -> int:
    check_nvr(args.nvr)  # a malformed name is a usage error (exit 2), as for every command
    cfg = bootstrap.settings(args.config)
    app = bootstrap.application(args.db, cfg, create=False)
    decider = bootstrap.decider(app, cfg)
    known = decider.read_view().builds.get(args.nvr)
    if known is None or not any(r.testcase == args.testcase for r in known.results):
        what = "build" if known is None else f"result of {args.testcase} for the build"
        print(json.dumps({"nvr": args.nvr, "error": f"no {what}"}) if args.json else (
            f"{args.nvr}: no {what} is recorded; nothing to run again."
        ))  # fmt: skip
        return EXIT_PROBLEM
    inputs.sync_policies(app, cfg)
    key = inputs.record_rerun(
        app,
        nvr=args.nvr,
        testcase=args.testcase,
        scenario=args.scenario,
        reason=args.reason,
        username=args.username or getpass.getuser(),
    )
    decider = bootstrap.decider(app, cfg)
    decider.run()
    bootstrap.projector(app, cfg).run()
    status = build_status(decider.view, args.nvr, cfg.gating.pending_tag)
    if args.json:
        print(json.dumps({"message_key": key, "status": status}, default=str))
    else:
        print(f"Asked for {args.testcase} of {args.nvr} to run again ({key}).")
        if status:
            print(render_status(status))
    return EXIT_OK
