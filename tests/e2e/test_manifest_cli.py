"""``relengotron manifest solve`` against real repodata decides what a build affects.

RPMs are built with rpmbuild and indexed with createrepo_c (``tests.rpmrepo``):
an OSTree whose top-level list is ``shell`` depends on ``libfoo`` through a
chain, so a new libfoo affects it once its manifest is the depsolved closure,
and the NVR already in the repository does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from relengotron.adapters.cli.main import main
from tests.rpmrepo import Binary, Source, build_repo

DEFINITIONS = """
- name: rawhide-repo
  kind: repo
  release: rawhide
  arches: [x86_64]
  tags: [rawhide]
- name: tiny-ostree
  kind: ostree
  release: rawhide
  arches: [x86_64]
  repositories: [rawhide-repo]
  packages: [shell]
  compose: {backend: command}
"""


def run(capsys: Any, *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def test_a_depsolved_manifest_decides_what_is_affected(tmp_path: Path, capsys: Any) -> None:
    repo = build_repo(
        [
            Source("shell", "1.0", "1.fc44", (Binary("shell", requires=("libfoo",)),)),
            Source("foo", "2.1", "3.fc44", (Binary("libfoo", requires=("libbar",)),)),
            Source(
                "bar",
                "0.9",
                "1.fc44",
                (
                    Binary(
                        "libbar",
                    ),
                ),
            ),
            Source(
                "unrelated",
                "1.0",
                "1.fc44",
                (
                    Binary(
                        "unrelated",
                    ),
                ),
            ),
        ],
        tmp_path,
    )
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "a.yaml").write_text(DEFINITIONS)
    db = ["--db", f"sqlite:///{tmp_path / 's.db'}"]
    assert run(capsys, "artifacts", "sync", "--dir", str(tmp_path / "defs"), *db)[0] == 0
    # With only the definition's list, a new foo is not known to be in the OSTree.
    _, before = run(capsys, "affected", "foo-2.2-1.fc44", *db)
    assert [a["artifact"] for a in before["affected"]] == ["rawhide-repo"]

    code, solved = run(capsys, "manifest", "solve", "--repo", str(repo), *db)
    assert code == 0, solved
    assert solved["artifacts"]["tiny-ostree"]["packages"] == 3  # shell, foo, bar
    assert solved["recorded"] == 1
    code, arts = run(capsys, "artifacts", *db)
    ostree = {a["name"]: a for a in arts["artifacts"]}["tiny-ostree"]
    assert (ostree["manifest_source"], ostree["packages"]) == ("depsolve", 3)

    _, after = run(capsys, "affected", "foo-2.2-1.fc44", *db)
    assert [a["artifact"] for a in after["affected"]] == ["rawhide-repo", "tiny-ostree"]
    reason = after["affected"][1]["reasons"][0]
    assert (reason["package"], reason["was"], reason["source"]) == (
        "foo", "foo-2.1-3.fc44", "depsolve",
    )  # fmt: skip
    # The NVR the repository already has changes nothing in the OSTree.
    _, same = run(capsys, "affected", "foo-2.1-3.fc44", *db)
    assert [a["artifact"] for a in same["affected"]] == ["rawhide-repo"]
    # Solving again records nothing new.
    assert run(capsys, "manifest", "solve", "--repo", str(repo), *db)[1]["recorded"] == 0
