"""Signing requests (outbox ``sign.request``): one backend, chosen in ``[signing]``.

The decider asks for a build to be signed once everything else it needs is satisfied
(``!SignedRule``); whether it is signed is never taken from a backend's word but from
koji's ``buildsys.rpm.sign`` messages, one per rpm signed, as koji sends them when a
signature is written. A backend only starts the signing, and records every rpm of the
build as koji lists them (``listRPMs``), which the rule counts the signatures against.

* ``robosignatory`` (Fedora's way): tag the build into the signing-pending tag
  (e.g. ``f41-signing-pending``); robosignatory listens for that tag, signs every rpm
  with the key configured for it and moves the build on (robosignatory's
  ``koji_instances.<name>.tags``: ``from``, ``to``, ``key``, ``keyid``).
* ``command``: run ``argv + [NVR, SIGKEY]`` (e.g. a wrapper around ``sigul sign-rpms``
  and ``koji import-sig``); exit 0 = started. Its signatures reach koji, which
  announces them as above.

Outcomes: ``requested`` (started; result ``rpms``), ``transient`` (koji unreachable,
a timeout: tried again next run), ``failed`` (koji refused, the command failed).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from relengotron.adapters.koji.koji_values import FAILED, TRANSIENT, KojiSignError

REQUESTED = "requested"
BACKENDS = ("robosignatory", "command")

__all__ = [
    "BACKENDS",
    "REQUESTED",
    "CommandSigner",
    "KojiSignPort",
    "RobosignatorySigner",
    "SignOutcome",
    "Signer",
]


class KojiSignPort(Protocol):
    """What signing asks koji (``adapters.koji.koji_signing.KojiSigning``)."""

    def rpms(self, nvr: str) -> list[str]: ...

    def add_tag(self, nvr: str, tag: str) -> str: ...


@dataclass(frozen=True)
class SignOutcome:
    outcome: str
    detail: str
    result: dict[str, Any] = field(default_factory=dict)


class Signer(Protocol):
    def sign(self, nvr: str, sigkey: str) -> SignOutcome: ...


def _listed(koji: KojiSignPort, nvr: str) -> list[str] | SignOutcome:
    try:
        return koji.rpms(nvr)
    except KojiSignError as exc:
        return SignOutcome(TRANSIENT if exc.transient else FAILED, f"koji listRPMs: {exc}")


class RobosignatorySigner:
    """Tag the build into the signing-pending tag robosignatory listens to."""

    def __init__(self, koji: KojiSignPort, pending_tag: str) -> None:
        self.koji, self.pending_tag = koji, pending_tag

    def sign(self, nvr: str, sigkey: str) -> SignOutcome:
        rpms = _listed(self.koji, nvr)
        if isinstance(rpms, SignOutcome):
            return rpms
        try:
            how = self.koji.add_tag(nvr, self.pending_tag)
        except KojiSignError as exc:
            return SignOutcome(TRANSIENT if exc.transient else FAILED, f"koji tagBuild: {exc}")
        result = {"backend": "robosignatory", "tag": self.pending_tag, "rpms": rpms}
        return SignOutcome(REQUESTED, f"{how} {self.pending_tag} for robosignatory", result)


class CommandSigner:
    """Run ``argv + [NVR, SIGKEY]``."""

    def __init__(self, koji: KojiSignPort, argv: Sequence[str], timeout: float) -> None:
        self.koji, self.argv, self.timeout = koji, tuple(argv), timeout

    def sign(self, nvr: str, sigkey: str) -> SignOutcome:
        rpms = _listed(self.koji, nvr)
        if isinstance(rpms, SignOutcome):
            return rpms
        argv = [*self.argv, nvr, sigkey]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return SignOutcome(TRANSIENT, f"{argv[0]}: no answer in {self.timeout:g} s")
        except OSError as exc:
            return SignOutcome(FAILED, f"{argv[0]}: {exc}")
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            return SignOutcome(FAILED, f"{argv[0]} exited {done.returncode}: {tail[0]}")
        result = {"backend": "command", "rpms": rpms}
        return SignOutcome(REQUESTED, f"{argv[0]} started signing", result)
