"""The steps on our own files and trees: mirrors (directories for a new release),
content (a dead release's trees moved to the archive with rsync) and OSTrees (the new
release's refs branched from rawhide's; a dead release's refs archived).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from relengotron.adapters.lifecycle.ostree import OstreeError, Repo
from relengotron.adapters.lifecycle.ostree_ops import ARCHIVE, Refused, carry_out
from relengotron.adapters.lifecycle.steps import (
    ALREADY,
    BRANCH,
    DONE,
    EOL,
    Outcome,
    Release,
    Step,
    StepError,
    StepPlugin,
)

RSYNC_TIMEOUT = 24 * 3600.0


def trees(version: str) -> list[str]:
    """A release's trees under the mirror root (Fedora's layout)."""
    return [f"releases/{version}", f"updates/{version}", f"updates/testing/{version}"]


class MirrorSteps(StepPlugin):
    name = "mirrors"
    order = 70

    def plan(self, release: Release) -> list[Step]:
        if release.operation != BRANCH:
            return []
        dirs = [f"{t}/Everything/{a}" + ("/os" if t.startswith("releases") else "")
                for t in trees(release.version) for a in release.settings.arches]  # fmt: skip
        return [Step(f"mirrors.dirs:{release.version}", self.name,
                     f"create {len(dirs)} mirror directories under releases/, updates/ and "
                     f"updates/testing/{release.version}", {"dirs": dirs})]  # fmt: skip

    def apply(self, step: Step, release: Release) -> Outcome:
        root = self.settings.mirrors
        if root is None:
            raise StepError("the mirror root is not configured ([release] mirrors)")
        made = [d for d in step.params["dirs"] if not (root / d).is_dir()]
        for d in made:
            (root / d).mkdir(parents=True, exist_ok=True)
        if not made:
            return Outcome(ALREADY, "all directories exist")
        return Outcome(DONE, f"created {len(made)} directories under {root}", {"dirs": made})


class ContentSteps(StepPlugin):
    name = "content"
    order = 90

    def plan(self, release: Release) -> list[Step]:
        if release.operation != EOL:
            return []
        return [Step(f"content.archive:{t}", self.name,
                     f"move {t} from the mirrors to the archive (rsync, then remove)",
                     {"tree": t}) for t in trees(release.version)]  # fmt: skip

    def apply(self, step: Step, release: Release) -> Outcome:
        s = self.settings
        if s.mirrors is None or s.archive is None:
            raise StepError("[release] mirrors and archive must both be configured")
        src, dest = s.mirrors / step.params["tree"], s.archive / step.params["tree"]
        if not src.exists():
            there = "in the archive" if dest.exists() else "nowhere (nothing to archive)"
            return Outcome(ALREADY, f"{step.params['tree']} is {there}")
        rsync = shutil.which("rsync")
        if rsync is None:
            raise StepError("rsync is not installed")
        dest.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([rsync, "-a", "--delay-updates", f"{src}/", f"{dest}/"],
                              capture_output=True, text=True, timeout=RSYNC_TIMEOUT)  # fmt: skip
        if done.returncode != 0:
            raise StepError(f"rsync {src} -> {dest}: {done.stderr.strip()[-300:]}")
        check = subprocess.run([rsync, "-a", "--dry-run", "--itemize-changes", "--checksum",
                                f"{src}/", f"{dest}/"], capture_output=True, text=True,
                               timeout=RSYNC_TIMEOUT)  # fmt: skip
        if check.returncode != 0 or check.stdout.strip():
            raise StepError(f"{dest} differs from {src} after rsync: not removing the source")
        shutil.rmtree(src)
        return Outcome(DONE, f"moved {src} to {dest}", {"files": _count(dest)})


def _count(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file())


class OstreeSteps(StepPlugin):
    name = "ostree"
    order = 80

    def plan(self, release: Release) -> list[Step]:
        os_ = release.settings.ostree_os
        if release.operation == BRANCH:
            return [Step(f"ostree.branch:{release.version}", self.name,
                         f"create {os_}/{release.version}/* refs at the commits of "
                         f"{os_}/rawhide/* (refs already there are kept)",
                         {"from": f"{os_}/rawhide", "to": f"{os_}/{release.version}"})]  # fmt: skip
        return [Step(f"ostree.archive:{release.version}", self.name,
                     f"move the {os_}/{release.version}/* refs to the archive repository "
                     "(pull-local, then delete)",
                     {"prefix": f"{os_}/{release.version}"})]  # fmt: skip

    def apply(self, step: Step, release: Release) -> Outcome:
        s = self.settings
        if s.ostree_repo is None:
            raise StepError("no OSTree repository configured ([release.ostree] repo)")
        repo = Repo(s.ostree_repo)
        try:
            if step.id.startswith("ostree.branch:"):
                return self._branch(repo, step.params["from"], step.params["to"])
            if s.ostree_archive_repo is None:
                raise StepError("no archive repository ([release.ostree] archive_repo)")
            params = {"prefix": step.params["prefix"], "archive": str(s.ostree_archive_repo)}
            row = carry_out(self.context.app, ARCHIVE, repo, params, f"EOL of {release.tag}")
        except (OstreeError, Refused) as exc:
            raise StepError(str(exc)) from exc
        outcome = ALREADY if row["outcome"] == ALREADY else DONE
        return Outcome(outcome, row["detail"], {"action": row["action"]})

    def _branch(self, repo: Repo, source: str, target: str) -> Outcome:
        if not repo.exists():
            raise StepError(f"{repo} is not an OSTree repository")
        made = []
        for ref in repo.refs(source):
            new = target + ref[len(source) :]
            if repo.resolve(new) is None:
                commit = repo.resolve(ref)
                assert commit is not None
                repo.set_ref(new, commit)
                made.append(new)
        if not made:
            return Outcome(ALREADY, f"no {source}/* ref without its {target}/* ref")
        return Outcome(DONE, f"created {len(made)} ref(s)", {"refs": made})
