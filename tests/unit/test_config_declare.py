"""The generic loader every section of the settings is declared for (config.declare)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import pytest
from marshmallow import ValidationError
from marshmallow.validate import Length, Range

from metronome.config.declare import INTERNAL, SPLIT, Each, Then, load_section, setting_names


@dataclass(frozen=True)
class Inner:
    size: Annotated[int, Range(min=1)]
    unit: Literal["b", "kb"] = "b"


@dataclass(frozen=True)
class Section:
    name: Annotated[str, INTERNAL]
    path: Path
    label: Annotated[str | None, Then(str.upper)] = None
    tags: Annotated[tuple[str, ...], SPLIT, Each(Length(min=2))] = ()
    inner: Inner = field(default_factory=lambda: Inner(size=5, unit="kb"))

    def check(self) -> None:
        if self.label == "BAD":
            raise ValidationError("Not that label.", "label")


def test_a_section_is_loaded_from_its_declaration() -> None:
    raw = {"path": "var/x", "label": "ok", "tags": "ab, cd", "inner": {"size": "7"}}
    loaded = load_section(Section, raw, name="s")
    # the enclosing default keeps its unit; the given size replaces only its own
    assert loaded == Section("s", Path("var/x"), "OK", ("ab", "cd"), Inner(7, "kb"))
    assert load_section(Section, {"path": "p", "label": ""}, name="s").label is None
    assert setting_names(Section) == ("path", "label", "tags", "inner")


@pytest.mark.parametrize(
    ("raw", "messages"),
    [
        ({}, {"path": ["Missing data for required field."]}),
        ({"path": "p", "tags": ["a"]}, {"tags": {0: ["Shorter than minimum length 2."]}}),
        ({"path": "p", "inner": {"unit": "mb"}}, {"inner": {"unit": ["Must be one of: b, kb."]}}),
        (
            {"path": "p", "inner": {"size": 0}},
            {"inner": {"size": ["Must be greater than or equal to 1."]}},
        ),
        ({"path": "p", "label": "bad"}, {"label": ["Not that label."]}),
        ({"path": "p", "name": "x"}, {"name": ["Unknown field."]}),
    ],
)
def test_what_is_wrong_is_named_where_it_is(raw: dict[str, object], messages: object) -> None:
    with pytest.raises(ValidationError) as raised:
        load_section(Section, raw, name="s")
    assert raised.value.messages == messages
