"""Placeholder: being written."""

from __future__ import annotations

from adapters.translate.base import Envelope, Translation


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    return None
