"""The waivers in force for a subject (WaiverDB's non-obsolete waivers, as Greenwave reads
them): the latest per (testcase, scenario) for the same subject and product version (a
waiver without one waives any), if it waives; ``waived: false`` revokes. Pure.
"""

from __future__ import annotations

from relengotron.policies.latest import newer as _newer
from relengotron.policies.latest import newest_first as _newest_first
from relengotron.policies.snapshot import Snapshot, WaiverView

__all__ = ["active_waivers", "waivers_in_force"]


def active_waivers(snapshot: Snapshot) -> list[WaiverView]:
    """The waivers in force for the snapshot's subject and product version: the latest
    per (testcase, scenario), if it waives (WaiverDB's non-obsolete waivers, of which
    Greenwave keeps those that waive), newest first (WaiverDB's order)."""
    return _newest_first(w for ws in waivers_in_force(snapshot).values() for w in ws)


def waivers_in_force(snapshot: Snapshot) -> dict[str, list[WaiverView]]:
    """testcase -> the waivers in force: the latest per (testcase, scenario), if waived."""
    latest: dict[tuple[str, str | None], WaiverView] = {}
    for waiver in snapshot.waivers:
        if (
            waiver.subject_type != snapshot.subject_type
            or waiver.subject_identifier != snapshot.subject_identifier
            or (
                waiver.product_version is not None
                and waiver.product_version != snapshot.product_version
            )
        ):
            continue
        key = (waiver.testcase, waiver.scenario)
        if key not in latest or _newer(waiver, latest[key]):
            latest[key] = waiver
    active: dict[str, list[WaiverView]] = {}
    for waiver in latest.values():
        if waiver.waived:
            active.setdefault(waiver.testcase, []).append(waiver)
    return active
