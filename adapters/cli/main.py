"""The ``relengotron`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.cli import (
    cli_api,
    cli_artifacts,
    cli_audit,
    cli_gating,
    cli_live,
    cli_project,
    cli_release,
    cli_rerun,
    cli_sync,
    logs,
    progress,
)
from relengotron.adapters.cli.cli_errors import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    UsageError,
    run_command,
)
from relengotron.adapters.cli.subjects import check_nvr
from relengotron.adapters.ingest.collector import fewer_collections
from relengotron.adapters.ingest.ingest import render_summary
from relengotron.adapters.ingest.reader import MAX_LINE
from relengotron.adapters.services import decisions, inputs
from relengotron.adapters.services.history import subject_history
from relengotron.adapters.store.store import shown_url

CONNECT_TIMEOUT = "10"  # seconds
DEBUG_HELP = "on an error, print the traceback too"


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="URL",
        help="event store URL (sqlite:///FILE or postgresql://...); "
        "default: $RELENGOTRON_DB, [store] url, or ./.relengotron/relengotron.db",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (TOML); default: $RELENGOTRON_CONFIG, else built-in defaults",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relengotron", description="Event-sourced release gating for Fedora-style releng."
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    logs.add_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="record messages from files (JSON Lines, JSON, datagrepper)")
    p.add_argument("files", nargs="+", metavar="FILE", help="message file, .gz too; - for stdin")
    _db_option(p)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument(
        "--batch-size",
        type=int,
        default=500,
        metavar="N",
        help="messages per transaction (default 500)",
    )
    p.add_argument(
        "--max-line-bytes",
        type=int,
        default=MAX_LINE,
        metavar="N",
        help=f"a longer line (or one-document file) is kept as rejected input, its size, "
        f"SHA-256 and first bytes, not read (default {MAX_LINE:,})",
    )
    progress.add_option(p)
    p.add_argument("--verbose", action="store_true", help="list every decision change")
    p.add_argument(
        "--no-decide", action="store_true", help="record only; leave decisions for later"
    )

    p = sub.add_parser("events", help="the normalized events of a build or change, in order")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--subject", metavar="ID", help="a subject identifier: an NVR by default")
    g.add_argument("--change", metavar="NAMESPACE/REPO/REV", help="a dist-git change")
    g.add_argument(
        "--invalid",
        action="store_true",
        help="every recorded message that failed its spec's JSON Schema, with the errors",
    )
    p.add_argument(
        "--subject-type",
        default="koji_build",
        metavar="TYPE",
        help="subject type for --subject (koji_build, bodhi_update, compose, ...)",
    )
    _db_option(p)
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = sub.add_parser("demo", help="ingest the bundled sample stream and show what was recorded")
    p.add_argument("--db", metavar="URL", help="store URL (default: ./.relengotron/demo.db)")
    p.add_argument("--keep", action="store_true", help="do not start from an empty store")
    cli_gating.add_parsers(sub, _db_option)
    cli_rerun.add_parsers(sub, _db_option)
    cli_artifacts.add_parsers(sub, _db_option)
    cli_project.add_parsers(sub, _db_option)
    cli_audit.add_parsers(sub, _db_option)
    cli_api.add_parsers(sub, _db_option)
    cli_live.add_parsers(sub, _db_option)
    cli_release.add_parsers(sub, _db_option)
    cli_sync.add_parsers(sub, _db_option)
    for command in sub.choices.values():  # --debug before or after the command
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help=DEBUG_HELP)  # fmt: skip
        logs.add_options(command)
    return parser


def version() -> str:
    """The installed distribution's version (the source tree's when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("releng-o-tron")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout, not installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the command, and end by the exit-code table (``adapters.cli.cli_errors``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # A PostgreSQL server that does not answer (a dropped route, a firewall) is given
    # CONNECT_TIMEOUT seconds per attempt, not the system's TCP timeout of minutes;
    # PGCONNECT_TIMEOUT or connect_timeout in the URL choose otherwise.
    os.environ.setdefault("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT)
    if args.command != "consume":  # consume may log as fedora-messaging's file says
        logs.configure(args.log_level, args.log_format)
    return run_command(args.command, lambda: _dispatch(parser, args), debug=args.debug)


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "ingest":
        return cmd_ingest(args)
    if args.command == "events":
        return cmd_events(args)
    if args.command == "demo":
        from relengotron.adapters.demo.demo import run_demo

        return run_demo(args.db, fresh=not args.keep)
    for commands in (
        cli_gating, cli_rerun, cli_artifacts, cli_project, cli_audit, cli_api, cli_live, cli_sync,
        cli_release,
    ):  # fmt: skip
        result = commands.run(args)
        if result is not None:
            return result
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE  # pragma: no cover


# ------------------------------------------------------------------ ingest


def cmd_ingest(args: argparse.Namespace) -> int:
    for f in args.files:
        if f == "-":
            continue
        if not Path(f).exists():
            raise UsageError(f"no such file: {f}")
        if not Path(f).is_file() or not os.access(f, os.R_OK):
            raise UsageError(f"cannot read {f}: not a readable file")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.max_line_bytes < 1:
        raise UsageError("--max-line-bytes must be at least 1")
    cfg = bootstrap.settings(args.config)
    app = bootstrap.application(args.db, cfg)
    policies = None if args.no_decide else bootstrap.policy_set(cfg)  # fail early
    if policies is not None:  # the set in force is logged before the messages it decides
        inputs.sync_policies(app, cfg, policies)
    bar = progress.bar_for(args, "ingest", through="B")
    with fewer_collections():  # bulk work all through (adapters/ingest/collector.py)
        summary = inputs.ingest(
            app,
            args.files,
            batch_size=args.batch_size,
            progress=bar,
            cfg=cfg,
            max_line=args.max_line_bytes,
        )
        if bar is not None:
            bar.close()
        decided = None
        if policies is not None:
            bar = progress.bar_for(args, "decide", unit="events")
            decided = decisions.decide_with(app, cfg, policies, progress=bar)
            if bar is not None:
                bar.close()
        # The read models (the API, `decision`, the page) reflect what was just recorded.
        bootstrap.projector(app, cfg).run()
    if args.json:
        out = summary.as_json()
        if decided is not None:
            out["decider"] = decided.as_json()
        print(json.dumps(out, indent=None, sort_keys=False))
    else:
        print(render_summary(summary))
        if decided is not None:
            print()
            print(cli_gating.render_decisions(decided, verbose=args.verbose))
    return EXIT_PROBLEM if summary.rejected else EXIT_OK


# ------------------------------------------------------------------ events


def cmd_events(args: argparse.Namespace) -> int:
    if args.invalid:
        from relengotron.adapters.audit.invalid_inputs import invalid_messages, render_invalid

        app = bootstrap.application(args.db, bootstrap.settings(args.config), create=False)
        rows = invalid_messages(app)
        print(json.dumps(rows, indent=2, default=str) if args.json else render_invalid(rows))
        return EXIT_OK
    if args.change:
        parts = args.change.split("/")
        if len(parts) != 3 or not all(parts):
            raise UsageError("--change takes NAMESPACE/REPO/REV, e.g. rpms/bash/3f2a...")
        subject_type, identifier = "dist_git_commit", f"{parts[0]}/{parts[1]}#{parts[2]}"
    else:
        subject_type, identifier = args.subject_type, args.subject
        if subject_type == "koji_build":
            check_nvr(identifier)
    app = bootstrap.application(args.db, bootstrap.settings(args.config), create=False)
    listing = subject_history(app, subject_type, identifier)
    if args.json:
        print(json.dumps(listing, indent=2, default=str))
        return EXIT_OK if listing else EXIT_PROBLEM
    if not listing:
        print(f"No events for {subject_type} {identifier} in {shown_url(app)}.")
        return EXIT_PROBLEM
    print(f"{subject_type} {identifier}: {len(listing)} event(s)")
    for e in listing:
        print(render_event(e, subject_type, identifier))
    return EXIT_OK


# Shown in the JSON; too noisy for people.
_HIDDEN = {
    "version",
    "event",
    "recorded_at",
    "sent_at",
    "message",
    "topic",
    "originator_topic",
    "data",
    "source",
    "ref_url",
    "pipeline_id",
}


def render_event(e: dict[str, Any], subject_type: str = "", identifier: str = "") -> str:
    """One line per event: version, time, event, the facts that matter, the message topic."""
    when = (e.get("sent_at") or e.get("recorded_at") or "")[:19].replace("T", " ")
    details = []
    for k, v in e.items():
        if k in _HIDDEN or v in (None, [], {}, ""):
            continue
        if (k, v) in (
            ("subject_type", subject_type),
            ("subject_identifier", identifier),
            ("nvr", identifier),
            ("identifier", identifier),
        ):
            continue
        details.append(f"{k}={v}")
    name = e["event"].split(".", 1)[-1]
    topic = f"\n{'':30}<- {e['topic']}" if e.get("topic") else ""
    return f"  v{e['version']:<3} {when:<19}  {name:<18} {', '.join(details)}{topic}"


if __name__ == "__main__":  # python -m adapters.cli.main
    sys.exit(main())
