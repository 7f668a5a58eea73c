"""Which stored view a follower resumes from: the view's format, and its positions.

A follower's view is written with a format naming the view's documents (the
follower's ``VIEW_FORMAT``), the settings it was folded under and a digest of the
projection code: every module under ``projections/``, subpackages included, each
named by its path. A stored view of another format is folded again from the start,
so a change to the code that folds it never leaves a view folded by older code.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from relengotron.projections.folds.view_docs import ViewMeta

# The projections package: every module in it, in every subpackage, folds or decides.
_PROJECTIONS = Path(__file__).resolve().parents[1]


def code_files(root: Path = _PROJECTIONS) -> list[tuple[str, Path]]:
    """The projection code's modules, named by their path under ``root``, in a stable order."""
    return sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*.py"))


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the projection code (the stored views are documents of its classes)."""
    h = hashlib.sha256()
    for name, path in code_files():
        h.update(name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def view_format(version: int, config: object) -> str:
    """The format of a view: its documents' version, the settings and the code."""
    digest = hashlib.sha256(f"{config!r}\n{code_digest()}".encode()).hexdigest()[:16]
    return f"v{version}:{digest}"


def belongs(meta: ViewMeta, cursor: int) -> bool:
    """Whether a view written with ``meta`` is the view at the tracked position ``cursor``:
    written with it, or with an earlier one and folded no further than it (input
    decided before, read without deciding again)."""
    return meta.tracked == cursor or (meta.tracked < cursor and meta.position <= cursor)
