"""Use case: the OSTree operations of ``relengotron ostree`` (``adapters.lifecycle.ostree_ops``).

``promote`` moves a ref only to a commit whose compose gate passed: a compose of an
``ostree`` artifact that finished ``composed``, that names the commit (its backend ref
or location is the commit, or ends with ``:<commit>`` / ``@<commit>``), and every test
its definition requires passed on it. Anything else — no such compose, a compose
failed or still running, a test failed or without result — refuses, with the reason
(fail closed).
"""

from __future__ import annotations

from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.lifecycle.ostree import OstreeError, Repo
from relengotron.adapters.lifecycle.ostree_ops import (
    ARCHIVE,
    GC,
    PROMOTE,
    TAG,
    Refused,
    carry_out,
    gc_candidates,
    refs_state,
)
from relengotron.adapters.services import decisions
from relengotron.adapters.settings import Settings
from relengotron.domain.composing import COMPOSED

PASSING = {"passed", "info", "waived"}

__all__ = ["OstreeError", "Refused", "archive", "gc", "promote", "tag"]


def _names_commit(value: str | None, commit: str) -> bool:
    return value is not None and (value == commit or value.endswith((f":{commit}", f"@{commit}")))


def gate_passed(app: Any, cfg: Settings, commit: str) -> tuple[bool, str]:
    """(passed, why) of the compose gate of an OSTree commit."""
    decisions.decide_all(app, cfg)
    view = bootstrap.composer(app, cfg).read_view()
    found = [c for c in view.composes.values()
             if c.kind == "ostree" and (_names_commit(c.ref, commit)
                                        or _names_commit(c.location, commit))]  # fmt: skip
    if not found:
        return False, f"no OSTree compose names commit {commit[:12]}"
    reasons = []
    for c in sorted(found, key=lambda c: c.key):
        if c.state != COMPOSED:
            reasons.append(f"{c.key} is {c.state}")
            continue
        tests = view.test_outcomes(c.key)
        bad = {t: o for t, o in tests.items() if (o or "").lower() not in PASSING}
        if bad:
            reasons.append(
                f"{c.key}: " + ", ".join(f"{t} {o or 'no result'}" for t, o in bad.items())
            )
            continue
        return True, f"{c.key} composed" + (f", {len(tests)} test(s) passed" if tests else "")
    return False, "; ".join(reasons)


def promote(app: Any, cfg: Settings, repo: Repo, source: str, to: str, *,
            dry_run: bool = False) -> dict[str, Any]:  # fmt: skip
    commit = repo.resolve(source)
    if commit is None:
        raise Refused(f"{source} names no commit in {repo}")
    passed, why = gate_passed(app, cfg, commit)
    if not passed:
        raise Refused(f"the compose gate of {commit[:12]} has not passed: {why}")
    return carry_out(app, PROMOTE, repo, {"to": to, "commit": commit},
                     f"promote {source} to {to}: {why}", dry_run=dry_run)  # fmt: skip


def tag(app: Any, repo: Repo, name: str, source: str, *, dry_run: bool = False) -> dict[str, Any]:
    commit = repo.resolve(source)
    if commit is None:
        raise Refused(f"{source} names no commit in {repo}")
    return carry_out(app, TAG, repo, {"name": name, "commit": commit},
                     f"release tag {name} at {source}", dry_run=dry_run)  # fmt: skip


def archive(app: Any, repo: Repo, prefix: str, target: Repo, *,
            dry_run: bool = False) -> dict[str, Any]:  # fmt: skip
    row = carry_out(app, ARCHIVE, repo, {"prefix": prefix, "archive": str(target.path)},
                    f"archive {prefix}/*", dry_run=dry_run)  # fmt: skip
    if dry_run:
        row["refs"] = repo.refs(prefix)
    return row


def gc(app: Any, repo: Repo, keep: int, *, dry_run: bool = False) -> dict[str, Any]:
    if keep < 1:
        raise Refused("--keep must be at least 1")
    going = {r: c for r, c in gc_candidates(repo, keep).items() if c}
    if dry_run:
        n = sum(map(len, going.values()))
        return {"kind": GC, "outcome": "would-do", "detail": f"{n} commit(s) would go",
                "would_go": going}  # fmt: skip
    return carry_out(app, GC, repo, {"keep": keep, "state": refs_state(repo)},
                     f"prune to {keep} commit(s) per ref")  # fmt: skip
