"""How a section of the settings is declared, once: a frozen dataclass whose fields carry their
type, their default and, in ``Annotated`` metadata, what a valid value is.

    @dataclass(frozen=True)
    class SpoolSettings:
        dir: Annotated[Path, Length(min=1)] = Path("var/spool")
        max_bytes: Annotated[int, Range(min=65_536)] = 1_073_741_824

``load_section`` derives the marshmallow schema from the dataclass and loads a mapping into it.
The type says what is accepted: bool, int, float, str, ``Path`` (given as a string),
``Literal`` (one of its values), ``X | None`` (null too; an empty string becomes None),
``tuple[X, ...]`` (a list), another section (a mapping). The metadata adds validators
(marshmallow's, or any callable raising ``ValidationError``) and the markers below.

A key left out keeps its default: the value the enclosing section's default has there, so a
section whose default differs by place (``rate_limits.ingest`` and ``rate_limits.public_reads``)
keeps the rest of its own. A field without a default is required. Once built, a section's
``check()`` method, when it has one, raises ``ValidationError`` naming the setting that does
not fit the others.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from marshmallow import RAISE, Schema, fields, post_load, validate

T = TypeVar("T")


class Mark(enum.Enum):
    SPLIT = "a string is split at its commas (lists given by the environment)"
    NULL_IS_EMPTY = "null is an empty list"
    INTERNAL = "set by the loader, not a setting (a site's name is its key under sites:)"


SPLIT, NULL_IS_EMPTY, INTERNAL = Mark.SPLIT, Mark.NULL_IS_EMPTY, Mark.INTERNAL


class Each:
    """Validators of every item of a list setting."""

    def __init__(self, *validators: Callable[[Any], Any]) -> None:
        self.validators = list(validators)


@dataclasses.dataclass(frozen=True)
class Then:
    """A conversion of the loaded value (not of None)."""

    convert: Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class Loader:
    """The marshmallow field to load with, when the type does not say enough; called with the
    keyword arguments the type gives (``required``, ``allow_none``, ``validate``)."""

    make: Callable[..., fields.Field]


class CommaList(fields.List):
    """A list, or one string of comma-separated items (as every value from the environment is)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        return super()._deserialize(value, attr, data, **kwargs)


def load_section(cls: type[T], raw: Any, *, unknown: str = RAISE, **internal: Any) -> T:
    """``raw`` loaded into a ``cls`` (defaults for what it leaves out; ``internal`` sets the
    fields that are no settings); ``ValidationError`` names what is wrong."""
    loaded: T = section_schema(cls, None, unknown=unknown, internal=internal).load(raw)
    return loaded


def setting_names(cls: type[Any]) -> tuple[str, ...]:
    """The keys a section accepts."""
    hints = get_type_hints(cls, include_extras=True)
    fields_ = dataclasses.fields(cls)
    return tuple(f.name for f in fields_ if INTERNAL not in _metadata(hints[f.name]))


def section_schema(
    cls: type[Any],
    base: Any,
    *,
    unknown: str = RAISE,
    internal: Mapping[str, Any] | None = None,
) -> Schema:
    """The schema that loads ``cls``; what is left out keeps ``base``'s value (or the class
    default when there is no ``base``)."""
    hints = get_type_hints(cls, include_extras=True)
    declared: dict[str, Any] = {"Meta": type("Meta", (), {"unknown": unknown})}
    converters: dict[str, Callable[[Any], Any]] = {}
    for spec in dataclasses.fields(cls):
        hint = hints[spec.name]
        if INTERNAL in _metadata(hint):
            continue
        default = getattr(base, spec.name) if base is not None else _default(spec)
        required = base is None and default is dataclasses.MISSING
        declared[spec.name] = _field(hint, default, required=required)
        converters[spec.name] = _converter(hint)

    def make(_: Schema, data: dict[str, Any], **__: Any) -> Any:
        given = {name: converters[name](value) for name, value in data.items()}
        section = (
            dataclasses.replace(base, **given)
            if base is not None
            else cls(**(internal or {}), **given)
        )
        check = getattr(section, "check", None)
        if check is not None:
            check()
        return section

    declared["make"] = post_load(make)
    schema: Schema = type(f"{cls.__name__}Schema", (Schema,), declared)()
    return schema


def _field(hint: Any, default: Any, *, required: bool) -> fields.Field:
    kind, metadata = _strip(hint)
    optional = _is_optional(kind)
    kind = _without_none(kind)
    markers = (Mark, Each, Then, Loader)
    validators = [m for m in metadata if not isinstance(m, markers)]
    options: dict[str, Any] = {
        "required": required,
        "allow_none": optional or NULL_IS_EMPTY in metadata,
        "validate": validators,
    }
    loader = next((m for m in metadata if isinstance(m, Loader)), None)
    if loader is not None:
        return loader.make(**options)
    if get_origin(kind) is tuple:
        each = [v for m in metadata if isinstance(m, Each) for v in m.validators]
        item = _plain_field(get_args(kind)[0], None, validate=each)
        return (CommaList if SPLIT in metadata else fields.List)(item, **options)
    return _plain_field(kind, default, **options)


def _plain_field(kind: Any, default: Any, **options: Any) -> fields.Field:
    if get_origin(kind) is Literal:
        choices = validate.OneOf(list(get_args(kind)))
        return fields.String(**{**options, "validate": [*options.get("validate", []), choices]})
    if dataclasses.is_dataclass(kind):
        base = None if default is dataclasses.MISSING else default
        return fields.Nested(section_schema(kind, base), **options)  # type: ignore[arg-type]
    simple: dict[Any, type[fields.Field]] = {
        bool: fields.Boolean,
        int: fields.Integer,
        float: fields.Float,
        str: fields.String,
        Path: fields.String,
    }
    return simple[kind](**options)


def _converter(hint: Any) -> Callable[[Any], Any]:
    kind, metadata = _strip(hint)
    optional = _is_optional(kind)
    kind = _without_none(kind)
    then = [m.convert for m in metadata if isinstance(m, Then)]
    is_tuple = get_origin(kind) is tuple

    def convert(value: Any) -> Any:
        if optional and isinstance(value, str) and not value:
            return None
        if value is None:
            return () if is_tuple else None
        if kind is Path:
            value = Path(value)
        elif is_tuple:
            value = tuple(value)
        for step in then:
            value = step(value)
        return value

    return convert


def _default(spec: dataclasses.Field[Any]) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return dataclasses.MISSING


def _strip(hint: Any) -> tuple[Any, list[Any]]:
    """The type and the metadata of an ``Annotated`` hint."""
    if hasattr(hint, "__metadata__"):
        return hint.__origin__, list(hint.__metadata__)
    return hint, []


def _metadata(hint: Any) -> list[Any]:
    return _strip(hint)[1]


def _is_optional(kind: Any) -> bool:
    return get_origin(kind) in (Union, types.UnionType) and type(None) in get_args(kind)


def _without_none(kind: Any) -> Any:
    if not _is_optional(kind):
        return kind
    (rest,) = [arg for arg in get_args(kind) if arg is not type(None)]
    return rest
