"""The projection code's digest (part of every stored view's format) covers every
module under ``projections/``, the subpackages' too: a change to a fold refolds the
stored views (``projections.processes.view_format``)."""

from __future__ import annotations

from pathlib import Path

from relengotron.projections.processes.view_format import code_files

ROOT = Path(__file__).resolve().parents[2] / "projections"


def test_the_digest_reads_every_projection_module_in_a_stable_order() -> None:
    names = [name for name, _ in code_files()]
    expected = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py"))
    assert names == expected
    assert {"folds/gating.py", "processes/decider.py", "config.py"} <= set(names)


def test_modules_in_subpackages_are_named_by_their_path(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    for rel in ("z.py", "a/b.py", "a/notes.txt"):
        (tmp_path / rel).write_text("x = 1\n")
    assert [name for name, _ in code_files(tmp_path)] == ["a/b.py", "z.py"]
