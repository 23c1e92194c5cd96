"""The ground truth: de-duplicated, cleaned probe addresses with their declared country.

A :class:`GroundTruth` holds one address family (4 or 6) as columns of equal length. The
address column is ``uint32`` for IPv4 and ``S16`` (16 bytes, network order) for IPv6, as
everywhere in the library (see :mod:`ipevidence.addresses`).

A ground truth is saved as ONE file (:meth:`GroundTruth.save`): an uncompressed ``.npz``
zip whose members are the columns as ``.npy`` arrays plus a ``metadata`` member holding canonical
JSON (family, funnel, provenance, parameters). The zip is written with fixed timestamps, so the
same ground truth always gives the same bytes; it is read back with ``allow_pickle=False``.
How the ground truth is built is in :mod:`ipevidence.history`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt

from ._io import atomic_binary, atomic_write_text
from ._util import address_dtype, check_lengths
from .addresses import format_ipv4, format_ipv6
from .errors import GroundTruthFormatError
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

GROUND_TRUTH_COLUMNS: tuple[str, ...] = (
    "probe_id",
    "address",
    "country",
    "latitude",
    "longitude",
    "asn",
    "date",
    "first_seen",
    "last_seen",
)

#: the ``format`` value in a saved file's metadata, and its version
GROUND_TRUTH_FORMAT: Final = "ipevidence-groundtruth"
_FORMAT_VERSION: Final = 1

_DAY = np.dtype("datetime64[D]")
_FIXED_DTYPES: Final[Mapping[str, np.dtype[Any]]] = {
    "probe_id": np.dtype(np.int32),
    "country": np.dtype("S2"),
    "latitude": np.dtype(np.float64),
    "longitude": np.dtype(np.float64),
    "asn": np.dtype(np.uint32),
    "date": _DAY,
    "first_seen": _DAY,
    "last_seen": _DAY,
}
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


def _write_members(path: Path, members: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write a deterministic npz (fixed timestamps, sorted members) atomically."""
    with atomic_binary(path) as out, zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            # stored, like numpy.savez: coordinates barely compress and deflate costs seconds
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(members[name]), allow_pickle=False)


#: default bound on the declared size of a ground-truth file's arrays (GroundTruth.load(max_bytes=...))
MAX_GROUND_TRUTH_BYTES: Final = 2 << 30
#: bound on the metadata member (canonical JSON); real ones are well under a megabyte
MAX_METADATA_BYTES: Final = 64 << 20
#: bound on the nesting of the metadata JSON (real metadata nests 4 deep)
MAX_METADATA_DEPTH: Final = 32
_REMOVAL_MEMBERS: Final = (
    "removed_probe_id",
    "removed_address",
    "removed_date",
    "removed_reason",
    "daily_days",
    "daily_counts",
)
#: bounds on the zip's central directory (16 members of a few hundred bytes each, at most)
_MAX_MEMBERS: Final = 64
_MAX_DIRECTORY_BYTES: Final = 1 << 20
_EOCD_SEARCH: Final = 22 + 65535  # the end record and the longest zip comment
_META_KEYS: Final = frozenset(
    (
        "format",
        "format_version",
        "library_version",
        "family",
        "rows",
        "funnel",
        "provenance",
        "parameters",
        "removals",
    )
)


@attrs.frozen
class _Header:
    name: str
    info: zipfile.ZipInfo
    dtype: np.dtype[Any]
    shape: tuple[int, ...]


def _dtype_ok(name: str, dtype: np.dtype[Any]) -> bool:
    """Is ``dtype`` what member ``name`` must hold (either family for the address columns)?"""
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        return False
    if name in ("address", "removed_address"):
        return dtype == np.dtype(np.uint32) or dtype == np.dtype("S16")
    if name in _FIXED_DTYPES:
        return dtype == _FIXED_DTYPES[name]
    if name == "metadata":
        return dtype == np.dtype(np.uint8)
    if name == "removed_probe_id":
        return dtype == np.dtype(np.int32)
    if name in ("removed_date", "daily_days"):
        return dtype == _DAY
    if name == "removed_reason":  # fixed-width unicode, reason codes are short
        return dtype.kind == "U" and dtype.byteorder in ("<", "=", "|") and dtype.itemsize <= 4 * 256
    if name == "daily_counts":
        return dtype == np.dtype(np.int64)
    return False


def _check_directory(path: str | os.PathLike[str], where: str) -> None:
    """Refuse a zip whose central directory is larger than a ground truth's ever is, before
    ``zipfile`` reads it into memory (a few hundred bytes per entry, and a file can list millions)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - _EOCD_SEARCH))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return  # not a zip: zipfile says so, typed, below
    entries, directory_size = struct.unpack_from("<HI", tail, at + 10)
    if entries > _MAX_MEMBERS or directory_size > _MAX_DIRECTORY_BYTES:
        raise GroundTruthFormatError(
            f"{where}: the zip lists {entries:,} members in {directory_size:,} bytes of directory; "
            f"a ground truth has at most {len(GROUND_TRUTH_COLUMNS) + 1 + len(_REMOVAL_MEMBERS)}"
        )


def _check_members(zf: zipfile.ZipFile, where: str, max_bytes: int) -> dict[str, _Header]:
    """Every member's name, compression, .npy header (dtype, shape) and size, before reading data."""
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise GroundTruthFormatError(f"{where}: duplicate members in the zip")
    expected = {f"{c}.npy" for c in GROUND_TRUTH_COLUMNS} | {"metadata.npy"}
    removal = {f"{c}.npy" for c in _REMOVAL_MEMBERS}
    unknown = sorted(set(names) - expected - removal)
    if unknown:
        shown = ", ".join(repr(u[:60]) for u in unknown[:5])
        raise GroundTruthFormatError(f"{where}: unknown members {shown}: not a ground-truth file")
    missing = sorted(expected - set(names))
    if missing:
        raise GroundTruthFormatError(f"{where}: members missing: {', '.join(missing)}")
    present_removal = removal & set(names)
    if present_removal and present_removal != removal:
        raise GroundTruthFormatError(f"{where}: some removal members are missing")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise GroundTruthFormatError(
            f"{where}: members declare {total:,} bytes, more than the bound of {max_bytes:,} "
            f"(GroundTruth.load(max_bytes=...) raises it)"
        )
    headers: dict[str, _Header] = {}
    for info in infos:
        name = info.filename[: -len(".npy")]
        if info.flag_bits & 0x1:
            raise GroundTruthFormatError(f"{where}: member {name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise GroundTruthFormatError(f"{where}: member {name} uses an unsupported compression")
        shape, fortran, dtype, header_len = _npy_header(zf, info, name, where)
        if not _dtype_ok(name, dtype):
            raise GroundTruthFormatError(
                f"{where}: member {name} has dtype {dtype}, not what the format holds"
            )
        ndim = 2 if name == "daily_counts" else 1
        if fortran or len(shape) != ndim or any(not isinstance(d, int) or d < 0 for d in shape):
            raise GroundTruthFormatError(f"{where}: member {name} has shape {shape}, expected {ndim}-d")
        count = 1
        for d in shape:
            count *= d
        if header_len + count * dtype.itemsize != info.file_size:
            raise GroundTruthFormatError(
                f"{where}: member {name} declares shape {shape} of {dtype} ({count * dtype.itemsize:,} "
                f"bytes) but holds {info.file_size - header_len:,} bytes"
            )
        headers[name] = _Header(name, info, dtype, tuple(shape))
    if headers["metadata"].info.file_size > MAX_METADATA_BYTES:
        raise GroundTruthFormatError(f"{where}: metadata larger than {MAX_METADATA_BYTES:,} bytes")
    return headers


def _npy_header(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, where: str
) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """(shape, fortran order, dtype, header length) of a member's .npy header, read alone (numpy
    bounds the header at 10,000 bytes); anything numpy cannot parse is a GroundTruthFormatError."""
    with zf.open(info) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise GroundTruthFormatError(f"{where}: member {name}: unsupported .npy version {version}")
        except GroundTruthFormatError:
            raise
        except (zipfile.BadZipFile, OSError):
            raise
        except Exception as exc:  # numpy parses the header with ast: SyntaxError, TypeError, ...
            raise GroundTruthFormatError(
                f"{where}: member {name} has no readable .npy header ({type(exc).__name__})"
            ) from None
        return tuple(shape), bool(fortran), dtype, fh.tell()


def _read_member(zf: zipfile.ZipFile, header: _Header) -> npt.NDArray[Any]:
    with zf.open(header.info) as fh:
        array = np.lib.format.read_array(fh, allow_pickle=False)
    if array.dtype != header.dtype or array.shape != header.shape:  # the same bytes: cannot happen
        raise GroundTruthFormatError(f"member {header.name} changed while it was read")
    return array


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a ground truth can hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of decoded JSON (iterative: no recursion), stopping past ``limit``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack += [(v, d + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, d + 1) for v in item]
    return deepest


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_metadata(zf: zipfile.ZipFile, header: _Header, where: str) -> dict[str, Any]:
    """The metadata member, decoded and validated (GroundTruthFormatError for anything off)."""
    raw = _read_member(zf, header).tobytes()
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise GroundTruthFormatError(f"{where}: metadata nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise GroundTruthFormatError(f"{where}: metadata is not JSON ({str(exc)[:120]})") from None
    if not isinstance(meta, dict) or meta.get("format") != GROUND_TRUTH_FORMAT:
        raise GroundTruthFormatError(f"{where}: metadata does not name the {GROUND_TRUTH_FORMAT} format")
    if meta.get("format_version") != _FORMAT_VERSION or not _is_int(meta.get("format_version")):
        raise GroundTruthFormatError(f"{where}: unsupported format version {meta.get('format_version')!r}")
    if _depth(meta, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
        raise GroundTruthFormatError(f"{where}: metadata nested more than {MAX_METADATA_DEPTH} deep")
    unknown = sorted(set(meta) - _META_KEYS)
    if unknown:
        raise GroundTruthFormatError(f"{where}: unknown metadata keys {unknown[:5]!r}")
    try:  # a "\ud83d" escape decodes to half a surrogate pair, which no output could write
        json.dumps(meta, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise GroundTruthFormatError(f"{where}: metadata holds a lone surrogate escape") from None
    problems = _metadata_problems(meta)
    if problems:
        raise GroundTruthFormatError(f"{where}: invalid metadata: {problems[0]}")
    meta.setdefault("provenance", None)
    meta.setdefault("parameters", {})
    meta.setdefault("removals", None)
    return meta


def _metadata_problems(meta: Mapping[str, Any]) -> list[str]:
    """What is wrong with decoded metadata (empty: nothing), checked field by field."""
    out: list[str] = []
    family = meta.get("family")
    if family not in (4, 6) or not _is_int(family):
        out.append(f"family {family!r} is not 4 or 6")
    if not _is_int(meta.get("rows")) or meta["rows"] < 0:
        out.append("rows is not a count")
    if "library_version" in meta and not isinstance(meta["library_version"], str):
        out.append("library_version is not text")
    funnel = meta.get("funnel")
    if (
        not isinstance(funnel, dict)
        or funnel.get("family") not in (4, 6)
        or not _is_int(funnel.get("family"))
        or not isinstance(funnel.get("steps"), list)
    ):
        out.append("funnel is not {family, steps}")
    else:
        for step in funnel["steps"]:
            if not (
                isinstance(step, dict)
                and isinstance(step.get("name"), str)
                and isinstance(step.get("description"), str)
                and _is_int(step.get("rows_in"))
                and _is_int(step.get("removed"))
                and 0 <= step["removed"] <= step["rows_in"]
            ):
                out.append(f"funnel step {str(step)[:80]} is not {{name, description, rows_in, removed}}")
                break
    params = meta.get("parameters", {})
    if not isinstance(params, dict):
        out.append("parameters is not an object")
    prov = meta.get("provenance")
    if prov is not None:
        out += _provenance_problems(prov)
    removals = meta.get("removals")
    if removals is not None and not (
        isinstance(removals, dict)
        and set(removals) == {"daily_rules"}
        and isinstance(removals["daily_rules"], list)
        and all(isinstance(r, str) for r in removals["daily_rules"])
    ):
        out.append("removals is not {daily_rules: [text, ...]}")
    return out


def _iso_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _provenance_problems(prov: Any) -> list[str]:
    if not isinstance(prov, dict):
        return ["provenance is not an object"]
    if not isinstance(prov.get("source"), str):
        return ["provenance source is not text"]
    if not (_iso_date(prov.get("start")) and _iso_date(prov.get("end"))):
        return ["provenance start/end are not dates"]
    days = prov.get("days", [])
    if not isinstance(days, list):
        return ["provenance days is not a list"]
    for d in days:
        if not (
            isinstance(d, dict)
            and _iso_date(d.get("day"))
            and d.get("status") in ("ok", "missing", "corrupt")
            and all(d.get(k) is None or isinstance(d.get(k), str) for k in ("name", "sha256", "reason"))
        ):
            return [f"provenance day {str(d)[:80]} is not {{day, status, name, sha256, reason}}"]
    return []


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
        try:
            _check_directory(path, where)
            with zipfile.ZipFile(path) as zf:
                headers = _check_members(zf, where, max_bytes)
                meta = _read_metadata(zf, headers["metadata"], where)
                arrays = {name: _read_member(zf, h) for name, h in headers.items() if name != "metadata"}
        except GroundTruthFormatError:
            raise
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            zlib.error,  # a deflated member whose stream is broken
            NotImplementedError,
            RuntimeError,
            ValueError,
            OSError,
            EOFError,
            KeyError,
        ) as exc:
            # numpy's own message for a non-npz file suggests loading it with pickles: never
            # repeat that advice; say what the file is not.
            raise GroundTruthFormatError(
                f"{where}: not a ground-truth file (expected the .npz written by 'ipevidence build' "
                f"or GroundTruth.save; {type(exc).__name__})"
            ) from exc
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
