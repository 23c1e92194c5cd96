"""The geolocation backend protocol.

A backend is anything with a vectorised ``lookup``, a scalar ``country``, the database's own
``build_date``, its address ``families`` and ``describe()`` for provenance. ``lookup`` takes an
IPv4 column (``uint32``) or an IPv6 column (``S16``, see :mod:`ipevidence.addresses`) and returns
an ``S2`` country column in which :data:`ipevidence.countries.NOT_LOCATED` (``b""``) marks
addresses the database cannot place. A test double is a ten-line class.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..provenance import DatabaseInfo

__all__ = ["GeoBackend"]


@runtime_checkable
class GeoBackend(Protocol):
    """What every geolocation database backend offers."""

    @property
    def build_date(self) -> dt.date:
        """The database's build date, read from the file itself."""
        ...

    @property
    def families(self) -> frozenset[int]:
        """The address families the database covers: a subset of {4, 6}."""
        ...

    def lookup(self, addresses: npt.NDArray[Any]) -> npt.NDArray[np.bytes_]:
        """Countries (``S2``, ``b""`` = not located) of a ``uint32`` or ``S16`` address column.

        Raises :class:`~ipevidence.errors.FamilyMismatchError` for a family the database lacks.
        """
        ...

    def country(self, ip: str) -> str | None:
        """The country of one address, None when not located.

        Raises :class:`~ipevidence.errors.InvalidAddressError` for a non-address.
        """
        ...

    def describe(self) -> DatabaseInfo:
        """Kind, file name, SHA-256, build date, number of ranges, families."""
        ...
