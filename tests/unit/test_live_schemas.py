"""The consumer's schema-check stand-in answers exactly as jsonschema does."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fedora_messaging import message as fm

from relengotron.adapters.live.schemas import CachedValidation, install

SCHEMAS: list[dict[str, Any]] = [
    fm.Message.body_schema,
    fm.Message.headers_schema,
    {"type": "object", "required": ["nvr"], "properties": {"nvr": {"type": "string"}}},
]
INSTANCES: list[Any] = [{}, {"nvr": "bash-1-1"}, {"nvr": 3}, [], "text", None, {"a": [1]}]


def _outcome(validate: Any, instance: Any, schema: Any) -> str | None:
    try:
        validate(instance, schema)
    except jsonschema.ValidationError as exc:
        return f"{exc.message} @ {list(exc.absolute_path)} / {exc.validator}"
    return None


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("instance", INSTANCES)
def test_same_verdicts_and_errors_as_jsonschema(schema: Any, instance: Any) -> None:
    cached = CachedValidation()
    for _ in range(2):  # the second time from the kept validator
        assert _outcome(cached.validate, instance, schema) == _outcome(
            jsonschema.validate, instance, schema
        )


def test_a_bad_schema_is_refused_as_jsonschema_refuses_it() -> None:
    with pytest.raises(jsonschema.SchemaError):
        CachedValidation().validate({}, {"type": 12})


def test_each_schema_is_checked_once() -> None:
    checked: list[Any] = []

    class Spy(CachedValidation):
        pass

    spy = Spy()
    real_for = jsonschema.validators.validator_for

    class Validators:
        @staticmethod
        def validator_for(schema: Any) -> Any:
            checked.append(schema)
            return real_for(schema)

    spy._real = type("M", (), {"validators": Validators, "exceptions": jsonschema.exceptions})
    for _ in range(5):
        spy.validate({}, fm.Message.body_schema)
    assert checked == [fm.Message.body_schema]


def test_installed_messages_still_refuse_what_they_refused() -> None:
    install()
    install()  # idempotent
    assert isinstance(fm.jsonschema, CachedValidation)
    good = fm.Message(topic="t", body={"a": 1})
    good.validate()
    bad = fm.Message(topic="t", body={"a": 1})
    bad.body = ["not", "an", "object"]  # type: ignore[assignment]
    with pytest.raises(jsonschema.ValidationError):
        bad.validate()
