"""Geolocate the same addresses with several databases and tabulate where they agree.

Useful to compare vendors (IP2Location against DB-IP) or dated versions of one database (how much
of the address space moved between two builds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..addresses import ipv4_column, ipv6_column
from ..errors import FamilyMismatchError, InvalidAddressError
from ..jsonutil import to_jsonable
from ..provenance import DatabaseInfo
from .base import GeoBackend
from .ranges import as_address_column

__all__ = ["CountryPairCount", "DatabaseComparison", "PairAgreement", "compare_databases"]


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _code(c: bytes) -> str | None:
    return c.decode("ascii") if c else None


@attrs.frozen
class CountryPairCount:
    """How many addresses database A put in ``country_a`` and database B in ``country_b``
    (None = not located)."""

    country_a: str | None
    country_b: str | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"country_a": self.country_a, "country_b": self.country_b, "count": self.count}


@attrs.frozen
class PairAgreement:
    """Agreement between two databases on the same addresses.

    ``agree``: both located, same country; ``disagree``: both located, different countries;
    ``only_a``/``only_b``: located by one only; ``neither``: located by neither.
    ``agreement_rate`` = agree / (agree + disagree) (None when no address is located by both).
    ``disagreements``: every differing answer (including located vs not located) by country pair,
    most frequent first.
    """

    a: str
    b: str
    total: int
    agree: int
    disagree: int
    only_a: int
    only_b: int
    neither: int
    disagreements: tuple[CountryPairCount, ...]

    @property
    def both_located(self) -> int:
        return self.agree + self.disagree

    @property
    def agreement_rate(self) -> float | None:
        return _rate(self.agree, self.both_located)

    @property
    def same_answer_rate(self) -> float | None:
        """Share of all addresses with identical answers (same country, or both not located)."""
        return _rate(self.agree + self.neither, self.total)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "total": self.total,
            "agree": self.agree,
            "disagree": self.disagree,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "neither": self.neither,
            "both_located": self.both_located,
            "agreement_rate": self.agreement_rate,
            "same_answer_rate": self.same_answer_rate,
            "disagreements": [d.to_dict() for d in self.disagreements],
        }


@attrs.frozen
class DatabaseComparison:
    """Several databases' answers for the same addresses: per-database located counts, per-pair
    agreement and disagreement tables, and how many addresses all databases place identically."""

    databases: tuple[DatabaseInfo, ...]
    labels: tuple[str, ...]
    family: int
    total: int
    located: tuple[int, ...]
    all_agree: int
    pairs: tuple[PairAgreement, ...]

    def pair(self, a: str, b: str) -> PairAgreement:
        """The agreement of two databases given by label (in either order)."""
        for p in self.pairs:
            if (p.a, p.b) in ((a, b), (b, a)):
                return p
        raise KeyError(f"no pair {a!r}, {b!r}; labels are {list(self.labels)}")

    def to_dict(self) -> dict[str, Any]:
        out = {
            "databases": [d.to_dict() for d in self.databases],
            "labels": list(self.labels),
            "family": self.family,
            "total": self.total,
            "located": dict(zip(self.labels, self.located, strict=True)),
            "all_agree": self.all_agree,
            "pairs": [p.to_dict() for p in self.pairs],
        }
        result: dict[str, Any] = to_jsonable(out)
        return result

    def __str__(self) -> str:
        lines = [f"{len(self.labels)} databases, {self.total} IPv{self.family} addresses"]
        for label, info, n in zip(self.labels, self.databases, self.located, strict=True):
            share = f"{n / self.total:.1%}" if self.total else "-"
            lines.append(f"  {label}: built {info.build_date.isoformat()}, located {n} ({share})")
        share = f"{self.all_agree / self.total:.1%}" if self.total else "-"
        lines.append(f"  all databases give the same located country: {self.all_agree} ({share})")
        for p in self.pairs:
            rate = f"{p.agreement_rate:.2%}" if p.agreement_rate is not None else "n/a"
            lines.append(
                f"  {p.a} vs {p.b}: agree {p.agree} of {p.both_located} located by both ({rate}); "
                f"only {p.a} {p.only_a}, only {p.b} {p.only_b}, neither {p.neither}"
            )
            for d in p.disagreements[:10]:
                lines.append(
                    f"      {d.country_a or '(not located)'} -> {d.country_b or '(not located)'}: {d.count}"
                )
            if len(p.disagreements) > 10:
                lines.append(f"      ... {len(p.disagreements) - 10} more country pairs")
        return "\n".join(lines)


def _address_column(addresses: npt.ArrayLike | Sequence[str]) -> tuple[int, npt.NDArray[Any]]:
    arr = np.asarray(addresses)
    if arr.dtype.kind in ("U", "O"):
        items = [str(x) for x in arr.reshape(-1).tolist()]
        v4, ok4 = ipv4_column(items)
        if ok4.all():
            return 4, v4
        v6, ok6 = ipv6_column(items)
        if ok6.all():
            return 6, v6
        bad = [items[i] for i in np.flatnonzero(~ok4 & ~ok6)[:3].tolist()]
        if bad:
            raise InvalidAddressError(bad[0])
        raise FamilyMismatchError("compare IPv4 and IPv6 addresses separately")
    return as_address_column(arr)


def _pair_key(a: npt.NDArray[np.bytes_], b: npt.NDArray[np.bytes_]) -> npt.NDArray[np.uint32]:
    ua = np.ascontiguousarray(a, dtype="S2").view("<u2").astype(np.uint32)
    ub = np.ascontiguousarray(b, dtype="S2").view("<u2").astype(np.uint32)
    key: npt.NDArray[np.uint32] = (ua << np.uint32(16)) | ub
    return key


def compare_databases(
    backends: Sequence[GeoBackend],
    addresses: npt.ArrayLike | Sequence[str],
    *,
    labels: Sequence[str] | None = None,
) -> DatabaseComparison:
    """Geolocate ``addresses`` (a ``uint32`` or ``S16`` column, or address strings of one family)
    with every backend and compare the answers pairwise.

    ``labels`` name the databases (default: their file names, with ``#2``... added to repeats).
    """
    if len(backends) < 2:
        raise ValueError("compare_databases needs at least two databases")
    family, col = _address_column(addresses)
    infos = tuple(b.describe() for b in backends)
    if labels is None:
        names: list[str] = []
        for info in infos:
            label, k = info.name, 2
            while label in names:
                label, k = f"{info.name}#{k}", k + 1
            names.append(label)
        labels = names
    if len(labels) != len(backends) or len(set(labels)) != len(labels):
        raise ValueError("labels must be distinct, one per database")
    answers = [np.asarray(b.lookup(col), dtype="S2") for b in backends]
    total = len(col)
    located = tuple(int(np.count_nonzero(a != b"")) for a in answers)
    same = answers[0] != b""
    for ans in answers[1:]:
        same &= ans == answers[0]
    pairs: list[PairAgreement] = []
    for i in range(len(answers)):
        for j in range(i + 1, len(answers)):
            a, b = answers[i], answers[j]
            la, lb = a != b"", b != b""
            eq = a == b
            differ = ~eq
            keys, counts = np.unique(_pair_key(a[differ], b[differ]), return_counts=True)
            order = np.lexsort((keys, -counts))
            table = tuple(
                CountryPairCount(
                    _code(int(k >> 16).to_bytes(2, "little").rstrip(b"\0")),
                    _code(int(k & 0xFFFF).to_bytes(2, "little").rstrip(b"\0")),
                    int(c),
                )
                for k, c in zip(keys[order].tolist(), counts[order].tolist(), strict=True)
            )
            pairs.append(
                PairAgreement(
                    a=labels[i],
                    b=labels[j],
                    total=total,
                    agree=int(np.count_nonzero(eq & la)),
                    disagree=int(np.count_nonzero(differ & la & lb)),
                    only_a=int(np.count_nonzero(la & ~lb)),
                    only_b=int(np.count_nonzero(~la & lb)),
                    neither=int(np.count_nonzero(~la & ~lb)),
                    disagreements=table,
                )
            )
    return DatabaseComparison(
        databases=infos,
        labels=tuple(labels),
        family=family,
        total=total,
        located=located,
        all_agree=int(np.count_nonzero(same)),
        pairs=tuple(pairs),
    )
