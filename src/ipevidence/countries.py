"""ISO 3166-1 country codes, and how country columns are held.

A country column is a numpy array of dtype ``S2`` holding upper-case ISO 3166-1 alpha-2 codes as
ASCII bytes (``b"DE"``). The one explicit "not located" value is :data:`NOT_LOCATED` (``b""``, the
empty code, which is also what ``numpy.zeros(n, "S2")`` holds); no vendor sentinel such as ``"-"``
or ``"ZZ"`` ever appears in a column. Scalar APIs return ``None`` for not located.

The code list is ISO 3166-1 (from the Debian iso-codes data) plus ``XK`` (Kosovo), which RIPE
Atlas and the geolocation vendors use although ISO has not assigned it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from types import MappingProxyType
from typing import Final

import attrs
import numpy as np
import numpy.typing as npt

from .errors import UnknownCountryError

__all__ = [
    "COUNTRY_DTYPE",
    "NOT_LOCATED",
    "CountryInfo",
    "all_countries",
    "country_info",
    "country_name",
    "encode_countries",
    "is_known_country",
    "known_mask",
    "normalize_country",
    "numeric_to_alpha2",
    "overseas_part_counts",
]

COUNTRY_DTYPE: Final = np.dtype("S2")
NOT_LOCATED: Final = b""


@attrs.frozen
class CountryInfo:
    """One country: ISO alpha-2, alpha-3, numeric code (0 where ISO has none) and common name."""

    alpha2: str
    alpha3: str
    numeric: int
    name: str


@functools.cache
def _table() -> dict[str, CountryInfo]:
    text = resources.files("ipevidence.data").joinpath("countries.csv").read_text("utf-8")
    out: dict[str, CountryInfo] = {}
    for row in csv.DictReader(io.StringIO(text)):
        info = CountryInfo(row["alpha2"], row["alpha3"], int(row["numeric"]), row["name"])
        out[info.alpha2] = info
    return out


@functools.cache
def _known_array() -> npt.NDArray[np.bytes_]:
    return np.array(sorted(_table()), dtype=COUNTRY_DTYPE)


def all_countries() -> tuple[CountryInfo, ...]:
    """Every known country, sorted by alpha-2 code."""
    table = _table()
    return tuple(table[k] for k in sorted(table))


def is_known_country(code: str) -> bool:
    """True when ``code`` (any case, surrounding blanks ignored) is a known alpha-2 code."""
    return code.strip().upper() in _table()


def normalize_country(code: object) -> str:
    """Return the upper-case alpha-2 code, or raise :class:`UnknownCountryError`."""
    if isinstance(code, bytes):
        code = code.decode("ascii", "replace")
    if not isinstance(code, str):
        raise UnknownCountryError(code)
    norm = code.strip().upper()
    if norm not in _table():
        raise UnknownCountryError(code)
    return norm


def country_info(code: str) -> CountryInfo:
    """The :class:`CountryInfo` of a code; raises :class:`UnknownCountryError`."""
    return _table()[normalize_country(code)]


def country_name(code: str) -> str:
    """The common English name of a country code."""
    return country_info(code).name


@functools.cache
def _numeric_map() -> dict[int, str]:
    return {c.numeric: c.alpha2 for c in _table().values() if c.numeric > 0}


def numeric_to_alpha2(numeric: int) -> str | None:
    """The alpha-2 code of an ISO 3166-1 numeric code, or None if unknown."""
    return _numeric_map().get(int(numeric))


def encode_countries(codes: Iterable[str | None]) -> npt.NDArray[np.bytes_]:
    """Encode codes as an ``S2`` column, upper-cased; None and "" become :data:`NOT_LOCATED`.

    Codes are not validated here; use :func:`known_mask` for that.
    """
    return np.array([(c or "").strip().upper()[:2] for c in codes], dtype=COUNTRY_DTYPE)


def known_mask(column: npt.NDArray[np.bytes_]) -> npt.NDArray[np.bool_]:
    """Vectorised: True where an ``S2`` column holds a known alpha-2 code."""
    known = _known_array()
    col = np.asarray(column, dtype=COUNTRY_DTYPE)
    idx = np.searchsorted(known, col)
    idx = np.minimum(idx, len(known) - 1)
    return np.asarray(known[idx] == col, dtype=np.bool_)


@functools.cache
def overseas_part_counts() -> Mapping[str, int]:
    """Polygon parts outside the main territory per country or territory code at 1:10m (codes
    with none are absent): ``Borders.load("10m").overseas_parts`` for every code, precomputed by
    tools/build_geography.py into ``overseas-parts.json`` (a test checks it against the borders),
    so that a verdict need not load the borders (about 0.05 s)."""
    raw = resources.files("ipevidence.data").joinpath("overseas-parts.json").read_bytes()
    doc = json.loads(raw.decode("utf-8"))
    return MappingProxyType({str(k): int(v) for k, v in doc["overseas_parts"].items()})
