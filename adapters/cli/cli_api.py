"""API commands: ``serve`` (the HTTP API) and ``decision`` (one Greenwave decision)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relengotron.adapters import bootstrap
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE
from relengotron.adapters.services.history import subject_history
from relengotron.adapters.settings import ENV_CONFIG, ENV_DB, database_url

if TYPE_CHECKING:
    from fastapi import FastAPI


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("serve", help="serve the Greenwave-compatible decision API and ours")
    p.add_argument("--host", metavar="HOST", help="listen address (default: [api] host)")
    p.add_argument("--port", type=int, metavar="PORT", help="port (default: [api] port)")
    p.add_argument("--workers", type=int, metavar="N", help="processes (default: [api] workers)")
    p.add_argument(
        "--access-log", action="store_true", help="log every request (off: it costs throughput)"
    )
    common(p)

    p = sub.add_parser("decision", help="a Greenwave decision from the current state")
    p.add_argument("subjects", nargs="+", metavar="SUBJECT", help="NVRs (or --subject-type)")
    p.add_argument("--product-version", metavar="PV",
                   help="default: [gating] product_version of the settings")  # fmt: skip
    p.add_argument("--context", action="append", metavar="CONTEXT",
                   help="decision context (repeat for several; default: [gating] "
                   "decision_context)")  # fmt: skip
    p.add_argument("--subject-type", default="koji_build", metavar="TYPE")
    p.add_argument("--when", metavar="TIME", help="only what was sent by then (ISO 8601)")
    p.add_argument("--verbose", action="store_true", help="include results and waivers")
    common(p)
    p.add_argument("--json", action="store_true", help="print the response as JSON")

    p = sub.add_parser(
        "validate-gating-yaml",
        help="check a package's gating.yaml as Greenwave's validate-gating-yaml does",
    )
    p.add_argument("file", metavar="FILE", help="the gating.yaml ('-': standard input)")
    p.add_argument("--policies", metavar="DIR", help="parent policies (default: the configured)")
    p.add_argument("--config", metavar="FILE", help="settings file")
    p.add_argument("--json", action="store_true", help='print {"message": ...} as Greenwave')


def _remote_rules(store: Any, cfg: Any) -> Any:
    """gating.yaml for the decision API's RemoteRules (read from the log, fetched once)."""
    from relengotron.adapters.rules.remote_rule_source import StoreRemoteRules

    return StoreRemoteRules(store, cfg)


def run(args: argparse.Namespace) -> int | None:
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "decision":
        return cmd_decision(args)
    if args.command == "validate-gating-yaml":
        return cmd_validate_gating_yaml(args)
    return None


def cmd_validate_gating_yaml(args: argparse.Namespace) -> int:
    """0: All OK; 1: Greenwave would refuse the file or warn about it; 2: the file (or
    the parent policies) cannot be read."""
    from relengotron.adapters.rules.remote_rule_yaml import ALL_OK, gating_yaml_check
    from relengotron.policies.spec import PolicyError

    try:
        body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"relengotron validate-gating-yaml: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        parents = bootstrap.policy_set(bootstrap.settings(args.config), args.policies).policies
    except PolicyError as exc:
        print(f"relengotron validate-gating-yaml: parent policies: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _, message = gating_yaml_check(body, parents)
    if args.json:
        print(json.dumps({"message": message}))
    else:
        print(message if message == ALL_OK else f"{args.file}: {message}")
    return EXIT_OK if message == ALL_OK else EXIT_PROBLEM


# ------------------------------------------------------------------ wiring


def make_server(db: str | None = None, config: str | None = None) -> Any:
    """What ``serve`` runs: the app behind the decision fast path."""
    from relengotron.adapters.http.app import DecisionFastPath

    return DecisionFastPath(make_app(db, config))


def make_app(db: str | None = None, config: str | None = None) -> FastAPI:
    """The API on the configured store: the SQL read model, the configured policies
    (loaded once), writes through the store, the audit trail and the composer's view."""
    from relengotron.adapters.http.app import create_app
    from relengotron.adapters.http.artifacts import ArtifactQueries
    from relengotron.adapters.http.catchup import CatchUp, Readiness
    from relengotron.adapters.http.commands import StoreCommands
    from relengotron.adapters.http.guard import StoreGuard
    from relengotron.adapters.store.readmodel_tables import ReadModelTables

    cfg = bootstrap.settings(config)
    store = bootstrap.application(db, cfg, create=False)
    policies = bootstrap.policy_set(cfg)
    queries = ArtifactQueries(store, cfg)
    tables = ReadModelTables.of(store)
    guard = StoreGuard(tables.engine, tables.events)
    projector = bootstrap.projector(store, cfg)
    tables.create()
    follower = CatchUp(projector, guard, interval=cfg.api.project_interval)
    readiness = Readiness(guard, tables, follower, timeout=cfg.api.catch_up_timeout)
    read_model = bootstrap.read_model(store, cfg)
    app = create_app(
        read_model,
        lambda: policies,
        settings=cfg.api,
        commands=StoreCommands(store, cfg),
        events_for=partial(subject_history, store),
        artifacts=queries.artifacts,
        artifact=queries.artifact,
        push=queries.push,
        readiness=readiness,
        remote=_remote_rules(store, cfg),
    )
    # The read models follow the log while the server runs (writes, ingest and other
    # processes append to it): every ``project_interval`` seconds, and at once when a
    # decision finds them behind (``adapters.http.catchup``).
    app.router.on_startup.append(follower.ensure_started)
    app.router.on_shutdown.append(follower.stop)
    app.state.projector = follower
    app.router.on_startup.append(_settle_memory)
    from relengotron.adapters.http import page, page_api
    from relengotron.adapters.services.page import Operations

    page.configure(app, page.graph_renderer(store, cfg))
    app.include_router(page.router)
    page_api.configure(
        app,
        page_api.PageSources(
            read_model,
            cfg.links.bases(cfg.koji.weburl),
            operations=Operations(tables, read_model),
        ),
    )
    app.include_router(page_api.router)
    return app


def _settle_memory() -> None:
    """Move what was loaded at start (policies, modules, caches) out of the garbage
    collector's sight: a full collection otherwise walks it all, a stall of 100 ms and
    more in the middle of answering (seen as the p99 of bench/api.py)."""
    gc.collect()
    gc.freeze()


def app_from_env() -> Any:
    """uvicorn's factory for worker processes: the store and settings from the
    environment (``RELENGOTRON_DB``, ``RELENGOTRON_CONFIG``), as ``serve`` set them."""
    return make_server(None, None)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    cfg = bootstrap.settings(args.config)
    host = args.host or cfg.api.host
    port = args.port if args.port is not None else cfg.api.port
    workers = args.workers if args.workers is not None else cfg.api.workers
    if not 0 < port < 65536 or workers < 1:
        print("relengotron serve: --port must be 1-65535 and --workers at least 1", file=sys.stderr)
        return EXIT_USAGE
    from relengotron.adapters.store.store import require_store

    require_store(database_url(args.db, configured=cfg.db))  # serve creates no store
    _can_listen(host, port)
    writes = "writes need the bearer token" if cfg.api.token() else "read-only (no API token)"
    print(f"relengotron serve: http://{host}:{port}/  (OpenAPI: /docs; {writes})", flush=True)
    if workers == 1:
        _uvicorn(
            uvicorn.run,
            make_server(args.db, args.config),
            host=host,
            port=port,
            log_level="info",
            access_log=args.access_log,
        )
        return EXIT_OK
    if args.db:
        os.environ[ENV_DB] = args.db
    if args.config:
        os.environ[ENV_CONFIG] = os.path.abspath(args.config)
    with _multiprocess_metrics():
        _uvicorn(
            uvicorn.run,
            "relengotron.adapters.cli.cli_api:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=args.access_log,
        )
    return EXIT_OK


@contextlib.contextmanager
def _multiprocess_metrics() -> Iterator[None]:
    """The workers' request metrics summed at every scrape (``adapters.http.metrics``):
    prometheus_client's multiprocess mode in a fresh directory, removed at the end (an
    operator's own ``PROMETHEUS_MULTIPROC_DIR`` is used as it is)."""
    from relengotron.adapters.http.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="relengotron-metrics-") as directory:
        os.environ[MULTIPROC_ENV] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]


def _can_listen(host: str, port: int) -> None:
    """Fail before starting (exit 2, one line) when the address cannot be bound."""
    import socket

    from relengotron.adapters.cli.cli_errors import UsageError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _uvicorn(run: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """uvicorn ends a failed start with ``sys.exit(3)``: that is exit 2 here."""
    from relengotron.adapters.cli.cli_errors import UsageError

    try:
        run(*args, **kwargs)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise UsageError(f"the server did not start (uvicorn exit {exc.code})") from exc


# ------------------------------------------------------------------ decision


def cmd_decision(args: argparse.Namespace) -> int:
    from relengotron.adapters.http.decision_request import decide
    from relengotron.projections.decision_api import DecisionService
    from relengotron.projections.decision_request import DecisionRequestError

    cfg = bootstrap.settings(args.config)
    store = bootstrap.application(args.db, cfg, create=False)
    policies = bootstrap.policy_set(cfg)
    # Answer from read models that reflect everything recorded before this command
    # (rebuilt first when their format changed, as after an upgrade).
    bootstrap.projector(store, cfg).run()
    service = DecisionService(
        bootstrap.read_model(store, cfg), policies, remote=_remote_rules(store, cfg)
    )
    contexts = args.context or [cfg.gating.decision_context]
    request: dict[str, Any] = {
        "product_version": args.product_version or cfg.gating.product_version,
        "decision_context": contexts[0] if len(contexts) == 1 else contexts,
        "subject": [{"type": args.subject_type, "item": s} for s in args.subjects],
        "verbose": args.verbose,
    }
    if args.when:
        request["when"] = args.when
    try:
        out = decide(service, request, datetime.now(UTC))
    except DecisionRequestError as exc:
        if args.json:
            print(json.dumps({"status": exc.status, "message": exc.message}))
        else:
            print(f"relengotron decision: {exc.message}", file=sys.stderr)
        return EXIT_USAGE  # 400, 404 (no policies for that gating point), 415: not a "no"
    if args.json:
        print(json.dumps(out))
    else:
        print(render_decision(out))
    return EXIT_OK if out["policies_satisfied"] else EXIT_PROBLEM


def render_decision(out: dict[str, Any]) -> str:
    mark = "satisfied" if out["policies_satisfied"] else "NOT satisfied"
    lines = [f"Policies {mark}: {out['summary']}"]
    if "applicable_policies" in out:
        lines.append(f"  policies: {', '.join(out['applicable_policies']) or '(none)'}")
    for r in out["satisfied_requirements"] + out["unsatisfied_requirements"]:
        name = r.get("testcase") or r.get("policy") or "-"
        where = [r.get(k) for k in ("scenario", "system_architecture", "system_variant")]
        scenario = f" [{' '.join(w for w in where if w)}]" if any(where) else ""
        lines.append(f"  {r['state']:<12} {r['subject_identifier']}  {name}{scenario}")
    return "\n".join(lines)
