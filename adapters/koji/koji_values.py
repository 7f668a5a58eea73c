"""The koji gateway's plain values: move outcomes, the auth settings, moves and their
results, and its errors. They need no koji library: the settings, the effector and the
commands name them without loading it (``adapters.koji.koji_gateway`` talks to the hub)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MOVED, ALREADY, GONE, FAILED, TRANSIENT, WOULD_MOVE = (
    "moved", "already", "gone", "failed", "transient", "would-move",
)  # fmt: skip
AUTH_METHODS = ("none", "ssl", "keytab", "kerberos")  # kerberos: the kinit ticket (GSSAPI)


class KojiConfigError(ValueError):
    """The koji settings cannot work (unknown auth method, missing cert or keytab...)."""


class KojiLoginError(RuntimeError):
    """Logging in to the hub failed (bad or unreadable cert, keytab, principal, CA...)."""


class KojiUnavailable(RuntimeError):
    """The hub did not answer (transient errors) after all retries; reads only."""


class KojiSignError(RuntimeError):
    """koji could not be asked what signing needs; ``transient`` when trying again may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class KojiAuth:
    method: str = "none"  # "none" | "ssl" | "keytab" | "kerberos" (a kinit ticket)
    cert: str | None = None  # ssl: client cert+key PEM
    serverca: str | None = None  # CA bundle to verify the hub (any method)
    principal: str | None = None  # keytab
    keytab: str | None = None  # keytab

    def validate(self) -> None:
        if self.method not in AUTH_METHODS:
            raise KojiConfigError(
                f"unknown koji auth method {self.method!r}: use one of {', '.join(AUTH_METHODS)}"
            )
        if self.method == "ssl" and not self.cert:
            raise KojiConfigError("koji auth 'ssl' needs cert (a PEM file with cert and key)")
        if self.method == "keytab" and not (self.principal and self.keytab):
            raise KojiConfigError("koji auth 'keytab' needs both principal and keytab")


@dataclass(frozen=True)
class Move:
    action_id: str
    nvr: str
    from_tag: str
    to_tag: str


@dataclass(frozen=True)
class MoveResult:
    action_id: str
    nvr: str
    outcome: str  # MOVED, ALREADY, GONE, FAILED, TRANSIENT or WOULD_MOVE
    detail: str
    task_id: int | None = None
    attempts: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
