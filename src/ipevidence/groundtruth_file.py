"""The ground-truth file format: one ``.npz`` written deterministically and read back safely.

A ground truth (:class:`~ipevidence.groundtruth.GroundTruth`) is saved as ONE uncompressed
``.npz`` zip whose members are the columns (:data:`GROUND_TRUTH_COLUMNS`) as ``.npy`` arrays, a
``metadata`` member holding canonical JSON (family, funnel, provenance, parameters) and, all or
none, the removal members. Writing (:func:`_write_members`) uses fixed timestamps and sorted
members, so the same ground truth always gives the same bytes. Reading (:func:`_read_file`) treats
the file as hostile: the zip's central directory, every member's name, compression, ``.npy``
header and size are checked against the format and the bounds (:data:`MAX_GROUND_TRUTH_BYTES`,
:data:`MAX_METADATA_BYTES`, :data:`MAX_METADATA_DEPTH`) before any array is read, arrays are read
with ``allow_pickle=False``, and the metadata is validated whole. :mod:`ipevidence.groundtruth`
holds the data classes and re-exports every name of this module it held before.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ._io import atomic_binary
from ._npzfile import write_npz
from .errors import GroundTruthFormatError

__all__ = [
    "GROUND_TRUTH_COLUMNS",
    "GROUND_TRUTH_FORMAT",
    "MAX_GROUND_TRUTH_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
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


def _write_members(path: Path, members: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write a deterministic npz (fixed timestamps, sorted members) atomically."""
    with atomic_binary(path) as out:
        write_npz(out, members, compress=False)


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


def _read_file(
    path: str | os.PathLike[str], where: str, max_bytes: int
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The validated metadata and the arrays of a ground-truth file (see
    :meth:`GroundTruth.load <ipevidence.groundtruth.GroundTruth.load>`); anything broken or
    hostile raises GroundTruthFormatError."""
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
    return meta, arrays
