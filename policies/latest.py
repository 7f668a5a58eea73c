"""Which result or waiver view is the latest, as ResultsDB and WaiverDB answer it. Pure.

Views are compared by log position, never by clock (larger = newer); equal positions
are broken on every other field, so the choice never depends on the order of the
input tuples. ResultsDB's ``/results/latest?_distinct_on=scenario,system_architecture,
system_variant`` (what Greenwave asks, ``greenwave/resources.py`` and ``config.py``
``DISTINCT_LATEST_RESULTS_ON``) is :func:`latest_results`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any, TypeVar

from relengotron.policies.snapshot import BatchView, ResultView, WaiverView

__all__ = ["latest", "latest_per_scenario", "latest_results", "newer", "newest_first", "order"]

_V = TypeVar("_V", ResultView, WaiverView, BatchView)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def order(view: ResultView | WaiverView | BatchView) -> tuple[int, tuple[str, ...]]:
    """Newer = larger. Equal positions are broken on every other field, so the choice
    never depends on the order of the input tuples. (The views' fields are all scalars,
    so a shallow tuple is what ``astuple`` would give, without its deep copies.)"""
    values = (getattr(view, name) for name in _field_names(type(view)))
    return view.position, tuple("" if v is None else f"{type(v).__name__}:{v}" for v in values)


def newer(a: ResultView | WaiverView | BatchView, b: ResultView | WaiverView | BatchView) -> bool:
    """``order(a) > order(b)``, computing the full order only when positions tie."""
    if a.position != b.position:
        return a.position > b.position
    return order(a) > order(b)


def newest_first(views: Iterable[_V]) -> list[_V]:
    """Views sorted newest first by ``_order`` (by position alone when none tie)."""
    found = list(views)
    if len({v.position for v in found}) == len(found):
        return sorted(found, key=lambda v: v.position, reverse=True)
    return sorted(found, key=order, reverse=True)


def latest(views: Iterable[_V]) -> _V | None:
    best: _V | None = None
    for view in views:
        if best is None or newer(view, best):
            best = view
    return best


def _distinct(result: ResultView) -> tuple[str | None, str | None, str | None]:
    return result.scenario, result.system_architecture, result.system_variant


def latest_per_scenario(results: Iterable[ResultView]) -> list[ResultView]:
    """The latest result per scenario, architecture and variant, newest first."""
    latest: dict[tuple[str | None, str | None, str | None], ResultView] = {}
    for result in results:
        key = _distinct(result)
        if key not in latest or newer(result, latest[key]):
            latest[key] = result
    return newest_first(latest.values())  # newest first, like ResultsDB


def latest_results(results: Iterable[ResultView]) -> list[ResultView]:
    """What ResultsDB's ``/results/latest`` with Greenwave's ``_distinct_on`` gives: the
    latest result per subject, testcase, scenario, architecture and variant, newest
    first."""
    latest: dict[tuple[Any, ...], ResultView] = {}
    for result in results:
        key = (result.subject_type, result.subject_identifier, result.testcase, *_distinct(result))
        if key not in latest or newer(result, latest[key]):
            latest[key] = result
    return newest_first(latest.values())
