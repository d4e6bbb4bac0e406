"""``HAVING``: a condition on the rows of an answer, evaluated here on each row (pure).

A row's values are its dimension values then its metric values, in the query's order. A
comparison with a missing value (an empty average) is unknown, as SQL's NULL: a row passes
only when its condition is true, and ``NOT`` of unknown stays unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

RowOp = Literal["all", "any", "not", "compare", "is_null"]
Comparison = Literal["eq", "neq", "lt", "lte", "gt", "gte"]


@dataclass(frozen=True)
class RowCondition:
    op: RowOp
    column: int = -1  # compare, is_null: index into the row's values
    comparison: Comparison = "eq"
    value: str | float | bool | None = None
    parts: tuple[RowCondition, ...] = ()  # all, any, not


def passes(condition: RowCondition, values: Sequence[Any]) -> bool:
    return _truth(condition, values) is True


def _truth(condition: RowCondition, values: Sequence[Any]) -> bool | None:
    if condition.op == "is_null":
        return values[condition.column] is None
    if condition.op == "compare":
        return _compare(values[condition.column], condition.comparison, condition.value)
    truths = [_truth(part, values) for part in condition.parts]
    if condition.op == "not":
        return None if truths[0] is None else not truths[0]
    if condition.op == "all":
        return False if False in truths else (None if None in truths else True)
    return True if True in truths else (None if None in truths else False)


def _compare(left: Any, comparison: Comparison, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if isinstance(left, bool | int | float) != isinstance(right, bool | int | float):
        return None  # text against a number: not comparable (refused when translated)
    if comparison == "eq":
        return bool(left == right)
    if comparison == "neq":
        return bool(left != right)
    if comparison == "lt":
        return bool(left < right)
    if comparison == "lte":
        return bool(left <= right)
    if comparison == "gt":
        return bool(left > right)
    return bool(left >= right)
