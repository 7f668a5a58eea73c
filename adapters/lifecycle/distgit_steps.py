"""dist-git's part of a branch: each package of the set gets the release's branch from
``rawhide``, through Pagure's API (src.fedoraproject.org): ``GET
/api/0/<namespace>/<package>/git/branches`` lists the branches, ``POST
/api/0/<namespace>/<package>/git/branch`` with ``branch`` and ``from_branch`` creates
one (``Authorization: token <API token>``). One step for the whole set: a rerun
checks each package and creates only the branches still missing.
"""

from __future__ import annotations

from relengotron.adapters.lifecycle.config import read_secret
from relengotron.adapters.lifecycle.rest import Rest, errors
from relengotron.adapters.lifecycle.steps import (
    ALREADY,
    BRANCH,
    DONE,
    Outcome,
    Release,
    Step,
    StepError,
    StepPlugin,
)

FROM = "rawhide"


class DistGitSteps(StepPlugin):
    name = "distgit"
    order = 30

    def plan(self, release: Release) -> list[Step]:
        if release.operation != BRANCH:
            return []
        pkgs = list(release.settings.packages)
        return [Step(f"distgit.branches:{release.tag}", self.name,
                     f"branch {release.tag} from {FROM} in {len(pkgs)} "
                     f"{release.settings.distgit_namespace} repositories",
                     {"branch": release.tag, "from": FROM, "packages": pkgs,
                      "namespace": release.settings.distgit_namespace})]  # fmt: skip

    def apply(self, step: Step, release: Release) -> Outcome:
        url = self.settings.distgit_url
        if not url:
            raise StepError("dist-git is not configured ([release.distgit] url)")
        token = read_secret(self.settings.distgit_token_file)
        pagure = Rest(url, {"Authorization": f"token {token}"} if token else {}, f"Pagure at {url}")
        p = step.params
        created: list[str] = []
        for pkg in p["packages"]:
            repo = f"api/0/{p['namespace']}/{pkg}/git"
            status, body = pagure.call("GET", f"{repo}/branches")
            if status != 200:
                raise StepError(f"{pkg}: GET branches: {status} {errors(body)} "
                                f"({len(created)} branch(es) created before)")  # fmt: skip
            if p["branch"] in (body.get("branches") or []):
                continue
            status, body = pagure.call(
                "POST", f"{repo}/branch", form={"branch": p["branch"], "from_branch": p["from"]}
            )
            if status != 200:
                raise StepError(f"{pkg}: creating {p['branch']}: {status} {errors(body)} "
                                f"({len(created)} branch(es) created before)")  # fmt: skip
            created.append(pkg)
        if not created:
            return Outcome(ALREADY, f"all {len(p['packages'])} have {p['branch']}")
        return Outcome(DONE, f"{p['branch']} created in {len(created)} of "
                             f"{len(p['packages'])}", {"created": created})  # fmt: skip
