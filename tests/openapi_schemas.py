"""Values checked against a schema of /openapi.json as an OpenAPI 3.1 client checks them.

OpenAPI 3.1 schema objects are JSON Schema 2020-12 (its ``example`` keyword is an annotation);
references point into the spec's components.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from metronome.web.openapi import build_spec


@cache
def spec() -> dict[str, Any]:
    return build_spec("test")


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of ``schema``, whose ``$ref`` resolve in the spec's components."""
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator({**schema, "components": spec()["components"]})


def component(name: str) -> Draft202012Validator:
    return validator({"$ref": f"#/components/schemas/{name}"})


def named_fields(errors: Iterable[ValidationError]) -> set[str]:
    """The fields the errors are about, dotted (``product_info.price``): for a missing or an
    unknown property, the property; for every other error, where it is."""
    found: set[str] = set()
    for error in errors:
        parent = [str(part) for part in error.absolute_path]
        instance: Any = error.instance
        rule: Any = error.validator_value
        if error.validator == "required":
            names = [name for name in rule if name not in instance]
        elif error.validator == "additionalProperties" and rule is False:
            schema: Any = error.schema
            names = [name for name in instance if name not in schema.get("properties", {})]
        else:
            names = []
        found.update(".".join([*parent, name]) for name in names)
        if not names:
            found.add(".".join(parent))
        found.update(named_fields(error.context))  # inside oneOf / anyOf
    return found
