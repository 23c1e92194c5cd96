"""Canonical JSON: the same data always gives the same bytes (METHOD.md section 12)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["canonical_json", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Convert dates, numpy scalars and arrays, tuples, sets and mappings to plain JSON types.

    Non-finite floats become None (JSON has no NaN); sets are sorted; mapping keys become strings.
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict())
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")


def canonical_json(value: Any, *, indent: int | None = 2) -> str:
    """Deterministic JSON text: sorted keys, fixed separators, UTF-8 characters kept, final newline."""
    text = json.dumps(
        to_jsonable(value),
        sort_keys=True,
        indent=indent,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ": ") if indent is not None else (",", ":"),
    )
    return text + "\n"
