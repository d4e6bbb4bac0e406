"""The kinds of field a payload definition is written with; each gives everything about itself.

A payload (a hit: ``metronome.hits.definition``; an Allezon user tag:
``metronome.compat.allezon.tag``) is defined once, as a table of these fields. From each
field come:

- ``checker(error, path)``: the check of one value, built once into a closure for the hot
  path; it returns the clean value or raises ``error`` (the payload's ``Refusal``) with the
  sentence and the field it names;
- ``schema()``: the JSON Schema (OpenAPI 3.1) of exactly the values the check accepts, so
  /openapi.json is derived from the same table as the validator and its messages. One thing
  JSON Schema cannot say: a number written with a fraction or an exponent (2.0, 1e300) is an
  integer to it when its value is whole, while the check, like the JSON decoder, reads it as
  a float (``INTEGRAL_FLOATS``).

Patterns are written for ECMA and Python regular expressions alike (see ``eventtime.END``).
Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from metronome.errors import error_object
from metronome.hits.eventtime import END, MESSAGES, EventTimeError, TimeFormat

Check = Callable[[Any], Any]  # a value -> its clean value; raises the payload's Refusal

# marshmallow's wording, which hit refusals have always used.
REQUIRED = "Missing data for required field."
NULL = "Field may not be null."
NOT_TEXT = "Not a valid string."
UNKNOWN = "Unknown field."
NOT_A_MAPPING = "Not a valid mapping type."
NOT_AN_INTEGER = "Not a valid integer."
INTEGRAL_FLOATS = (
    "a number written with a fraction or an exponent (2.0, 1e300) is not an integer here, "
    "though JSON Schema counts it as one when its value is whole"
)


class Refusal(Exception):
    """A value a definition refuses: the sentence and the field it names. ``status`` and
    ``code`` are the payload's usual ones unless a rule has its own (an unreadable epoch
    time is a 400 ``ambiguous_time``)."""

    default_code = "invalid"

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        status: int = 422,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.code = code or self.default_code

    def as_error(self) -> dict[str, str]:
        return error_object(self.code, self.message, self.field)


class Field(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def required(self) -> bool: ...

    @property
    def default(self) -> Any: ...

    def checker(self, error: type[Refusal], path: str) -> Check: ...

    def schema(self) -> dict[str, Any]: ...


def encodable(text: str) -> bool:
    """False for text holding a lone surrogate (JSON may escape one: \\ud800), which no UTF-8
    document can carry."""
    if text.isascii():  # a flag CPython keeps on every string: no scan, and no surrogate
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class CharSet:
    """The characters a text may hold: a regular-expression class, and the same in words."""

    pattern: str  # the inside of [...]
    words: str


@dataclass(frozen=True)
class Text:
    """A string of ``min_chars`` to ``max_chars`` characters, optionally only of ``chars``.

    ``empty_is_absent``: "" means "not sent" (the payload drops it before checking, and the
    schema allows it). ``invalid``: one sentence for every refusal (else one per reason, in
    marshmallow's words); ``unicode_checked``: refuse a lone surrogate here.
    """

    name: str
    max_chars: int
    min_chars: int = 1
    chars: CharSet | None = None
    required: bool = False
    default: str | None = None
    empty_is_absent: bool = False
    unicode_checked: bool = False
    invalid: str | None = None
    description: str | None = None
    example: str | None = None

    def __post_init__(self) -> None:
        if self.unicode_checked and self.invalid is None:
            raise ValueError("a Text that checks Unicode says one sentence (invalid=...)")

    def checker(self, error: type[Refusal], path: str) -> Check:
        low, high = self.min_chars, self.max_chars
        if self.invalid is not None:
            return self._one_sentence_checker(error, path, f"{path}: {self.invalid}")
        null, not_text = f"{path}: {NULL}", f"{path}: {NOT_TEXT}"
        if self.chars is None:
            wrong = f"{path}: Length must be between {low} and {high}."

            def check_length(value: Any) -> str:
                if type(value) is not str:
                    raise error(null if value is None else not_text, path)
                if not low <= len(value) <= high:
                    raise error(wrong, path)
                return value

            return check_length
        shape = re.compile(f"[{self.chars.pattern}]{{{low},{high}}}")
        unlike = f"{path}: Use {low}-{high} {self.chars.words}"

        def check_shape(value: Any) -> str:
            if type(value) is not str:
                raise error(null if value is None else not_text, path)
            if shape.fullmatch(value) is None:
                raise error(unlike, path)
            return value

        return check_shape

    def _one_sentence_checker(self, error: type[Refusal], path: str, message: str) -> Check:
        low, high = self.min_chars, self.max_chars
        shape = None if self.chars is None else re.compile(f"[{self.chars.pattern}]*")
        unicode_checked = self.unicode_checked

        def check(value: Any) -> str:
            if (
                not isinstance(value, str)
                or not low <= len(value) <= high
                or (shape is not None and shape.fullmatch(value) is None)
                or (unicode_checked and not encodable(value))
            ):
                raise error(message, path)
            return value

        return check

    def schema(self) -> dict[str, Any]:
        low = 0 if self.empty_is_absent else self.min_chars
        schema: dict[str, Any] = {"type": "string"}
        if self.chars is not None:
            repeat = f"{{{self.min_chars},{self.max_chars}}}"
            body = f"[{self.chars.pattern}]{repeat}"
            schema["pattern"] = f"^(?:{body})?{END}" if low == 0 else f"^{body}{END}"
        if low:
            schema["minLength"] = low
        schema["maxLength"] = self.max_chars
        return _annotated(schema, self)


@dataclass(frozen=True)
class Choice:
    """One of a few strings."""

    name: str
    options: tuple[str, ...]
    required: bool = False
    default: str | None = None
    description: str | None = None

    def checker(self, error: type[Refusal], path: str) -> Check:
        allowed = frozenset(self.options)
        message = f"{path}: Must be one of: {', '.join(self.options)}."

        def check(value: Any) -> str:
            if type(value) is not str or value not in allowed:
                raise error(message, path)
            return value

        return check

    def schema(self) -> dict[str, Any]:
        return _annotated({"type": "string", "enum": list(self.options)}, self)


@dataclass(frozen=True)
class Integer:
    """A JSON integer (not a boolean, not a number with a fraction) within ``±bound``."""

    name: str
    bound: int
    bound_words: str  # the bound as people write it: "±2^53"
    required: bool = False
    default: int | None = None
    description: str | None = None

    def checker(self, error: type[Refusal], path: str) -> Check:
        bound = self.bound
        not_integer = f"{path}: {NOT_AN_INTEGER}"
        outside = f"{path}: Must be within {self.bound_words}."

        def check(value: Any) -> int:
            if type(value) is not int:
                raise error(not_integer, path)
            if not -bound <= value <= bound:
                raise error(outside, path)
            return value

        return check

    def schema(self) -> dict[str, Any]:
        schema = {"type": "integer", "minimum": -self.bound, "maximum": self.bound}
        return _annotated(schema, self)


@dataclass(frozen=True)
class IntegerOrText:
    """An identifier sent either as a JSON integer or as ``text`` (platforms send both)."""

    name: str
    text: Text
    invalid: str
    required: bool = False
    default: Any = None
    description: str | None = None

    def checker(self, error: type[Refusal], path: str) -> Check:
        text = self.text.checker(error, path)
        message = f"{path}: {self.invalid}"

        def check(value: Any) -> int | str:
            if type(value) is int:
                number: int = value
                return number
            if type(value) is str:
                checked: str = text(value)
                return checked
            raise error(message, path)

        return check

    def schema(self) -> dict[str, Any]:
        return _annotated({"oneOf": [{"type": "integer"}, self.text.schema()]}, self)


@dataclass(frozen=True)
class Time:
    """An instant written as ``format`` allows (``metronome.hits.eventtime``): a UTC datetime.

    A number the epoch rule cannot read is refused with status 400 and code
    ``ambiguous_time``, in the words of the rule; ``invalid`` replaces every other sentence
    when given.
    """

    name: str
    format: TimeFormat
    required: bool = False
    default: datetime | None = None
    invalid: str | None = None
    description: str | None = None

    def checker(self, error: type[Refusal], path: str) -> Check:
        parse = self.format.parse
        null = f"{path}: {self.invalid or NULL}"
        messages = {kind: f"{path}: {self.invalid or text}" for kind, text in MESSAGES.items()}
        messages["epoch"] = f"{path}: {MESSAGES['epoch']}"

        def check(value: Any) -> datetime:
            if value is None:
                raise error(null, path)
            try:
                moment: datetime = parse(value)
            except EventTimeError as refused:
                if refused.kind == "epoch":
                    raise error(
                        messages["epoch"], path, status=400, code="ambiguous_time"
                    ) from None
                raise error(messages[refused.kind], path) from None
            return moment

        return check

    def schema(self) -> dict[str, Any]:
        return _annotated(dict(self.format.schema), self)


@dataclass(frozen=True)
class Record:
    """A JSON object of exactly ``fields``: each required one present, no other key."""

    name: str
    fields: tuple[Field, ...]
    required: bool = False
    default: Any = None
    not_an_object: str = NOT_A_MAPPING  # the sentence for a value that is not an object
    description: str | None = None

    def checker(self, error: type[Refusal], path: str) -> Check:
        prefix = f"{path}." if path else ""
        checks = compile_fields(self.fields, error, prefix)
        names = frozenset(field.name for field in self.fields)
        needed = frozenset(field.name for field in self.fields if field.required)
        not_an_object = f"{path}: {self.not_an_object}" if path else self.not_an_object

        def check(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise error(not_an_object, path or None)
            if value.keys() != needed:
                _check_keys(value, needed, names, prefix, error)
            return check_fields(value, checks, error, prefix)

        return check

    def schema(self) -> dict[str, Any]:
        schema = object_schema(self.fields)
        schema["additionalProperties"] = False
        return _annotated(schema, self)


# --- tables of fields ----------------------------------------------------------------------

CompiledField = tuple[str, Check, bool, Any]  # name, check, required, default when absent
_MISSING = object()


def compile_fields(
    fields: Sequence[Field], error: type[Refusal], prefix: str = ""
) -> tuple[CompiledField, ...]:
    """The fields' checks, in table order: the first failing field is the one reported."""
    return tuple(
        (field.name, field.checker(error, prefix + field.name), field.required, field.default)
        for field in fields
    )


def check_fields(
    raw: dict[Any, Any], fields: tuple[CompiledField, ...], error: type[Refusal], prefix: str = ""
) -> dict[str, Any]:
    """The clean values of the table's fields (defaults for absent ones); other keys are
    the caller's."""
    clean: dict[str, Any] = {}
    for name, check, required, default in fields:
        value = raw.get(name, _MISSING)
        if value is not _MISSING:
            clean[name] = check(value)
        elif required:
            raise error(f"{prefix}{name}: {REQUIRED}", prefix + name)
        elif default is not None:
            clean[name] = default
    return clean


def object_schema(fields: Sequence[Field]) -> dict[str, Any]:
    """``type: object`` with the fields as ``properties`` and the required ones listed."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {field.name: field.schema() for field in fields},
    }
    required = [field.name for field in fields if field.required]
    if required:
        schema["required"] = required
    return schema


def _check_keys(
    raw: dict[Any, Any],
    needed: frozenset[str],
    names: frozenset[str],
    prefix: str,
    error: type[Refusal],
) -> None:
    for name in sorted(needed - raw.keys()):
        raise error(f"{prefix}{name}: {REQUIRED}", prefix + name)
    for name in raw.keys() - names:
        where = prefix + safe_name(name)
        raise error(f"{where}: {UNKNOWN}", where)


def safe_name(name: Any) -> str:
    """A key as a message may quote it: text, valid UTF-8, at most 80 characters."""
    return str(name).encode("utf-8", "replace").decode("utf-8")[:80]


def _annotated(schema: dict[str, Any], field: Any) -> dict[str, Any]:
    """The schema with the field's ``default``, ``description`` and ``example`` when set."""
    if isinstance(field.default, str | int):
        schema["default"] = field.default
    if field.description:
        schema["description"] = field.description
    example = getattr(field, "example", None)
    if example is not None:
        schema["example"] = example
    return schema
