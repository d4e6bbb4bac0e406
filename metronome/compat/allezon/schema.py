"""``UserTagSchema``: a user tag (docs/allezon.md) as a marshmallow schema.

It describes ``POST /user_tags`` in /openapi.json and is the reference the hand-written
``check_tag`` is tested against; the endpoint itself does not load tags with it (too slow).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from metronome.compat.allezon.tag import ACTIONS, DEVICES, EPOCH, MAX_PRICE, MAX_TEXT, TAG_TIME
from metronome.hits.schema import encodable


class TagId(fields.Field):
    """A product, brand or category id: an integer or a text (the platform sends both)."""

    default_error_messages = {"invalid": "Not a valid id."}  # noqa: RUF012 (marshmallow's own)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid")
        if isinstance(value, str) and not (0 < len(value) <= MAX_TEXT and encodable(value)):
            raise self.make_error("invalid")
        return value


def _valid_tag_time(value: str) -> None:
    try:
        if not TAG_TIME.fullmatch(value):
            raise ValueError
        datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("Use ISO-8601 UTC with Z.") from None
    if value < EPOCH:
        raise ValidationError("The time is before 1970.")


def _valid_unicode(text: str) -> None:
    if not encodable(text):
        raise ValidationError("Not valid Unicode.")


def _tag_text(**kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=MAX_TEXT), _valid_unicode], **kwargs)


class ProductInfoSchema(Schema):
    product_id = TagId(required=True)
    brand_id = TagId(required=True)
    category_id = TagId(required=True)
    price = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=-MAX_PRICE, max=MAX_PRICE)
    )


class UserTagSchema(Schema):
    """A user tag (docs/allezon.md): the description in /openapi.json, and the reference
    ``check_tag`` is tested against. Unknown fields are refused (marshmallow's default)."""

    time = fields.String(
        required=True,
        validate=_valid_tag_time,
        metadata={"example": "2022-03-22T12:15:00.000Z", "pattern": f"^{TAG_TIME.pattern}$"},
    )
    cookie = _tag_text(required=True)
    country = _tag_text(required=True)
    device = fields.String(required=True, validate=validate.OneOf(DEVICES))
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    origin = _tag_text(required=True)
    product_info = fields.Nested(ProductInfoSchema, required=True)
