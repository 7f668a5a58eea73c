"""Reading the settings file: TOML tables and keys checked against ``_SCHEMA`` (every
error names the file, the table and the key), then turned into :class:`Settings`
(``adapters.settings``). ``--config FILE``, then ``RELENGOTRON_CONFIG``; with neither, the
built-in defaults."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from relengotron.adapters.ingest.branches import DEFAULT_MONITORED_BRANCHES, BranchFilter
from relengotron.adapters.koji.koji_profile import KojiProfile, KojiProfileError, read_profile
from relengotron.adapters.koji.koji_values import KojiAuth
from relengotron.adapters.lifecycle.config import SCHEMA as LIFECYCLE_SCHEMA
from relengotron.adapters.lifecycle.config import lifecycle_settings
from relengotron.adapters.settings import (
    DEFAULT_ARTIFACTS,
    DEFAULT_POLICIES,
    ENV_CONFIG,
    ApiSettings,
    BusSettings,
    ComposeSettings,
    KojiSettings,
    LinkSettings,
    RemoteRuleSettings,
    Settings,
    SettingsError,
    SigningSettings,
    SyncSettings,
)
from relengotron.projections.config import FALLBACKS, GatingConfig

BACKENDS = ("koji", "odcs", "command")
SIGNING_BACKENDS = ("robosignatory", "command")  # adapters.effects.signing
ANY_KEY = "*"  # a table whose keys are names (artifact kinds), each of the given type

_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "store": {"url": str},
    "koji": {
        "profile": str,
        "config_file": str,
        "hub": str,
        "weburl": str,
        "topurl": str,
        "auth": str,
        "timeout": (int, float),
        "retries": int,
        "backoff": (int, float),
    },
    "koji.tags": {"pending": str, "promoted": str, "quarantine": str},
    "koji.ssl": {"cert": str, "serverca": str},
    "koji.keytab": {"principal": str, "keytab": str},
    "koji.tasks": {"timeout": (int, float), "poll_interval": (int, float)},
    "gating": {
        "policies": str,
        "product_version": str,
        "decision_context": str,
        "monitored_branches": list,
    },
    "gating.bisection": {
        "max_rounds": int,
        "timeout_hours": (int, float),
        "fallback": str,
        "max_rechecks": int,
    },
    "gating.rerun": {"timeout_hours": (int, float)},
    "gating.remote_rules": {
        "url_templates": list,
        "timeout": (int, float),
        "retries": int,
        "backoff": (int, float),
    },
    "bus": {"enabled": bool, "amqp_url": str, "config_file": str, "topic_prefix": str},
    "artifacts": {"definitions": str},
    "compose.kinds": {ANY_KEY: str},
    "compose.odcs": {"url": str, "token_file": str, "timeout": (int, float)},
    "compose.command": {"argv": list, "timeout": (int, float)},
    "push": {"release": list, "timeout": (int, float)},
    "signing": {"backend": str, "pending_tag": str, "argv": list, "timeout": (int, float)},
    "sync": {
        "target": str,
        "compose_root": str,
        "decision_context": str,
        "product_version": str,
        "rsync": list,
        "timeout": (int, float),
        "auto": bool,
    },
    "api": {
        "host": str,
        "port": int,
        "token_file": str,
        "overdue_hours": (int, float),
        "workers": int,
        "project_interval": (int, float),
        "cors_url": str,
        "max_body_bytes": int,
        "max_subjects": int,
        "catch_up_timeout": (int, float),
        "decision_threads": int,
    },
    **LIFECYCLE_SCHEMA,
    "links": {"koji_web": str, "distgit": str, "bodhi": str, "datagrepper": str},
}


def load_settings(option: str | None = None) -> Settings:
    """The settings from ``--config``/``RELENGOTRON_CONFIG``, or the defaults."""
    path = option or os.environ.get(ENV_CONFIG)
    if not path:
        return Settings()
    file = Path(path)
    if not file.is_file():
        raise SettingsError(f"settings file not found: {path}")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    return settings_from(data, source=str(file), base=file.parent)


def _flatten(data: dict[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    """The tables by dotted name, each value checked against ``_SCHEMA``; what is wrong
    is added to ``problems`` (and left out), so that every mistake is reported at once."""
    tables: dict[str, dict[str, Any]] = {}

    def walk(prefix: str, table: dict[str, Any]) -> None:
        values: dict[str, Any] = {}
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(name, value)
            elif not prefix:
                problems.append(f"top-level key {key!r} must be inside a [table]")
            else:
                values[key] = value
        parent_only = not values and any(t.startswith(prefix + ".") for t in _SCHEMA)
        if prefix and not parent_only:  # e.g. [compose] holding only [compose.kinds]
            tables[prefix] = values

    walk("", data)
    checked: dict[str, dict[str, Any]] = {}
    for name, values in tables.items():
        schema = _SCHEMA.get(name)
        if schema is None:
            known = ", ".join(f"[{t}]" for t in _SCHEMA)
            problems.append(f"unknown table [{name}] (known: {known})")
            continue
        good = checked.setdefault(name, {})
        for given, value in values.items():
            key = given
            if ANY_KEY in schema:
                key = ANY_KEY if key not in schema else key
            if key not in schema:
                problems.append(f"unknown key {key!r} in [{name}] (known: {', '.join(schema)})")
                continue
            expected = schema[key]
            if isinstance(value, bool) and expected is not bool:
                ok = False
            else:
                ok = isinstance(value, expected)
            if ok and expected is list and not all(isinstance(v, str) for v in value):
                ok = False
            if not ok:
                problems.append(
                    f"[{name}] {given if key == ANY_KEY else key} must be "
                    f"{_type_name(expected)}, not {type(value).__name__}"
                )
                continue
            good[given] = value
    return checked


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list of strings",
    }
    if isinstance(t, tuple):
        return "a number"
    return names.get(t, t.__name__)


def settings_from(
    data: dict[str, Any], *, source: str = "<settings>", base: Path | None = None
) -> Settings:
    problems: list[str] = []
    t = _flatten(data, problems)

    def get(table: str, key: str, default: Any = None) -> Any:
        return t.get(table, {}).get(key, default)

    profile: KojiProfile | None = None
    if get("koji", "profile"):
        config_file = get("koji", "config_file")
        if config_file and base is not None and not Path(config_file).expanduser().is_absolute():
            config_file = str(base / config_file)
        try:
            profile = read_profile(get("koji", "profile"), config_file)
        except KojiProfileError as exc:
            problems.append(f"[koji] profile: {exc}")
    elif get("koji", "config_file"):
        problems.append("[koji] config_file needs [koji] profile")

    def koji_value(table: str, key: str, profile_key: str) -> Any:
        """Our key, else the koji profile's."""
        ours = get(table, key)
        return ours if ours is not None or profile is None else getattr(profile, profile_key)

    auth = KojiAuth(
        method=koji_value("koji", "auth", "method") or "none",
        cert=koji_value("koji.ssl", "cert", "cert"),
        serverca=koji_value("koji.ssl", "serverca", "serverca"),
        principal=koji_value("koji.keytab", "principal", "principal"),
        keytab=koji_value("koji.keytab", "keytab", "keytab"),
    )
    try:
        auth.validate()
    except ValueError as exc:
        problems.append(f"[koji] auth: {exc}")
    defaults = GatingConfig()
    fallback = get("gating.bisection", "fallback", defaults.fallback)
    if fallback not in FALLBACKS:
        problems.append(f"[gating.bisection] fallback must be one of {FALLBACKS}, not {fallback!r}")
        fallback = defaults.fallback
    bus = BusSettings(
        enabled=get("bus", "enabled", False),
        amqp_url=get("bus", "amqp_url"),
        config_file=get("bus", "config_file"),
        topic_prefix=get("bus", "topic_prefix", "relengotron"),
    )
    try:
        gating = GatingConfig(
            pending_tag=get("koji.tags", "pending", defaults.pending_tag),
            promoted_tag=get("koji.tags", "promoted", defaults.promoted_tag),
            quarantine_tag=get("koji.tags", "quarantine", defaults.quarantine_tag),
            product_version=get("gating", "product_version", defaults.product_version),
            decision_context=get("gating", "decision_context", defaults.decision_context),
            max_rounds=get("gating.bisection", "max_rounds", defaults.max_rounds),
            max_rechecks=get("gating.bisection", "max_rechecks", defaults.max_rechecks),
            bisection_timeout_hours=float(
                get("gating.bisection", "timeout_hours", defaults.bisection_timeout_hours)
            ),
            fallback=fallback,
            rerun_timeout_hours=float(
                get("gating.rerun", "timeout_hours", defaults.rerun_timeout_hours)
            ),
            topic_prefix=bus.topic_prefix,
            remote_rule_templates=_remote_rule_templates(
                problems, get("gating.remote_rules", "url_templates"), defaults
            ),
        )
        remote_rules = RemoteRuleSettings(
            timeout=float(get("gating.remote_rules", "timeout", 30.0)),
            retries=get("gating.remote_rules", "retries", 3),
            backoff=float(get("gating.remote_rules", "backoff", 1.0)),
        )
    except ValueError as exc:
        problems.append(str(exc))
        gating, remote_rules = defaults, RemoteRuleSettings()

    branches = BranchFilter(tuple(get("gating", "monitored_branches", DEFAULT_MONITORED_BRANCHES)))
    try:
        branches.check()
    except ValueError as exc:
        problems.append(f"[gating] monitored_branches: {exc}")
    if not branches.patterns:
        problems.append("[gating] monitored_branches must name at least one branch pattern")

    def path(value: str | None, default: Path) -> Path:
        if not value:
            return default
        p = Path(value)
        return base / p if not p.is_absolute() and base is not None else p

    compose = ComposeSettings(
        kinds=dict(t.get("compose.kinds", {})),
        odcs_url=get("compose.odcs", "url"),
        odcs_token_file=get("compose.odcs", "token_file"),
        odcs_timeout=float(get("compose.odcs", "timeout", 30.0)),
        command=tuple(get("compose.command", "argv", ())),
        command_timeout=float(get("compose.command", "timeout", 3600.0)),
        release=tuple(get("push", "release", ())),
        release_timeout=float(get("push", "timeout", 3600.0)),
    )
    for kind, backend in compose.kinds.items():
        if backend not in BACKENDS:
            problems.append(f"[compose.kinds] {kind} must be one of {BACKENDS}, not {backend!r}")
    signing = _signing(problems, t.get("signing", {}), gating)
    api = ApiSettings(
        host=get("api", "host", "127.0.0.1"),
        port=get("api", "port", 8090),
        token_file=str(path(tf, Path(tf))) if (tf := get("api", "token_file")) else None,
        overdue_hours=float(get("api", "overdue_hours", 24.0)),
        workers=get("api", "workers", 1),
        project_interval=float(get("api", "project_interval", 1.0)),
        cors_url=get("api", "cors_url") or None,
        max_body_bytes=get("api", "max_body_bytes", ApiSettings.max_body_bytes),
        max_subjects=get("api", "max_subjects", ApiSettings.max_subjects),
        catch_up_timeout=float(get("api", "catch_up_timeout", ApiSettings.catch_up_timeout)),
        decision_threads=get("api", "decision_threads", ApiSettings.decision_threads),
    )
    if not 0 < api.port < 65536:
        problems.append(f"[api] port must be between 1 and 65535, not {api.port}")
    if api.workers < 1:
        problems.append(f"[api] workers must be at least 1, not {api.workers}")
    if api.project_interval < 0:
        problems.append("[api] project_interval must not be negative")
    if api.overdue_hours <= 0:
        problems.append("[api] overdue_hours must be positive")
    for key in ("max_body_bytes", "max_subjects", "catch_up_timeout", "decision_threads"):
        if getattr(api, key) <= 0:
            problems.append(f"[api] {key} must be positive")
    sync = SyncSettings(
        target=str(path(st, Path(st))) if (st := get("sync", "target")) else None,
        compose_root=str(path(cr, Path(cr))) if (cr := get("sync", "compose_root")) else None,
        decision_context=get("sync", "decision_context", SyncSettings.decision_context),
        product_version=get("sync", "product_version", SyncSettings.product_version),
        rsync=tuple(get("sync", "rsync", SyncSettings.rsync)),
        timeout=float(get("sync", "timeout", SyncSettings.timeout)),
        auto=get("sync", "auto", SyncSettings.auto),
    )
    if not sync.rsync:
        problems.append("[sync] rsync must name the command")
    if problems:  # every mistake at once, on one line
        many = f"{len(problems)} problems: " if len(problems) > 1 else ""
        raise SettingsError(f"{source}: {many}{'; '.join(problems)}")
    return Settings(
        source=source,
        sync=sync,
        koji=KojiSettings(
            hub=koji_value("koji", "hub", "hub"),
            auth=auth,
            weburl=koji_value("koji", "weburl", "weburl"),
            topurl=koji_value("koji", "topurl", "topurl"),
            profile=profile.name if profile else None,
            timeout=float(get("koji", "timeout", 60.0)),
            retries=get("koji", "retries", 4),
            task_timeout=float(get("koji.tasks", "timeout", 900.0)),
            poll_interval=float(get("koji.tasks", "poll_interval", 2.0)),
            backoff=float(get("koji", "backoff", 1.0)),
        ),
        gating=gating,
        remote_rules=remote_rules,
        policies=path(get("gating", "policies"), DEFAULT_POLICIES),
        bus=bus,
        db=get("store", "url"),
        artifacts=path(get("artifacts", "definitions"), DEFAULT_ARTIFACTS),
        compose=compose,
        api=api,
        links=LinkSettings(
            koji_web=get("links", "koji_web") or None,
            **{k: v for k in ("distgit", "bodhi", "datagrepper") if (v := get("links", k))},
        ),
        monitored_branches=branches.patterns,
        release=lifecycle_settings(t, path),
        signing=signing,
    )


def _signing(problems: list[str], table: dict[str, Any], gating: GatingConfig) -> SigningSettings:
    """``[signing]``: backend robosignatory (a pending tag apart from the gating tags) or
    command (``argv`` given). What is wrong is added to ``problems``."""
    s = SigningSettings(
        backend=table.get("backend"),
        pending_tag=table.get("pending_tag", SigningSettings.pending_tag),
        argv=tuple(table.get("argv", ())),
        timeout=float(table.get("timeout", SigningSettings.timeout)),
    )
    if s.backend is not None and s.backend not in SIGNING_BACKENDS:
        problems.append(f"[signing] backend must be one of {SIGNING_BACKENDS}, not {s.backend!r}")
    if s.backend == "command" and not s.argv:
        problems.append("[signing] backend command needs argv")
    tags = (gating.pending_tag, gating.promoted_tag, gating.quarantine_tag)
    if s.pending_tag in tags:
        problems.append(f"[signing] pending_tag must not be a gating tag {tags}")
    if s.timeout <= 0:
        problems.append("[signing] timeout must be positive")
    return s


def _remote_rule_templates(
    problems: list[str], value: list[Any] | None, defaults: GatingConfig
) -> tuple[str, ...]:
    """``[gating.remote_rules] url_templates``: Greenwave's REMOTE_RULE_POLICIES for
    koji_build (placeholders {pkg_namespace} {pkg_name} {rev} {subject_id})."""
    if value is None:
        return defaults.remote_rule_templates
    if not value or not all(isinstance(v, str) and v for v in value):
        problems.append("[gating.remote_rules] url_templates must be a non-empty list of URLs")
        return defaults.remote_rule_templates
    return tuple(value)
