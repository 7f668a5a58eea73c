"""fedora-messaging's per-message schema check, without re-checking the schemas.

``fedora_messaging.message.Message.validate`` calls ``jsonschema.validate`` four times
per message (headers and body, against the message class's schemas and the base
ones), and ``jsonschema.validate`` first checks the *schema* against its meta-schema
every time. The schemas are class attributes: the same objects for every message. In
a ``consume`` process that was a quarter of the reactor thread's time.

:func:`install` gives fedora-messaging's message module a ``jsonschema`` whose
``validate`` checks each schema once and keeps its validator; the instance checks and
their errors are jsonschema's own (``best_match`` of ``iter_errors``), so what is
valid, what is refused and why is unchanged. Everything else is the real module.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import jsonschema


class CachedValidation:
    """A stand-in for the ``jsonschema`` module: ``validate`` with the schema checked once."""

    def __init__(self, real: ModuleType = jsonschema) -> None:
        self._real = real
        self._validators: dict[int, tuple[Any, Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def validate(self, instance: Any, schema: Any, cls: Any = None, *args: Any, **kw: Any) -> None:
        if cls is not None or args or kw:  # not how fedora-messaging calls it: the real one
            self._real.validate(instance, schema, cls, *args, **kw)
            return
        kept = self._validators.get(id(schema))
        if kept is None or kept[0] is not schema:
            validator_cls = self._real.validators.validator_for(schema)
            validator_cls.check_schema(schema)  # once per schema object
            kept = (schema, validator_cls(schema))
            self._validators[id(schema)] = kept
        error = self._real.exceptions.best_match(kept[1].iter_errors(instance))
        if error is not None:
            raise error


def install() -> None:
    """Use :class:`CachedValidation` for fedora-messaging's messages (this process)."""
    from fedora_messaging import message

    if not isinstance(message.jsonschema, CachedValidation):
        message.jsonschema = CachedValidation()
