"""Progress bars (tqdm) for the commands that can run long: ``ingest``, ``decide``,
``project`` and ``replay --verify``.

A bar goes to stderr, never to stdout: by default only when stderr is a terminal and the
output is not ``--json``; ``--progress`` asks for one anyway, ``--no-progress`` for none.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from tqdm import tqdm


def add_option(p: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--no-progress`` (the latter kept for scripts that pass it)."""
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal and not --json)",
    )


def wanted(args: argparse.Namespace, stream: TextIO | None = None) -> bool:
    """Whether ``args`` (with ``--progress``/``--no-progress``) ask for a bar on ``stream``."""
    chosen = getattr(args, "progress", None)
    if chosen is not None:
        return bool(chosen)
    stream = stream or sys.stderr
    return bool(stream.isatty()) and not getattr(args, "json", False)


class ProgressBar:
    """A tqdm bar fed the way our loops report: ``bar(count, done, total)``, where
    ``count`` is what was handled so far (messages, events) and ``done``/``total`` how
    far through the input (bytes, log positions) when that is known."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        unit: str = "msgs",
        through: str | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.unit = unit
        self.count = 0
        self.through = through  # the unit of done/total (bytes "B", log "positions")
        self._bar: Any = tqdm(
            desc=label,
            unit=f" {unit}",
            file=self.stream,
            disable=not self.enabled,
            dynamic_ncols=True,
            mininterval=0.2,
            leave=False,
        )

    def __call__(self, count: int, done: int | None = None, total: int | None = None) -> None:
        self.count = count
        if not self.enabled:
            return
        bar = self._bar
        if total:  # how far through the input: the bar; the count beside it
            if bar.total != total:
                bar.total = total
                bar.unit = self.through if self.through == "B" else f" {self.through or self.unit}"
                bar.unit_scale = self.through == "B"
            position = min(done or 0, total)
            bar.set_postfix_str(f"{count:,} {self.unit}", refresh=False)
        else:
            position = count
        bar.update(position - bar.n)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bar_for(
    args: argparse.Namespace, label: str, unit: str = "msgs", through: str | None = None
) -> ProgressBar | None:
    """A bar when ``args`` want one (:func:`wanted`), else None."""
    if not wanted(args):
        return None
    return ProgressBar(label, enabled=True, unit=unit, through=through)
