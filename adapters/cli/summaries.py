"""Summaries for people: counts, and the interesting few (quarantines, changes, distinct
problems); every row only with ``--verbose`` (or ``--json``)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from relengotron.adapters.effects.effector import ActReport
from relengotron.domain.outbox import BUS_PUBLISH, KOJI_MOVE, SIGN_REQUEST
from relengotron.projections.processes.composer import COMPOSE_REQUEST, PUSH_RELEASE
from relengotron.projections.processes.decider import DeciderReport

FEW = 10  # rows of each interesting kind shown without --verbose
MORE = "--verbose or --json lists them all"
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"'()\]]+)")


def counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n:,} {what}" for what, n in counter.most_common())


def short_reason(detail: str | None, limit: int = 160) -> str:
    """A failure in one short line: an OS error's own words instead of the chain of
    library wrappers around it (urllib3's HTTPConnectionPool(...) etc.)."""
    text = " ".join((detail or "").split())
    found = _ERRNO.search(text)
    if found:
        head = text.split(":", 1)[0] if ":" in text[: found.start()] else ""
        text = f"{head}: {found.group(1).strip()}" if head else found.group(1).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cut(lines: list[str], shown: int, total: int) -> list[str]:
    if total > shown:
        lines.append(f"  ... and {total - shown:,} more ({MORE})")
    return lines


# ------------------------------------------------------------------ decide


def render_decisions(report: DeciderReport, *, verbose: bool = False) -> str:
    """The decider's run: counts, the builds quarantined and the builds whose verdict
    changed in this run (first to last); every recorded decision with ``verbose``."""
    first: dict[str, str | None] = {}
    last: dict[str, str] = {}
    for d in report.decisions:
        first.setdefault(d["nvr"], d["previous"])
        last[d["nvr"]] = d["verdict"]
    lines = [
        f"Decider at position {report.position:,}: {report.read:,} events read, "
        f"{report.evaluated:,} evaluations, {len(report.decisions):,} decision(s) changed "
        f"for {len(last):,} build(s), {report.actions:,} action(s) requested."
    ]
    if verbose:
        for d in report.decisions:
            lines.append(f"  {d['verdict']:<10} {d['nvr']} ({_was(d['previous'])})")
        return "\n".join(lines)
    if not last:
        return lines[0]
    new = sum(1 for n in last if first[n] is None)
    lines.append(
        f"  verdicts now: {counts(Counter(last.values()))}"
        + (f" ({new:,} new gate(s))" if new else "")
    )
    quarantined = [n for n, v in last.items() if v == "quarantine"]
    # A change: a verdict other than before the run (a new gate starts as "hold").
    changed = [n for n, v in last.items() if v != (first[n] or "hold") and v != "quarantine"]
    for title, names in (("quarantined", quarantined), ("changed", changed)):
        if not names:
            continue
        lines.append(f"  {title} ({len(names):,}):")
        for n in names[:FEW]:
            lines.append(f"    {last[n]:<10} {n} ({_was(first[n])})")
        _cut(lines, min(FEW, len(names)), len(names))
    return "\n".join(lines)


def _was(previous: str | None) -> str:
    return f"was {previous}" if previous else "first decision"


# ------------------------------------------------------------------ act


def render_act(report: ActReport, *, verbose: bool = False) -> str:
    """What ``act`` did: counts by kind and outcome, the actions other than bus messages
    by name (a few), and each distinct problem once with how many actions it hit."""
    lines: list[str] = []
    head = "Would do" if report.dry_run else "Done"
    tail = "Would do" if report.dry_run else "Still pending"
    for title, rows in ((head, report.done), (tail, report.pending)):
        if not rows:
            continue
        lines.append(f"{title}: {len(rows):,} action(s): {counts(Counter(map(_what, rows)))}")
        if verbose:
            lines += ["  " + render_row(r) for r in rows]
            continue
        # The changes that matter (koji moves, composes, releases) by name; the bus
        # messages (one per decision) only counted.
        named = [r for r in rows if r.get("kind") != BUS_PUBLISH]
        lines += ["  " + render_row(r, short=True) for r in named[:FEW]]
        _cut(lines, min(FEW, len(named)), len(named))
    problems = Counter(
        short_reason(r.get("detail"))
        for r in report.done + report.pending
        if r.get("outcome") in ("failed", "transient")
    )
    if problems:
        lines.append(f"Problems ({sum(problems.values()):,} action(s)):")
        lines += [f"  {n:>4} x {why}" for why, n in problems.most_common()]
    lines += [f"Error: {short_reason(e, 300)}" for e in _distinct(report.errors)]
    return "\n".join(lines) or "Nothing to do."


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _what(r: dict[str, Any]) -> str:
    kind = r.get("kind")
    name = {
        KOJI_MOVE: "move",
        BUS_PUBLISH: "publish",
        COMPOSE_REQUEST: "compose",
        SIGN_REQUEST: "sign",
    }.get(str(kind), "release" if kind == PUSH_RELEASE else str(kind))
    return f"{name} {r.get('outcome', '?')}"


def render_row(r: dict[str, Any], *, short: bool = False) -> str:
    """One line per action, whichever kind the outbox holds (``domain.outbox``,
    ``projections.processes.composer``); a kind this code does not know is named as it is."""
    kind = r.get("kind")
    if kind == KOJI_MOVE:
        what = f"move {r.get('nvr')} {r.get('from_tag')} -> {r.get('to_tag')}"
    elif kind == SIGN_REQUEST:
        what = f"sign {r.get('nvr')} with key {r.get('sigkey')}"
    elif kind == BUS_PUBLISH:
        what = f"publish {r.get('message') or '(no message kind)'}"
        if r.get("nvr"):
            what += f" {r['nvr']}" + (f" ({r['verdict']})" if r.get("verdict") else "")
    elif kind == COMPOSE_REQUEST and r.get("target"):
        what = f"compose {r['target']} via {r.get('backend') or '?'}"
    elif kind == PUSH_RELEASE and r.get("target"):
        what = f"release push {r['target']}"
    else:
        what = f"{kind} {r.get('action')}"
    detail = r.get("detail") or ""
    if short:  # a problem is said once, with its count, under "Problems"
        detail = "" if r.get("outcome") in ("failed", "transient") else short_reason(detail, 100)
    if kind == BUS_PUBLISH and detail == r.get("message"):
        detail = ""  # the message kind again
    return f"{r.get('outcome', '?'):<13} {what}: {detail}".rstrip(": ").rstrip()
