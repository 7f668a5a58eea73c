"""Bugzilla's part, through python-bugzilla: at a branch, the product must have the
release's version (Bugzilla's API has no call that adds one, so a missing version stops
the run with that reason; the Bugzilla admins add it, and the run resumes); at End Of
Life, the version's open bugs are closed ``CLOSED EOL`` with the EOL comment, in
batches of ``[release.bugzilla] batch`` (``Bug.search``, then ``Bug.update``). A rerun
finds only the bugs still open.
"""

from __future__ import annotations

from typing import Any

from relengotron.adapters.lifecycle.config import read_secret
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

OPEN = ["NEW", "ASSIGNED", "POST", "MODIFIED", "ON_DEV", "ON_QA", "VERIFIED", "RELEASE_PENDING"]
EOL_COMMENT = (
    "Fedora Linux {version} entered end-of-life (EOL) status.\n\n"
    "Fedora Linux {version} is no longer maintained, which means that it will not receive "
    "any further security or bug fix updates. As a result we are closing this bug.\n\n"
    "If you can reproduce this bug against a currently maintained version of Fedora Linux "
    "please feel free to reopen this bug against that version."
)


class BugzillaSteps(StepPlugin):
    name = "bugzilla"
    order = 40

    def plan(self, release: Release) -> list[Step]:
        product = release.settings.bugzilla_product
        if release.operation == BRANCH:
            return [Step(f"bugzilla.version:{release.version}", self.name,
                         f"check that {product} has version {release.version} in Bugzilla",
                         {"product": product, "version": release.version})]  # fmt: skip
        batch = release.settings.bugzilla_batch
        return [Step(f"bugzilla.close:{release.version}", self.name,
                     f"close the open {product} {release.version} bugs as CLOSED EOL with the "
                     f"EOL comment, {batch} at a time",
                     {"product": product, "version": release.version, "batch": batch,
                      "comment": EOL_COMMENT.format(version=release.version)})]  # fmt: skip

    def client(self) -> Any:
        import bugzilla  # python-bugzilla

        url = self.settings.bugzilla_url
        if not url:
            raise StepError("Bugzilla is not configured ([release.bugzilla] url)")
        key = read_secret(self.settings.bugzilla_api_key_file)
        try:
            return bugzilla.Bugzilla(url, api_key=key, use_creds=False, force_xmlrpc=True)
        except Exception as exc:
            raise StepError(f"Bugzilla at {url}: {exc}") from exc

    def apply(self, step: Step, release: Release) -> Outcome:
        bz = self.client()
        p = step.params
        if step.id.startswith("bugzilla.version:"):
            products = bz.product_get(names=[p["product"]], include_fields=["name", "versions"])
            if not products:
                raise StepError(f"Bugzilla has no product {p['product']}")
            versions = [v.get("name") for v in products[0].get("versions") or []]
            if p["version"] not in versions:
                raise StepError(
                    f"{p['product']} has no version {p['version']} in Bugzilla (known: "
                    f"{', '.join(versions[-5:]) or 'none'}): Bugzilla's API cannot add one; "
                    "ask the Bugzilla admins, then run again"
                )
            return Outcome(ALREADY, f"{p['product']} {p['version']} exists")
        closed: list[int] = []
        while True:
            query = bz.build_query(product=p["product"], version=p["version"], status=OPEN,
                                   include_fields=["id", "status"])  # fmt: skip
            query["limit"] = p["batch"]
            ids = [b.id for b in bz.query(query)]
            if not ids:
                break
            if set(ids) & set(closed):
                raise StepError(
                    f"bugs still open after closing them: {sorted(set(ids) & set(closed))}"
                )
            update = bz.build_update(status="CLOSED", resolution="EOL", comment=p["comment"])
            bz.update_bugs(ids, update)
            closed += ids
        if not closed:
            return Outcome(ALREADY, f"no open {p['product']} {p['version']} bugs")
        return Outcome(DONE, f"closed {len(closed)} bug(s)", {"closed": closed})
