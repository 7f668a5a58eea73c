"""What the commands accept as a build or a package, and how they treat one that nothing
is known about (README, "Exit codes"):

* malformed (not NAME-VERSION-RELEASE, not a package name): refused, exit 2;
* well-formed but unknown to the store: a question (``status``, ``explain``,
  ``events``, ``evaluate``, ``push``, ``replay --until NVR``, ``graph --artifact``)
  answers "unknown" and exits 1; an input that can wait for it (``waive``,
  ``override``) is recorded, with a warning on stderr.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from relengotron.adapters.cli.cli_errors import EXIT_PROBLEM, UsageError
from relengotron.adapters.store.store import shown_url
from relengotron.domain.application import RelengApp

# rpm's allowed characters (name may hold dashes; version and release may not).
_NAME = r"[A-Za-z0-9._+]+(?:-[A-Za-z0-9._+]+)*"
_VR = r"[A-Za-z0-9._+~^]+"
NVR = re.compile(rf"^(?P<name>{_NAME})-(?P<version>{_VR})-(?P<release>{_VR})$")
PACKAGE = re.compile(rf"^{_NAME}$")


def is_nvr(text: str) -> bool:
    return NVR.match(text) is not None


def check_nvr(text: str) -> str:
    """``text`` when it is NAME-VERSION-RELEASE; else a usage error (exit 2)."""
    if not is_nvr(text):
        raise UsageError(f"{text!r} is not a build (NAME-VERSION-RELEASE, e.g. bash-5.3-1.fc44)")
    return text


def check_nvr_or_package(text: str) -> str:
    if not (is_nvr(text) or PACKAGE.match(text)):
        raise UsageError(f"{text!r} is neither a build (NAME-VERSION-RELEASE) nor a package name")
    return text


def warn(command: str, text: str) -> None:
    """A warning for people, on stderr: the command still did what it was asked."""
    print(f"relengotron {command}: warning: {text}", file=sys.stderr, flush=True)


def unknown_build(nvr: str, app: RelengApp, as_json: bool, **extra: Any) -> int:
    """Say that nothing is known about ``nvr`` in the store (JSON: ``known: false`` and
    ``extra``); the exit code of a question about it (1)."""
    if as_json:
        print(json.dumps({"nvr": nvr, **extra, "known": False}))
    else:
        print(f"{nvr}: unknown in {shown_url(app)} (no message about it has been recorded).")
    return EXIT_PROBLEM
