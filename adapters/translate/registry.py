"""Routes a message to its family translator by topic."""

from __future__ import annotations

from collections.abc import Callable

from relengotron.adapters.translate import (
    bodhi,
    ci_legacy,
    ci_spec,
    compose,
    distgit,
    greenwave,
    koji,
    relengotron,
    resultsdb,
    waiverdb,
)
from relengotron.adapters.translate.base import Envelope, Translation

Translator = Callable[[Envelope, str], "Translation | None"]

# Order matters only where topics could overlap: CI before the rest, compose before
# ci_spec (``ci.productmd-compose.build.*`` is a compose build, not a test), waiverdb
# before relengotron (``relengotron.waiver.new`` is WaiverDB's shape).
_TRANSLATORS: tuple[Translator, ...] = (
    ci_legacy.translate,
    compose.translate,
    ci_spec.translate,
    koji.translate,
    distgit.translate,
    bodhi.translate,
    resultsdb.translate,
    waiverdb.translate,
    greenwave.translate,
    relengotron.translate,
)

# Every family a summary reports, even with zero messages.
FAMILIES: tuple[str, ...] = (
    "dist-git",
    "koji",
    "ci",
    "bodhi",
    "resultsdb",
    "waiverdb",
    "greenwave",
    "compose",
    "relengotron",
)


def translate(envelope: Envelope) -> Translation:
    """Translate one message. Never raises for a body it cannot read."""
    suffix = envelope.suffix
    for translator in _TRANSLATORS:
        try:
            result = translator(envelope, suffix)
        except Exception as exc:  # a translator bug must not lose the message
            return Translation(
                family=None, problems=(f"translator {translator.__module__} failed: {exc!r}",)
            )
        if result is not None:
            return result
    return Translation(family=None)
