"""Message translation: one pure function per topic family.

``translate(envelope)`` routes a message by its topic (prefix stripped) to the
family translators and returns a :class:`Translation`: the family, the
normalized facts (``domain.facts``), and why nothing was produced when nothing
was. Translators never raise on odd bodies: a body they cannot read gives a
``problems`` entry, and the raw message is still recorded by the caller.
"""

from __future__ import annotations

from relengotron.adapters.translate.base import Envelope, Translation, strip_prefix
from relengotron.adapters.translate.registry import FAMILIES, translate

__all__ = ["FAMILIES", "Envelope", "Translation", "strip_prefix", "translate"]
