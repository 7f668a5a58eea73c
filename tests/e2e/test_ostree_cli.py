"""``relengotron ostree``: promote only to a commit whose compose gate passed (the
composer's record of an OSTree compose naming the commit), on a real repository."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_composes import ComposeSite, csite  # noqa: F401  (the fixture)
from tests.e2e.test_release_lifecycle import commit, ostree

SOURCE, TARGET = "fedora/rawhide/x86_64/iot", "fedora/rawhide/x86_64/stable/iot"


def test_promote_waits_for_the_compose_gate(csite: ComposeSite, tmp_path: Path) -> None:  # noqa: F811
    repo = tmp_path / "repo"
    repo.mkdir()
    ostree(repo, "init", "--mode=archive")
    first = commit(repo, SOURCE, tmp_path / "tree", "one")
    args = ("ostree", "promote", SOURCE, "--to", TARGET, "--repo", str(repo))

    code, out = csite.cli(*args)
    assert code == 1 and out["outcome"] == "refused"
    assert "no OSTree compose names commit" in out["detail"]
    assert "stable" not in ostree(repo, "refs")

    # The OSTree is composed through the composer (see test_composes): the repository
    # first, then the OSTree, finished by a compose message naming the commit.
    csite.promote(["bash-5.3-1.fc44"])
    csite.act()
    csite.act()
    csite.finish("rawhide-repo#1")
    csite.act()
    code, out = csite.cli(*args)
    assert code == 1 and "no OSTree compose names" in out["detail"]  # still composing
    csite.ingest([csite.bus.compose_status(f"ostree:{SOURCE}@{first}", "FINISHED",
                                           target=SOURCE)])  # fmt: skip
    code, out = csite.cli(*args)
    assert code == 0, out
    assert out["outcome"] == "done" and ostree(repo, "rev-parse", TARGET) == first
    code, out = csite.cli(*args)
    assert code == 0 and out["outcome"] == "already"

    # A newer commit without a compose is refused; the target stays.
    second = commit(repo, SOURCE, tmp_path / "tree", "two")
    code, out = csite.cli(*args)
    assert code == 1 and second[:12] in out["detail"]
    assert ostree(repo, "rev-parse", TARGET) == first
