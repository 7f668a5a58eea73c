"""Dist-git pushes -> :class:`ChangePushed`.

Topics read (bus prefix stripped):

- ``git.receive``: the dist-git hook. fedmsg era body ``{"commit": {namespace,
  repo, rev, branch, agent, username, summary, stats{files{...}}, path}}``;
  the fedora-messaging git hook (``CommitV1``) adds a top-level ``agent``.
- ``pagure.git.receive`` from src.fedoraproject.org (``org.fedoraproject.*``):
  ``{"repo": {name, namespace, fullname, parent}, "branch", "end_commit",
  "start_commit", "total_commits", "agent", "changed_files"?}``. The pushed
  head (``end_commit``) is the change.

Recognized but ignored: pushes to forks (``forks/<user>/<ns>/<repo>``, in
``pagure.git.receive``'s fullname or ``git.receive``'s repository path: not a dist-git
branch) and ``io.pagure.*`` pushes (pagure.io projects, not dist-git).
Pushes to branches that are not monitored (``[gating] monitored_branches``) are
ignored after translation, by ``adapters.ingest.branches`` (the set is a setting).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relengotron.adapters.translate.base import Envelope, Translation, as_str, get_path
from relengotron.domain.facts import ChangeKey, ChangePushed

FAMILY = "dist-git"
DEFAULT_NAMESPACE = "rpms"


def _branch(value: Any) -> str | None:
    branch = as_str(value)
    if branch and branch.startswith("refs/heads/"):
        branch = branch[len("refs/heads/") :]
    return branch


def _files(value: Any) -> tuple[str, ...]:
    if isinstance(value, Mapping):
        return tuple(sorted(str(k) for k in value))
    if isinstance(value, list):
        return tuple(sorted(str(k) for k in value if isinstance(k, str)))
    return ()


def _namespace_from_path(path: Any) -> str | None:
    """``/srv/git/repositories/rpms/bash.git`` -> ``rpms``."""
    parts = [p for p in str(path or "").split("/") if p]
    return parts[-2] if len(parts) >= 2 else None


def _git_receive(body: Mapping[str, Any]) -> Translation:
    commit = body.get("commit")
    if not isinstance(commit, Mapping):
        return Translation(family=FAMILY, problems=("git.receive body has no commit object",))
    repo = as_str(commit.get("repo"))
    rev = as_str(commit.get("rev"))
    if repo is None or rev is None:
        return Translation(family=FAMILY, problems=("git.receive commit has no repo or rev",))
    path = as_str(commit.get("path")) or ""
    if "forks" in path.split("/"):  # /srv/git/repositories/forks/<user>/<ns>/<repo>.git
        return Translation(family=FAMILY, ignored=f"push to a fork ({path}), not dist-git")
    namespace = (
        as_str(commit.get("namespace"))
        or _namespace_from_path(commit.get("path"))
        or DEFAULT_NAMESPACE
    )
    fact = ChangePushed(
        change=ChangeKey(namespace, repo, rev.lower()),
        branch=_branch(commit.get("branch")),
        agent=as_str(body.get("agent"))
        or as_str(commit.get("agent"))
        or as_str(commit.get("username")),
        summary=as_str(commit.get("summary")),
        files=_files(get_path(commit, "stats", "files")),
    )
    return Translation(family=FAMILY, facts=(fact,))


def _pagure_git_receive(body: Mapping[str, Any]) -> Translation:
    repo = body.get("repo")
    if not isinstance(repo, Mapping):
        return Translation(family=FAMILY, problems=("pagure.git.receive body has no repo object",))
    fullname = as_str(repo.get("fullname")) or ""
    if fullname.startswith("forks/") or repo.get("parent"):
        return Translation(family=FAMILY, ignored=f"push to a fork ({fullname}), not dist-git")
    name = as_str(repo.get("name"))
    if name is None and fullname:
        name = fullname.rsplit("/", 1)[-1]
    namespace = as_str(repo.get("namespace"))
    if namespace is None and fullname.count("/") == 1:
        namespace = fullname.split("/", 1)[0]
    rev = as_str(body.get("end_commit"))
    if name is None or rev is None:
        return Translation(
            family=FAMILY, problems=("pagure.git.receive has no repo name or end_commit",)
        )
    fact = ChangePushed(
        change=ChangeKey(namespace or DEFAULT_NAMESPACE, name, rev.lower()),
        branch=_branch(body.get("branch")),
        agent=as_str(body.get("agent")),
        files=_files(body.get("changed_files")),
    )
    return Translation(family=FAMILY, facts=(fact,))


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    """Translate ``git.receive`` / ``pagure.git.receive``; None for other topics."""
    if suffix not in ("git.receive", "pagure.git.receive"):
        return None
    body = envelope.body
    if not isinstance(body, Mapping):
        return Translation(
            family=FAMILY, problems=(f"body is {type(body).__name__}, not an object",)
        )
    if suffix == "git.receive":
        return _git_receive(body)
    if envelope.topic.startswith("io.pagure."):
        name = as_str(get_path(body, "repo", "fullname")) or as_str(get_path(body, "repo", "name"))
        return Translation(family=FAMILY, ignored=f"pagure.io project push ({name}), not dist-git")
    return _pagure_git_receive(body)
