"""Small private helpers shared by several modules (not part of the public API)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from .addresses import IPV4_DTYPE, IPV6_DTYPE, IPAddress


def address_dtype(family: int) -> np.dtype[Any]:
    """The address column dtype of a family: uint32 for IPv4, S16 for IPv6; ValueError otherwise."""
    if family == 4:
        return np.dtype(IPV4_DTYPE)
    if family == 6:
        return np.dtype(IPV6_DTYPE)
    raise ValueError(f"family must be 4 or 6, not {family!r}")


def address_column(address: IPAddress) -> npt.NDArray[Any]:
    """A one-row address column (uint32 or S16, writable) holding a parsed address."""
    column: npt.NDArray[Any]
    if address.version == 4:
        column = np.array([int(address)], dtype=IPV4_DTYPE)
    else:
        column = np.frombuffer(address.packed, dtype=IPV6_DTYPE).copy()
    return column


def check_lengths(obj: object, names: Iterable[str]) -> int:
    """The common length of ``obj``'s 1-d columns ``names`` (the first sets it); ValueError if one differs."""
    n: int | None = None
    for name in names:
        shape = getattr(obj, name).shape
        if n is None:
            n = int(shape[0])
        if shape != (n,):
            raise ValueError(f"column {name} has shape {shape}, expected ({n},)")
    return n or 0


def families_present(prefixes_v4: int, prefixes_v6: int) -> frozenset[int]:
    """The address families (4, 6) that have at least one prefix."""
    return frozenset(f for f, n in ((4, prefixes_v4), (6, prefixes_v6)) if n)
