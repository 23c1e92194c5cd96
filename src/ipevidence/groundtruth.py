"""The ground truth: de-duplicated, cleaned probe addresses with their declared country.

A :class:`GroundTruth` holds one address family (4 or 6) as columns of equal length. The
address column is ``uint32`` for IPv4 and ``S16`` (16 bytes, network order) for IPv6, as
everywhere in the library (see :mod:`ipevidence.addresses`).

A ground truth is saved as ONE file (:meth:`GroundTruth.save`): an uncompressed ``.npz``
zip whose members are the columns as ``.npy`` arrays plus a ``metadata`` member holding canonical
JSON (family, funnel, provenance, parameters). The zip is written with fixed timestamps, so the
same ground truth always gives the same bytes; it is read back with ``allow_pickle=False``.
How the ground truth is built is in :mod:`ipevidence.history`.

This module holds the data classes (:class:`GroundTruth`, :class:`Funnel`, :class:`FunnelStep`,
:class:`Removals`); the file format (the deterministic writing, and the checked, bounded reading
of a file from anyone that :meth:`GroundTruth.load` does) is :mod:`ipevidence.groundtruth_file`,
whose names are still importable from here.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from ._io import atomic_write_text
from ._util import address_dtype, check_lengths
from .addresses import format_ipv4, format_ipv6
from .errors import GroundTruthFormatError
from .groundtruth_file import _DAY as _DAY
from .groundtruth_file import _EOCD_SEARCH as _EOCD_SEARCH
from .groundtruth_file import _FIXED_DTYPES as _FIXED_DTYPES
from .groundtruth_file import _FORMAT_VERSION as _FORMAT_VERSION
from .groundtruth_file import _MAX_DIRECTORY_BYTES as _MAX_DIRECTORY_BYTES
from .groundtruth_file import _MAX_MEMBERS as _MAX_MEMBERS
from .groundtruth_file import _META_KEYS as _META_KEYS
from .groundtruth_file import _REMOVAL_MEMBERS as _REMOVAL_MEMBERS
from .groundtruth_file import GROUND_TRUTH_COLUMNS, GROUND_TRUTH_FORMAT, MAX_GROUND_TRUTH_BYTES
from .groundtruth_file import MAX_METADATA_BYTES as MAX_METADATA_BYTES
from .groundtruth_file import MAX_METADATA_DEPTH as MAX_METADATA_DEPTH
from .groundtruth_file import _check_directory as _check_directory
from .groundtruth_file import _check_members as _check_members
from .groundtruth_file import _depth as _depth
from .groundtruth_file import _dtype_ok as _dtype_ok
from .groundtruth_file import _finite_float as _finite_float
from .groundtruth_file import _Header as _Header
from .groundtruth_file import _is_int as _is_int
from .groundtruth_file import _iso_date as _iso_date
from .groundtruth_file import _metadata_problems as _metadata_problems
from .groundtruth_file import _no_constant as _no_constant
from .groundtruth_file import _npy_header as _npy_header
from .groundtruth_file import _provenance_problems as _provenance_problems
from .groundtruth_file import _read_file as _read_file
from .groundtruth_file import _read_member as _read_member
from .groundtruth_file import _read_metadata as _read_metadata
from .groundtruth_file import _write_members as _write_members
from .jsonutil import canonical_json
from .provenance import LIBRARY_VERSION, ArchiveProvenance

__all__ = [
    "GROUND_TRUTH_COLUMNS",
    "GROUND_TRUTH_FORMAT",
    "MAX_GROUND_TRUTH_BYTES",
    "Funnel",
    "FunnelStep",
    "GroundTruth",
    "Removals",
]

_REMOVAL_COLUMNS: tuple[str, ...] = ("probe_id", "address", "date", "reason")


@attrs.frozen
class FunnelStep:
    """One rule of the filter funnel: how many rows reached it and how many it removed."""

    name: str
    description: str
    rows_in: int
    removed: int

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.removed

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "rows_in": self.rows_in,
            "removed": self.removed,
            "rows_out": self.rows_out,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FunnelStep:
        return cls(
            name=str(data["name"]),
            description=str(data["description"]),
            rows_in=int(data["rows_in"]),
            removed=int(data["removed"]),
        )

    def __str__(self) -> str:
        return f"{self.name}: {self.rows_in:,} in, {self.removed:,} removed, {self.rows_out:,} out"


@attrs.frozen
class Funnel:
    """The ordered rules of one family's pipeline, from raw daily records to the ground truth."""

    family: int
    steps: tuple[FunnelStep, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Funnel:
        return cls(family=int(data["family"]), steps=tuple(FunnelStep.from_dict(s) for s in data["steps"]))

    def step(self, name: str) -> FunnelStep:
        """The step called ``name``; KeyError when the pipeline had no such step."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def removed_by_step(self) -> dict[str, int]:
        """Rows removed by every step, in pipeline order."""
        return {s.name: s.removed for s in self.steps}

    def __str__(self) -> str:
        lines = [f"IPv{self.family} filter funnel:"]
        lines += [f"  {s}" for s in self.steps]
        return "\n".join(lines)


def _empty_address(family: int) -> npt.NDArray[Any]:
    return np.zeros(0, dtype=address_dtype(family))


@attrs.frozen(eq=False)
class Removals:
    """What a build removed, row by row, and the daily filter's counts day by day.

    * ``probe_id``/``address``/``date``/``reason``: one entry per ground-truth row removed AFTER
      linking (unreliable probe, excluded probe, border, cloud...), ``reason`` a short code such as
      ``"unreliable_probe"``, ``"border:other_country"`` or ``"cloud_asn:16509"``;
    * ``daily_days`` (n days) with ``daily_counts`` (n days x len(``daily_rules``)): how many
      records each daily rule removed on each day (first column: records in the day's file).
    """

    family: int
    probe_id: npt.NDArray[np.int32]
    address: npt.NDArray[Any]
    date: npt.NDArray[np.datetime64]
    reason: npt.NDArray[np.str_]
    daily_rules: tuple[str, ...] = ()
    daily_days: npt.NDArray[np.datetime64] = attrs.field(factory=lambda: np.zeros(0, _DAY))
    daily_counts: npt.NDArray[np.int64] = attrs.field(factory=lambda: np.zeros((0, 0), np.int64))

    def __attrs_post_init__(self) -> None:
        n = self.probe_id.shape[0]
        for name in _REMOVAL_COLUMNS:
            if getattr(self, name).shape != (n,):
                raise ValueError(f"removal column {name} has shape {getattr(self, name).shape}")
        if self.daily_counts.shape != (self.daily_days.shape[0], len(self.daily_rules)) and not (
            self.daily_counts.size == 0 and self.daily_days.size == 0
        ):
            raise ValueError("daily_counts must have one row per day and one column per rule")

    @classmethod
    def empty(cls, family: int) -> Removals:
        return cls(
            family=family,
            probe_id=np.zeros(0, np.int32),
            address=_empty_address(family),
            date=np.zeros(0, _DAY),
            reason=np.zeros(0, "U1"),
        )

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    def by_reason(self) -> dict[str, int]:
        """Number of removed rows per reason code, sorted by code."""
        codes, counts = np.unique(self.reason, return_counts=True)
        return {str(c): int(k) for c, k in zip(codes.tolist(), counts.tolist(), strict=False)}

    def daily_totals(self) -> dict[str, int]:
        """The daily filter's counts summed over all days, per rule."""
        if self.daily_counts.size == 0:
            return {r: 0 for r in self.daily_rules}
        sums = self.daily_counts.sum(axis=0)
        return {r: int(v) for r, v in zip(self.daily_rules, sums.tolist(), strict=False)}

    def addresses_text(self) -> list[str]:
        return format_ipv4(self.address) if self.family == 4 else format_ipv6(self.address)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "removed_rows": len(self),
            "removed_by_reason": self.by_reason(),
            "days": int(self.daily_days.shape[0]),
            "daily_rules": list(self.daily_rules),
            "daily_totals": self.daily_totals(),
        }

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {v:,}" for k, v in self.by_reason().items()) or "none"
        return f"IPv{self.family} removals after linking: {len(self):,} rows ({parts})"


def _country_code16(country: npt.NDArray[np.bytes_]) -> npt.NDArray[np.uint16]:
    """The two ASCII bytes of an ``S2`` column as one big-endian 16-bit number per row."""
    raw = np.ascontiguousarray(np.asarray(country, dtype="S2")).tobytes()
    return np.frombuffer(raw, dtype=">u2").astype(np.uint16)


@attrs.frozen(eq=False)
class GroundTruth:
    """Ground-truth rows of one address family, as columns.

    * ``probe_id`` int32; ``address`` uint32 (IPv4) or ``S16`` (IPv6);
    * ``country`` ``S2`` declared country (known ISO alpha-2 codes only);
    * ``latitude``/``longitude`` float64; ``asn`` uint32 (0 unknown);
    * ``date`` ``datetime64[D]``: the row's date under the de-duplication policy;
    * ``first_seen``/``last_seen`` ``datetime64[D]``: first and last day of the run or pair
      (NaT where the policy does not know them).

    ``funnel`` counts every rule's removals, ``provenance`` names the archive days, and
    ``parameters`` records every parameter of the build (policy, tolerances, ASN sets, ...).
    ``removals`` (optional) lists the rows removed after linking with their reason and the
    daily filter's per-day counts.
    """

    family: int
    probe_id: npt.NDArray[np.int32]
    address: npt.NDArray[Any]
    country: npt.NDArray[np.bytes_]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    asn: npt.NDArray[np.uint32]
    date: npt.NDArray[np.datetime64]
    first_seen: npt.NDArray[np.datetime64]
    last_seen: npt.NDArray[np.datetime64]
    funnel: Funnel = attrs.field(factory=lambda: Funnel(family=4))
    provenance: ArchiveProvenance | None = None
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    removals: Removals | None = None

    def __attrs_post_init__(self) -> None:
        if self.family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {self.family!r}")
        check_lengths(self, GROUND_TRUTH_COLUMNS)

    def __len__(self) -> int:
        return int(self.probe_id.shape[0])

    @property
    def years(self) -> npt.NDArray[np.int64]:
        """The calendar year of every row's date."""
        days = self.date.astype(_DAY).view(np.int64)
        if days.size == 0:
            return np.zeros(0, dtype=np.int64)
        lo, hi = int(days.min()), int(days.max())
        if hi - lo > 400_000:  # dates spread over more than a millennium: convert directly
            return self.date.astype("datetime64[Y]").astype(np.int64) + 1970
        # a year per distinct day in the span (a few thousand), then one gather: 5x faster
        span = np.arange(lo, hi + 1, dtype=np.int64).astype(_DAY)
        return (span.astype("datetime64[Y]").astype(np.int64) + 1970)[days - lo]

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> GroundTruth:
        """A ground truth holding only the rows picked by a boolean mask or index array."""
        return attrs.evolve(self, **{name: getattr(self, name)[mask] for name in GROUND_TRUTH_COLUMNS})

    @classmethod
    def empty(cls, family: int, **kwargs: Any) -> GroundTruth:
        """A ground truth with no rows (columns of the right dtypes)."""
        day = np.zeros(0, _DAY)
        return cls(
            family=family,
            probe_id=np.zeros(0, np.int32),
            address=_empty_address(family),
            country=np.zeros(0, "S2"),
            latitude=np.zeros(0, np.float64),
            longitude=np.zeros(0, np.float64),
            asn=np.zeros(0, np.uint32),
            date=day,
            first_seen=day.copy(),
            last_seen=day.copy(),
            **kwargs,
        )

    # ------------------------------------------------------------------ summaries

    def counts_per_year(self) -> dict[int, int]:
        """Rows per calendar year of the row's date, sorted by year."""
        years, counts = np.unique(self.years, return_counts=True)
        return {int(y): int(c) for y, c in zip(years.tolist(), counts.tolist(), strict=False)}

    def counts_per_country_year(self) -> dict[str, dict[int, int]]:
        """Rows per declared country and year: ``{"DE": {2015: 120, ...}, ...}``, sorted."""
        if len(self) == 0:
            return {}
        years = self.years
        base = int(years.min())
        # one integer key per (country, year): the country's two bytes, then the year offset
        code = _country_code16(self.country).astype(np.int64)
        key = code * 4096 + (years - base)
        uniq, counts = np.unique(key, return_counts=True)
        out: dict[str, dict[int, int]] = {}
        for k, n in zip(uniq.tolist(), counts.tolist(), strict=True):
            c = int(k) // 4096
            country = bytes([c >> 8, c & 0xFF]).decode("ascii")
            out.setdefault(country, {})[int(k) % 4096 + base] = int(n)
        return out

    def counts_per_country(self) -> dict[str, int]:
        """Rows per declared country, sorted by code."""
        codes, counts = np.unique(self.country, return_counts=True)
        return {c.decode("ascii"): int(k) for c, k in zip(codes.tolist(), counts.tolist(), strict=False)}

    def window(self, first_year: int, last_year: int) -> GroundTruth:
        """The rows whose date falls in the years ``first_year`` to ``last_year`` inclusive.

        The window is recorded in ``parameters["window"]``; funnel, provenance and removals are
        those of the whole build.
        """
        if first_year > last_year:
            raise ValueError(f"window {first_year}-{last_year}: the first year is after the last")
        years = self.years
        sub = self.select((years >= first_year) & (years <= last_year))
        params = dict(self.parameters)
        params["window"] = {"first_year": int(first_year), "last_year": int(last_year)}
        return attrs.evolve(sub, parameters=params)

    def addresses_text(self) -> list[str]:
        """The address column as text."""
        return format_ipv4(self.address) if self.family == 4 else format_ipv6(self.address)

    def _date_span(self) -> tuple[str | None, str | None]:
        if len(self) == 0:
            return None, None
        return str(self.date.min()), str(self.date.max())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: sizes, per-year counts, funnel, provenance, parameters."""
        first, last = self._date_span()
        return {
            "family": self.family,
            "rows": len(self),
            "probes": int(np.unique(self.probe_id).size),
            "countries": int(np.unique(self.country).size),
            "first_date": first,
            "last_date": last,
            "counts_per_year": {str(k): v for k, v in self.counts_per_year().items()},
            "funnel": self.funnel.to_dict(),
            "provenance": self.provenance.to_dict() if self.provenance is not None else None,
            "parameters": dict(self.parameters),
            "removals": self.removals.to_dict() if self.removals is not None else None,
        }

    def __str__(self) -> str:
        first, last = self._date_span()
        span = f"{first} to {last}" if first else "no dates"
        dedup = self.parameters.get("dedup", "?")
        head = (
            f"GroundTruth IPv{self.family}: {len(self):,} rows, {np.unique(self.probe_id).size:,} probes, "
            f"{np.unique(self.country).size:,} countries, {span} (most distant selection: {dedup})"
        )
        years = ", ".join(f"{y}: {c:,}" for y, c in self.counts_per_year().items())
        lines = [head]
        if years:
            lines.append(f"  rows per year: {years}")
        if self.funnel.steps:
            lines.append("  " + str(self.funnel).replace("\n", "\n  "))
        return "\n".join(lines)

    # ------------------------------------------------------------------ files

    def _metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "format": GROUND_TRUTH_FORMAT,
            "format_version": _FORMAT_VERSION,
            "library_version": LIBRARY_VERSION,
            "family": self.family,
            "rows": len(self),
            "funnel": self.funnel.to_dict(),
            "provenance": self.provenance.to_dict() if self.provenance is not None else None,
            "parameters": dict(self.parameters),
            "removals": None,
        }
        if self.removals is not None:
            meta["removals"] = {"daily_rules": list(self.removals.daily_rules)}
        return meta

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the ground truth to ONE ``.npz`` file, atomically, and return its path.

        The same ground truth always gives the same bytes (fixed zip timestamps, canonical JSON).
        """
        target = Path(path)
        members: dict[str, npt.NDArray[Any]] = {name: getattr(self, name) for name in GROUND_TRUTH_COLUMNS}
        meta = canonical_json(self._metadata()).encode("utf-8")
        members["metadata"] = np.frombuffer(meta, dtype=np.uint8)
        if self.removals is not None:
            r = self.removals
            members["removed_probe_id"] = r.probe_id
            members["removed_address"] = r.address
            members["removed_date"] = r.date
            # a fixed-width unicode column: no pickle needed
            members["removed_reason"] = r.reason.astype(
                f"<U{max(1, int(np.char.str_len(r.reason).max(initial=1)))}"
            )
            members["daily_days"] = r.daily_days
            members["daily_counts"] = r.daily_counts.astype(np.int64)
        _write_members(target, members)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, max_bytes: int = MAX_GROUND_TRUTH_BYTES) -> GroundTruth:
        """Read a file written by :meth:`save`; a broken or hostile file raises GroundTruthFormatError.

        Before any array is read, the zip's members are checked against the format: only the
        expected members (the columns, ``metadata`` and, all or none, the removal members), each
        with the expected dtype and number of dimensions, a ``.npy`` header that agrees with the
        member's size, and declared sizes that add up to at most ``max_bytes`` (default
        :data:`MAX_GROUND_TRUTH_BYTES`, 2 GiB: far above any real ground truth; memory used is
        about the declared size). Then the metadata is validated whole (types, counts, dates,
        finite numbers, nesting), so a GroundTruth that exists is valid. No pickle is ever loaded.
        """
        where = str(path)
        if not Path(path).is_file():
            raise FileNotFoundError(f"{where}: no such ground-truth file")
        meta, arrays = _read_file(path, where, max_bytes)
        family = meta["family"]
        n = int(arrays["probe_id"].shape[0])
        if any(arrays[c].shape[0] != n for c in GROUND_TRUTH_COLUMNS) or meta["rows"] != n:
            raise GroundTruthFormatError(f"{where}: columns differ in length or disagree with the metadata")
        if family != (4 if arrays["address"].dtype == np.uint32 else 6):
            raise GroundTruthFormatError(f"{where}: the address column does not hold IPv{family} addresses")
        cols = {name: arrays[name] for name in GROUND_TRUTH_COLUMNS}
        if n and not np.all(np.char.isalpha(cols["country"]) & (np.char.str_len(cols["country"]) == 2)):
            raise GroundTruthFormatError(
                f"{where}: the country column holds something else than 2-letter codes"
            )
        try:
            funnel = Funnel.from_dict(meta["funnel"])
            prov = meta["provenance"]
            provenance = ArchiveProvenance.from_dict(prov) if prov is not None else None
            removals = None
            if meta["removals"] is not None:
                m = int(arrays["removed_probe_id"].shape[0])
                if any(arrays[c].shape[0] != m for c in _REMOVAL_MEMBERS[:4]):
                    raise GroundTruthFormatError(f"{where}: removal columns differ in length")
                if (family == 4) != (arrays["removed_address"].dtype == np.uint32):
                    raise GroundTruthFormatError(f"{where}: removed addresses of the wrong family")
                removals = Removals(
                    family=family,
                    probe_id=arrays["removed_probe_id"],
                    address=arrays["removed_address"],
                    date=arrays["removed_date"],
                    reason=arrays["removed_reason"].astype(str),
                    daily_rules=tuple(meta["removals"]["daily_rules"]),
                    daily_days=arrays["daily_days"],
                    daily_counts=arrays["daily_counts"].astype(np.int64),
                )
            return cls(
                family=family,
                **cols,
                funnel=funnel,
                provenance=provenance,
                parameters=meta["parameters"],
                removals=removals,
            )
        except GroundTruthFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GroundTruthFormatError(f"{where}: inconsistent ground-truth file ({exc!r})") from exc

    def to_csv(
        self, path: str | os.PathLike[str], *, style: Literal["library", "reference"] = "library"
    ) -> Path:
        """Write the rows as CSV, atomically.

        ``style="library"``: ``probe_id,address,country,latitude,longitude,asn,date,first_seen,last_seen``
        (ISO dates, empty for NaT). ``style="reference"``: the reference notebook's
        ``history/histdataset.csv`` columns ``ip,cntr,id,date,latlon`` with ``date`` as ``YYYYMMDD``
        and ``latlon`` as ``(lat, lon)``.
        """
        target = Path(path)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        addrs = self.addresses_text()
        countries = [c.decode("ascii") for c in self.country.tolist()]

        def days(col: npt.NDArray[np.datetime64]) -> list[str]:
            return ["" if d == "NaT" else d for d in np.datetime_as_string(col, unit="D").tolist()]

        lat = self.latitude.tolist()
        lon = self.longitude.tolist()
        pid = self.probe_id.tolist()
        if style == "reference":
            w.writerow(["ip", "cntr", "id", "date", "latlon"])
            compact = [d.replace("-", "") for d in days(self.date)]
            latlon = (f"({a!r}, {b!r})" for a, b in zip(lat, lon, strict=True))
            w.writerows(zip(addrs, countries, pid, compact, latlon, strict=True))
        elif style == "library":
            w.writerow(list(GROUND_TRUTH_COLUMNS))
            w.writerows(
                zip(
                    pid,
                    addrs,
                    countries,
                    (repr(v) for v in lat),
                    (repr(v) for v in lon),
                    self.asn.tolist(),
                    days(self.date),
                    days(self.first_seen),
                    days(self.last_seen),
                    strict=False,
                )
            )
        else:
            raise ValueError(f"unknown CSV style {style!r}: use 'library' or 'reference'")
        atomic_write_text(target, buf.getvalue(), newline="")
        return target
