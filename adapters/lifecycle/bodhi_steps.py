"""Bodhi's part: the release created (branch) or archived (End Of Life), through
Bodhi's REST API as bodhi-server defines it (``bodhi/server/services/releases.py``):
``GET /releases/{name}``; ``POST /releases/`` with ``SaveReleaseSchema``'s fields and a
``csrf_token`` from ``GET /csrf`` creates a release, or edits the one named by
``edited``. Authenticated with a bearer token (``[release.bodhi] token_file``).
"""

from __future__ import annotations

from typing import Any

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

# SaveReleaseSchema's fields (the ones a GET answers with, sent back on an edit).
SAVE_FIELDS = (
    "name", "long_name", "version", "branch", "id_prefix", "dist_tag", "stable_tag",
    "testing_tag", "candidate_tag", "pending_signing_tag", "pending_testing_tag",
    "pending_stable_tag", "override_tag", "state", "mail_template", "composed_by_bodhi",
    "create_automatic_updates", "package_manager", "testing_repository", "eol",
)  # fmt: skip


def release_body(r: Release) -> dict[str, Any]:
    f = r.tag
    return {
        "name": f"F{r.version}", "long_name": f"Fedora {r.version}", "version": r.version,
        "branch": f, "id_prefix": "FEDORA", "dist_tag": f, "stable_tag": f"{f}-updates",
        "testing_tag": f"{f}-updates-testing", "candidate_tag": f"{f}-updates-candidate",
        "pending_signing_tag": f"{f}-signing-pending",
        "pending_testing_tag": f"{f}-updates-testing-pending",
        "pending_stable_tag": f"{f}-updates-pending", "override_tag": f"{f}-override",
        "state": "pending", "package_manager": "dnf", "testing_repository": "updates-testing",
    }  # fmt: skip


class BodhiSteps(StepPlugin):
    name = "bodhi"
    order = 20

    def plan(self, release: Release) -> list[Step]:
        name = f"F{release.version}"
        if release.operation == BRANCH:
            body = release_body(release)
            return [Step(f"bodhi.release:{name}", self.name,
                         f"create Bodhi release {name} (state pending, tags {body['dist_tag']}"
                         f"-*)", {"release": body})]  # fmt: skip
        return [Step(f"bodhi.archive:{name}", self.name,
                     f"archive Bodhi release {name} (its open updates become obsolete)",
                     {"name": name})]  # fmt: skip

    def client(self) -> Rest:
        url = self.settings.bodhi_url
        if not url:
            raise StepError("Bodhi is not configured ([release.bodhi] url)")
        token = read_secret(self.settings.bodhi_token_file)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return Rest(url, headers, what=f"Bodhi at {url}")

    def apply(self, step: Step, release: Release) -> Outcome:
        bodhi = self.client()
        if step.id.startswith("bodhi.release:"):
            body = step.params["release"]
            status, current = bodhi.call("GET", f"releases/{body['name']}")
            if status == 200:
                return Outcome(ALREADY, f"{body['name']} exists ({current.get('state')})")
            if status != 404:
                raise StepError(f"Bodhi GET releases/{body['name']}: {status} {errors(current)}")
            return self._save(bodhi, body, f"created {body['name']}")
        name = step.params["name"]
        status, current = bodhi.call("GET", f"releases/{name}")
        if status == 404:
            raise StepError(f"Bodhi has no release {name} to archive")
        if status != 200:
            raise StepError(f"Bodhi GET releases/{name}: {status} {errors(current)}")
        if current.get("state") == "archived":
            return Outcome(ALREADY, f"{name} archived already")
        body = {k: current[k] for k in SAVE_FIELDS if current.get(k) is not None}
        return self._save(bodhi, {**body, "state": "archived", "edited": name}, f"archived {name}")

    def _save(self, bodhi: Rest, body: dict[str, Any], detail: str) -> Outcome:
        status, csrf = bodhi.call("GET", "csrf")
        if status != 200 or not isinstance(csrf, dict) or "csrf_token" not in csrf:
            raise StepError(f"Bodhi GET csrf: {status} {errors(csrf)}")
        status, saved = bodhi.call("POST", "releases/", json_body={**body, **csrf})
        if status != 200:
            raise StepError(f"Bodhi POST releases/: {status} {errors(saved)}")
        return Outcome(DONE, detail, {"state": saved.get("state")})
