"""Triage's columns in: the bulk parsing and checking of the per-case input columns.

Each column is read once per distinct value, exactly as ``assess()`` reads one value:
addresses (:func:`_parse_addresses`: parsed, checked for global unicast), evidence dates
(:func:`_parse_dates`), AS numbers (:func:`_parse_asns`) and claimed countries
(:func:`_parse_claims`). A value ``assess()`` would refuse is marked with a reason code
(:mod:`ipevidence.triage.reasons`), never raised. :mod:`ipevidence.triage.engine` (which re-exports every
name here) runs them.
"""

from __future__ import annotations

import math
import socket
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ..addresses import IPV4_DTYPE, IPV6_DTYPE, global_mask_v4, global_mask_v6, parse_address
from ..countries import COUNTRY_DTYPE, normalize_country
from ..errors import InvalidAddressError, InvalidParameterError, UnknownCountryError
from .reasons import _CODE

# --------------------------------------------------------------------------------------------
# Columns in
# --------------------------------------------------------------------------------------------


def _as_list(values: Any, n: int | None = None, name: str = "column") -> list[Any]:
    """A plain list of a column (sequence, numpy array, pandas Series/Index/Categorical)."""
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy(dtype=object)
    if isinstance(values, np.ndarray):
        out = values.reshape(-1).tolist() if values.dtype.kind in "OUS" else list(values.reshape(-1))
    else:
        out = list(values)
    if n is not None and len(out) != n:
        raise InvalidParameterError(f"{name} has {len(out)} values for {n} addresses")
    return out


def _factorize(values: list[Any]) -> tuple[list[Any], npt.NDArray[np.intp]]:
    """(distinct values in first-seen order, index of each value among them); unhashable values
    each count as distinct."""
    try:
        index = {v: k for k, v in enumerate(dict.fromkeys(values))}
        inverse = np.fromiter(map(index.__getitem__, values), dtype=np.intp, count=len(values))
        return list(index), inverse
    except TypeError:  # an unhashable value somewhere: one by one
        pass
    seen: dict[Any, int] = {}
    uniques: list[Any] = []
    inv = np.empty(len(values), dtype=np.intp)
    for i, v in enumerate(values):
        try:
            k = seen.get(v)
            hashable = True
        except TypeError:
            k, hashable = None, False
        if k is None:
            k = len(uniques)
            uniques.append(v)
            if hashable:
                seen[v] = k
        inv[i] = k
    return uniques, inv


def _is_missing(v: Any) -> bool:
    """None, NaN, pandas' NA/NaT: no value (for the optional claim and ASN columns)."""
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    return type(v).__name__ in ("NAType", "NaTType")


@attrs.frozen
class _Addresses:
    family: npt.NDArray[np.int8]  # 4, 6; 0 for not an address
    v4: npt.NDArray[np.uint32]
    v6: npt.NDArray[np.bytes_]
    status: npt.NDArray[np.int16]  # -1 ok, else a reason index


def _parse_addresses(values: list[Any]) -> _Addresses:
    """Parse a column of addresses once per distinct value, as ``assess()`` does
    (:func:`~ipevidence.addresses.parse_address`), with a fast path for dotted quads."""
    uniques, inverse = _factorize(values)
    m = len(uniques)
    fam = np.zeros(m, np.int8)
    v4 = np.zeros(m, IPV4_DTYPE)
    v6 = np.zeros(m, IPV6_DTYPE)
    pton, af4 = socket.inet_pton, socket.AF_INET
    packed4 = bytearray(4 * m)
    for k, v in enumerate(uniques):
        if type(v) is str:
            try:
                packed4[4 * k : 4 * k + 4] = pton(af4, v)  # strict dotted quad: what ipaddress accepts
                fam[k] = 4
                continue
            except (OSError, ValueError):
                pass
        try:
            addr = parse_address(v)
        except InvalidAddressError:
            continue
        if addr.version == 4:
            packed4[4 * k : 4 * k + 4] = addr.packed
            fam[k] = 4
        else:
            v6[k] = addr.packed
            fam[k] = 6
    v4[:] = np.frombuffer(bytes(packed4), dtype=">u4")
    status = np.full(m, _CODE["invalid_address"], np.int16)
    is4, is6 = fam == 4, fam == 6
    glob = np.zeros(m, np.bool_)
    glob[is4] = global_mask_v4(v4[is4])
    glob[is6] = global_mask_v6(v6[is6])
    status[(is4 | is6) & ~glob] = _CODE["not_global_address"]
    status[(is4 | is6) & glob] = -1
    return _Addresses(fam[inverse], v4[inverse], v6[inverse], status[inverse])


_NAT: Final = np.datetime64("NaT", "D")


def _parse_dates(values: Any, n: int) -> npt.NDArray[np.datetime64]:
    """Evidence dates as a ``datetime64[D]`` column, NaT where ``assess()`` would refuse the value.

    A ``datetime64`` column is read as calendar days; anything else per distinct value exactly as
    ``assess()`` reads a date (a ``date``, a ``datetime`` (its own calendar date) or an ISO string).
    """
    from ..assessment import _to_date

    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        arr = values.to_numpy()
        values = arr if arr.dtype.kind == "M" else values
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        out = values.reshape(-1).astype("datetime64[D]")
        if len(out) != n:
            raise InvalidParameterError(f"dates has {len(out)} values for {n} addresses")
        return out
    items = _as_list(values, n, "dates")
    uniques, inverse = _factorize(items)
    days = np.full(len(uniques), _NAT)
    for k, v in enumerate(uniques):
        try:
            days[k] = np.datetime64(_to_date(v), "D")
        except (ValueError, TypeError, OverflowError):  # InvalidEvidenceDateError is a ValueError
            continue
    return days[inverse]


def _parse_asns(values: Any, n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(ASN, 0 for none; mask of values that are not AS numbers) as ``assess(asn=...)`` checks
    them; None, NaN and pandas' NA mean "no ASN" (a float column, as pandas makes of integers with
    gaps, is read as integers)."""
    from ..assessment import check_asn

    if values is None:
        return np.zeros(n, np.int64), np.zeros(n, np.bool_)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy(dtype=object)
    arr = np.asarray(values) if isinstance(values, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "iu":
        col = arr.reshape(-1).astype(np.int64)
        if len(col) != n:
            raise InvalidParameterError(f"asns has {len(col)} values for {n} addresses")
        bad = (col < 1) | (col > 2**32 - 1)
        return np.where(bad, 0, col), bad
    if arr is not None and arr.dtype.kind == "f":
        colf = arr.reshape(-1).astype(np.float64)
        if len(colf) != n:
            raise InvalidParameterError(f"asns has {len(colf)} values for {n} addresses")
        missing = np.isnan(colf)
        ok = ~missing & (colf == np.floor(np.where(missing, 0, colf))) & (colf >= 1) & (colf <= 2**32 - 1)
        return np.where(ok, colf, 0).astype(np.int64), ~missing & ~ok
    items = _as_list(values, n, "asns")
    uniques, inverse = _factorize(items)
    got = np.zeros(len(uniques), np.int64)
    bad = np.zeros(len(uniques), np.bool_)
    for k, v in enumerate(uniques):
        if _is_missing(v):
            continue
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        try:
            got[k] = check_asn(v) or 0
        except InvalidParameterError:
            bad[k] = True
    return got[inverse], bad[inverse]


def _parse_claims(values: Any, n: int) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.bool_]]:
    """(claimed country ``S2``, b"" for none; mask of claims that are not countries), as
    ``assess(claimed_country=...)`` reads them (an empty value is no claim; NaN and NA too)."""
    if values is None:
        return np.zeros(n, COUNTRY_DTYPE), np.zeros(n, np.bool_)
    items = _as_list(values, n, "claimed_countries")
    uniques, inverse = _factorize(items)
    got = np.zeros(len(uniques), COUNTRY_DTYPE)
    bad = np.zeros(len(uniques), np.bool_)
    for k, v in enumerate(uniques):
        try:
            if _is_missing(v) or not v:
                continue
            got[k] = normalize_country(v).encode("ascii")
        except (UnknownCountryError, TypeError, ValueError):
            bad[k] = True
    return got[inverse], bad[inverse]
