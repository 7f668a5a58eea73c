"""Monitored dist-git branches: a push to any other branch is recorded as ignored.

Fedora's CI pipelines test only changes pushed to release branches: "Only changes pushed
to a fXX or master branch in dist-git are monitored" and "The pipeline watches all
branches corresponding to major Fedora releases and Rawhide" (the All Packages Fedora
Pipeline's README; ``master`` was renamed ``rawhide`` in 2021, and some repositories use
``main``). A push to another branch (a fork, ``private-*``, ``epel*`` unless configured)
starts nothing to gate: the message is kept, its status ``ignored`` with the reason.

Patterns are regular expressions matched against the whole branch name (``[gating]
monitored_branches``). A push whose branch is not given is kept (nothing says it is not
monitored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property

from relengotron.domain.facts import ChangePushed
from relengotron.domain.message import IGNORED, RECOGNIZED
from relengotron.domain.values import IncomingMessage

__all__ = [
    "DEFAULT_MONITORED_BRANCHES",
    "NOT_MONITORED",
    "BranchFilter",
    "recorded_as_not_monitored",
]

#: ``fXX``, Rawhide under its three names.
DEFAULT_MONITORED_BRANCHES: tuple[str, ...] = ("f[0-9]+", "rawhide", "main", "master")

#: How the reason of an ignored push starts (replay reads it back).
NOT_MONITORED = "push to a branch that is not monitored"


@dataclass(frozen=True)
class BranchFilter:
    patterns: tuple[str, ...] = DEFAULT_MONITORED_BRANCHES

    @cached_property
    def _compiled(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.patterns)

    def check(self) -> None:
        """Raises ValueError naming a pattern that is not a regular expression."""
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc

    def monitored(self, branch: str | None) -> bool:
        return branch is None or any(p.fullmatch(branch) for p in self._compiled)

    def reason(self, branch: str) -> str:
        return f"{NOT_MONITORED}: {branch!r} (monitored: {', '.join(self.patterns)})"

    def apply(self, message: IncomingMessage) -> IncomingMessage:
        """The message, ignored with the reason when it is a push to an unmonitored branch
        (its facts dropped: nothing is recorded about the change)."""
        if message.status != RECOGNIZED:
            return message
        pushes = [f for f in message.facts if isinstance(f, ChangePushed)]
        if not pushes or len(pushes) != len(message.facts):
            return message
        skipped = [p.branch for p in pushes if not self.monitored(p.branch)]
        if len(skipped) != len(pushes):
            return message
        return replace(message, status=IGNORED, reason=self.reason(str(skipped[0])), facts=())


def recorded_as_not_monitored(status: str, reason: str | None) -> bool:
    """Whether a stored message was ignored as a push to an unmonitored branch."""
    return status == IGNORED and (reason or "").startswith(NOT_MONITORED)
