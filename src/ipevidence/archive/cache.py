"""The parsed-day cache: one ``.npz`` per archive file, keyed by the file's SHA-256 and
:data:`~ipevidence.archive.parse.PARSER_VERSION`, so a second run skips decompression entirely.
A file found corrupt is remembered too (a one-line ``.corrupt`` text file with the reason).

Files are plain numpy arrays (no pickles: read with ``allow_pickle=False``), written atomically
(temporary file in the same directory, then ``os.replace``). A cache file that cannot be read or
does not have the expected columns is ignored (and rewritten on the next parse), never trusted:
its members are checked before anything is read (known names only, stored uncompressed, declared
shapes that match their stored sizes, at most :data:`MAX_CACHE_FILE_BYTES`), so a file declaring a
huge array is a miss, not an allocation. A cache directory that cannot be written is skipped with
a :class:`CacheWarning` (see :func:`usable_cache_dir`).
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
import zipfile
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from .._cachefiles import CacheWarning, check_npz_members, clean_stale, writable_dir
from .._io import atomic_binary, atomic_write_text
from ..provenance import ArchiveDay
from .parse import PARSER_VERSION
from .snapshot import SNAPSHOT_COLUMNS, DaySnapshot

__all__ = [
    "MAX_CACHE_FILE_BYTES",
    "CacheWarning",
    "ParsedDayCache",
    "load_snapshot",
    "save_snapshot",
    "usable_cache_dir",
]

_FORMAT = "ipevidence-day"
_MEMBERS: Final = frozenset({*SNAPSHOT_COLUMNS, "counts_keys", "counts_values", "meta"})
#: the largest parsed-day cache file read (a day of the 1,000,000-record cap is about 55 MB);
#: anything larger is a miss, never read
MAX_CACHE_FILE_BYTES: Final = 256 * 2**20
_MAX_REASON_BYTES: Final = 64 * 1024


def save_snapshot(path: str | os.PathLike[str], snap: DaySnapshot, *, sha256: str = "") -> None:
    """Write a snapshot as an uncompressed ``.npz`` atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[np.generic]] = {
        name: np.ascontiguousarray(col, dtype=SNAPSHOT_COLUMNS[name]) for name, col in snap.columns().items()
    }
    keys = sorted(snap.counts)
    arrays["counts_keys"] = np.array(keys, dtype="U64") if keys else np.zeros(0, "U64")
    arrays["counts_values"] = np.array([int(snap.counts[k]) for k in keys], dtype=np.int64)
    src = snap.source
    arrays["meta"] = np.array(
        [
            _FORMAT,
            str(PARSER_VERSION),
            snap.day.isoformat(),
            sha256 or (src.sha256 if src and src.sha256 else ""),
            (src.name or "") if src else "",
        ],
        dtype="U128",
    )
    with atomic_binary(target) as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def load_snapshot(path: str | os.PathLike[str]) -> DaySnapshot:
    """Read a snapshot written by :func:`save_snapshot`; ValueError if it is not one."""
    try:
        if os.stat(path).st_size > MAX_CACHE_FILE_BYTES:
            raise ValueError(f"{path}: larger than any parsed day ({MAX_CACHE_FILE_BYTES:,} bytes)")
        with np.load(path, allow_pickle=False) as z:
            check_npz_members(z.zip, str(path), allowed=_MEMBERS)
            meta = [str(x) for x in z["meta"]]
            if len(meta) != 5 or meta[0] != _FORMAT:
                raise ValueError(f"{path}: not an ipevidence day snapshot")
            cols: dict[str, npt.NDArray[np.generic]] = {}
            n = -1
            for name, dtype in SNAPSHOT_COLUMNS.items():
                col = z[name]
                if col.dtype != dtype or col.ndim != 1 or (n >= 0 and col.shape[0] != n):
                    raise ValueError(f"{path}: column {name} has the wrong type or length")
                n = col.shape[0]
                cols[name] = col
            counts = {
                str(k): int(v)
                for k, v in zip(z["counts_keys"].tolist(), z["counts_values"].tolist(), strict=True)
            }
    except (OSError, KeyError, TypeError, zipfile.BadZipFile, EOFError, MemoryError) as exc:
        raise ValueError(f"{path}: unreadable snapshot ({type(exc).__name__}: {exc})") from None
    try:
        day = dt.date.fromisoformat(meta[2])
    except ValueError:
        raise ValueError(f"{path}: not an ipevidence day snapshot (day {meta[2]!r})") from None
    source = ArchiveDay(day=day, status="ok", name=meta[4] or None, sha256=meta[3] or None)
    return DaySnapshot(day=day, counts=counts, source=source, **cols)  # type: ignore[arg-type]


class ParsedDayCache:
    """A directory of parsed days, ``<sha256>.v<PARSER_VERSION>.npz`` in two-character fan-out
    folders."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"ParsedDayCache({str(self.directory)!r})"

    def path_for(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / f"{sha256}.v{PARSER_VERSION}.npz"

    def get(self, sha256: str, day: dt.date | None = None, name: str | None = None) -> DaySnapshot | None:
        """The cached snapshot of the file with this SHA-256 (re-dated to ``day`` and renamed to
        ``name`` when given), or None."""
        path = self.path_for(sha256)
        try:
            snap = load_snapshot(path)
        except ValueError:
            return None
        if day is None and name is None:
            return snap
        d = day or snap.day
        src = ArchiveDay(
            day=d, status="ok", name=name or (snap.source.name if snap.source else None), sha256=sha256
        )
        return DaySnapshot(day=d, counts=snap.counts, source=src, **snap.columns())  # type: ignore[arg-type]

    def corrupt_path_for(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / f"{sha256}.v{PARSER_VERSION}.corrupt"

    def get_corrupt(self, sha256: str) -> str | None:
        """The recorded reason why the file with this SHA-256 could not be read, or None."""
        try:
            with open(self.corrupt_path_for(sha256), "rb") as fh:
                text = fh.read(_MAX_REASON_BYTES + 1).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if len(text) > _MAX_REASON_BYTES:
            return None  # not a reason this library wrote: a miss
        return text.strip() or None

    def put_corrupt(self, sha256: str, reason: str) -> Path:
        """Remember that a file cannot be read (same content = same verdict), atomically."""
        path = self.corrupt_path_for(sha256)
        atomic_write_text(path, reason.strip() + "\n", make_parents=True)
        return path

    def put(self, sha256: str, snap: DaySnapshot) -> Path:
        path = self.path_for(sha256)
        save_snapshot(path, snap, sha256=sha256)
        return path

    def __contains__(self, sha256: object) -> bool:
        return isinstance(sha256, str) and self.path_for(sha256).is_file()


def usable_cache_dir(cache: ParsedDayCache | None) -> ParsedDayCache | None:
    """``cache`` if its directory can be written (stale temporaries of killed runs removed),
    else None with a :class:`CacheWarning`: the cache is optional and the run goes on."""
    if cache is None:
        return None
    problem = writable_dir(cache.directory)
    if problem is not None:
        warnings.warn(
            f"parsed-day cache {cache.directory} cannot be written ({problem}); going on without it",
            CacheWarning,
            stacklevel=3,
        )
        return None
    clean_stale([cache.directory], recursive=True)
    return cache
