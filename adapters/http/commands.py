"""What the API's write endpoints do: record an input message, then bring decisions (and
the read models) up to date. One write at a time per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from relengotron.adapters import bootstrap
from relengotron.adapters.services import decisions, inputs
from relengotron.adapters.services.status import waiver_warnings
from relengotron.adapters.settings import Settings
from relengotron.domain.application import RelengApp

__all__ = ["Commands", "StoreCommands"]


class Commands(Protocol):
    def waive(
        self,
        *,
        subject_type: str,
        subject_identifier: str,
        testcase: str,
        scenario: str | None,
        product_version: str | None,
        waived: bool,
        comment: str,
        username: str,
    ) -> dict[str, Any]: ...

    def override(
        self, nvr: str, action: str, *, reason: str, username: str, context: str | None
    ) -> dict[str, Any]: ...

    def rerun(
        self, nvr: str, *, testcase: str, scenario: str | None, reason: str, username: str
    ) -> dict[str, Any]: ...


class StoreCommands:
    """Writes to the event store of ``app``; ``refresh`` runs after each write (default:
    the decider and composer, then the read-model projector)."""

    def __init__(
        self,
        app: RelengApp,
        cfg: Settings,
        *,
        refresh: Callable[[], Any] | None = None,
    ) -> None:
        self.app = app
        self.cfg = cfg
        self.refresh = refresh or self._refresh
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        decisions.decide(self.app, self.cfg)
        bootstrap.projector(self.app, self.cfg).run()

    def waive(
        self,
        *,
        subject_type: str,
        subject_identifier: str,
        testcase: str,
        scenario: str | None,
        product_version: str | None,
        waived: bool,
        comment: str,
        username: str,
    ) -> dict[str, Any]:
        with self._lock:
            # As `relengotron waive`: recorded all the same (WaiverDB accepts it too), with
            # the reasons it may not be what was meant.
            warnings = (
                waiver_warnings(
                    bootstrap.decider(self.app, self.cfg).read_view(), subject_identifier, testcase
                )
                if subject_type == "koji_build"
                else []
            )
            key = inputs.record_waiver(
                self.app,
                self.cfg,
                subject_type=subject_type,
                subject_identifier=subject_identifier,
                testcase=testcase,
                scenario=scenario,
                product_version=product_version,
                waived=waived,
                comment=comment,
                username=username,
                source="relengotron api",
            )
            self.refresh()
        out: dict[str, Any] = {"waiver_id": key, "message_key": key, "topic": inputs.WAIVER_NEW}
        if warnings:
            out["warnings"] = warnings
        return out

    def override(
        self, nvr: str, action: str, *, reason: str, username: str, context: str | None
    ) -> dict[str, Any]:
        with self._lock:
            key = inputs.record_override(
                self.app, self.cfg, nvr=nvr, action=action, reason=reason,
                username=username, context=context,
            )  # fmt: skip
            self.refresh()
        return {"message_key": key, "topic": inputs.GATE_OVERRIDE, "nvr": nvr, "action": action}

    def rerun(
        self, nvr: str, *, testcase: str, scenario: str | None, reason: str, username: str
    ) -> dict[str, Any]:
        with self._lock:
            key = inputs.record_rerun(
                self.app, nvr=nvr, testcase=testcase, scenario=scenario, reason=reason,
                username=username, source="relengotron api",
            )  # fmt: skip
            self.refresh()
        return {"message_key": key, "topic": inputs.TEST_RERUN, "nvr": nvr, "testcase": testcase}
