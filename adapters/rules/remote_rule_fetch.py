"""Fetching package-owned gating.yaml files and recording them in the log.

Greenwave fetches a RemoteRule's file on every decision (``greenwave/resources.py``
``retrieve_yaml_remote_rule``: 404 = no file, other errors = ``failed-fetch``). Here the
file is fetched once, when a build that needs it is first decided, and recorded as a
``RemoteRuleFile.Fetched`` event (the bytes and their hash, or absent, or the error);
the decider reads the log only, so ``replay --verify`` never touches the network. A
fetch that fails (timeout, connection refused, 5xx) is retried with backoff, then
recorded as an error (the gate stays closed) and tried again at the next decide run.
A file found, or absent, is never fetched again: the URL names the commit.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import requests
import urllib3
from eventsourcing.application import AggregateNotFoundError

from relengotron.adapters.rules.remote_rule_yaml import GatingYamlError, load_remote_policies
from relengotron.adapters.settings import RemoteRuleSettings
from relengotron.domain.application import RelengApp
from relengotron.domain.remote_rules import (
    ABSENT,
    ERROR,
    FOUND,
    BuildSource,
    RemoteRuleFile,
    build_source_id,
    remote_rule_file_id,
)
from relengotron.domain.safe_text import safe_str, store_safe
from relengotron.policies.snapshot import RemoteRuleInput
from relengotron.policies.spec import RemoteRule
from relengotron.projections.folds.remote_files import needed_urls, source_input
from relengotron.projections.processes.decider import Decider

__all__ = ["Fetched", "RemoteRuleSettings", "fetch", "fetch_needed", "record"]

MAX_BYTES = 1 << 20  # a gating.yaml is a few hundred bytes; refuse what is not one


@dataclass(frozen=True)
class Fetched:
    status: str  # FOUND, ABSENT, ERROR
    content: bytes | None = None
    error: str | None = None
    attempts: int = 1


def _fetch_once(url: str, timeout: float) -> tuple[Fetched, bool]:
    """(outcome, worth retrying)."""
    if url.startswith("file://"):  # a local dist-git mirror (the demo, air-gapped sites)
        path = Path(unquote(urlparse(url).path))
        if not path.is_file():
            return Fetched(ABSENT), False
        return Fetched(FOUND, path.read_bytes()[:MAX_BYTES]), False
    try:
        with requests.get(url, timeout=timeout, stream=True) as r:
            body = r.raw.read(MAX_BYTES + 1, decode_content=True) if r.status_code == 200 else b""
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        return Fetched(ERROR, error=f"{type(exc).__name__}: {exc}"), True
    if r.status_code == 404:
        return Fetched(ABSENT), False
    if r.status_code != 200:
        return Fetched(ERROR, error=f"{r.status_code} {r.reason} for {url}"), r.status_code >= 500
    if len(body) > MAX_BYTES:
        return Fetched(ERROR, error=f"larger than {MAX_BYTES} bytes: not a gating.yaml"), False
    return Fetched(FOUND, body), False


def fetch(
    url: str, settings: RemoteRuleSettings, sleep: Callable[[float], None] = time.sleep
) -> Fetched:
    """Fetch one URL: retried with backoff while it fails for a reason that may pass."""
    attempts = max(1, settings.retries)
    for attempt in range(1, attempts + 1):
        outcome, again = _fetch_once(url, settings.timeout)
        if not again or attempt == attempts:
            return Fetched(outcome.status, outcome.content, outcome.error, attempt)
        sleep(settings.backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def record(
    app: RelengApp, url: str, fetched: Fetched, subjects: list[str], at: str, after: int = 0
) -> None:
    """Record one fetch; a file found is read now (Greenwave's RemotePolicy) and its
    policies are recorded with its bytes, so replay reads them, never the network."""
    content_b64 = content_hash = error = None
    policies = None
    if fetched.status == FOUND and fetched.content is not None:
        content_b64 = base64.b64encode(fetched.content).decode("ascii")
        content_hash = "sha256:" + hashlib.sha256(fetched.content).hexdigest()
        try:
            policies = [p.canonical() for p in load_remote_policies(fetched.content)]
        except GatingYamlError as exc:
            error = str(exc)
        if policies is not None:  # every store keeps the same (domain/safe_text.py)
            notes: set[str] = set()
            store_safe(policies, notes)
            if notes:
                policies = None
                error = "the file holds text no store can keep: " + "; ".join(sorted(notes))
    elif fetched.status == ERROR:
        error = fetched.error
    if error is not None:
        error = safe_str(error)
    agg: RemoteRuleFile
    try:
        agg = app.repository.get(remote_rule_file_id(url))
    except AggregateNotFoundError:
        agg = RemoteRuleFile(url)
    agg.record_fetch(
        url=url,
        at=at,
        status=fetched.status,
        content_b64=content_b64,
        content_hash=content_hash,
        error=error,
        policies=policies,
        attempts=fetched.attempts,
        subjects=sorted(subjects),
        after=after,
    )
    app.save(agg)


def fetch_needed(
    app: RelengApp,
    decider: Decider,
    settings: RemoteRuleSettings,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    koji: Callable[[], Any] | None = None,
) -> int:
    """Fetch and record the gating.yaml files that open gates need and the log does not
    hold (or holds only as a failed fetch); first, for a build whose source no message
    gave, ask koji's ``getBuild`` (``koji``: makes the gateway; None: no hub configured)
    and record its answer. Returns how many records were written."""
    view = decider.view
    position = decider.report.position
    policy_set = decider.policy_set()
    if not any(isinstance(r, RemoteRule) for p in policy_set.policies for r in p.rules):
        return 0  # nothing to read: no snapshot is built
    recorded = 0
    chains: dict[tuple[str, ...], set[str]] = {}
    for nvr in sorted(n for n in view.candidates() if n in view.builds):
        snapshot = decider.snapshot(nvr)
        remote = snapshot.remote
        if remote is not None and remote.scm is None and _ask_koji(view, nvr, remote):
            observed = observe_source(app, nvr, koji, clock().isoformat(), position)
            recorded += 1
            build = view.builds.get(nvr)
            snapshot = replace(
                snapshot,
                remote=source_input(remote.templates, build.change if build else None, observed),
            )
        for urls in needed_urls(policy_set, snapshot):
            chains.setdefault(tuple(urls), set()).add(nvr)
    done: dict[str, str] = {
        url: fs[-1].status
        for url in sorted({u for chain in chains for u in chain})
        if (fs := view.remote_files.get(url))
    }
    for chain, nvrs in chains.items():
        for url in chain:  # Greenwave's order: the next URL only when this file is absent
            status = done.get(url)
            if status not in (FOUND, ABSENT):
                outcome = fetch(url, settings, sleep)
                record(app, url, outcome, sorted(nvrs), clock().isoformat(), position)
                status = done[url] = outcome.status
                recorded += 1
            if status != ABSENT:
                break
    return recorded


def _ask_koji(view: Any, nvr: str, remote: RemoteRuleInput) -> bool:
    """Not asked yet, or asked and koji could not answer."""
    seen = view.observed_sources.get(nvr)
    return seen is None or seen[1] is not None


def observe_source(
    app: RelengApp, nvr: str, koji: Callable[[], Any] | None, at: str, after: int
) -> tuple[str | None, str | None]:
    """Ask koji for the build's ``source`` (Greenwave's ``retrieve_koji_build_source``)
    and record the answer as observed: (source, error)."""
    source: str | None = None
    error: str | None = None
    if koji is None:
        error = "no koji hub is configured to ask for the build's source ([koji] hub)"
    else:
        try:
            build = koji().build(nvr)
        except Exception as exc:  # the gateway's errors: unreachable, refused
            error = f"Could not reach Koji: {exc}"
        else:
            if build is None:
                error = f"Koji build not found for {nvr}"
            else:
                source = build.get("source") or (build.get("extra") or {}).get("source", {}).get(
                    "original_url"
                )
    agg: BuildSource
    try:
        agg = app.repository.get(build_source_id(nvr))
    except AggregateNotFoundError:
        agg = BuildSource(nvr)
    agg.observe(nvr=nvr, at=at, source=source, error=error, after=after)
    app.save(agg)
    return source, error
