"""Files the library keeps only to go faster (parsed days, flattened mmdb tables, decompressed
databases, downloaded archive days): checked before they are trusted, skipped when they cannot be
written, and their interrupted temporaries removed on a later run.

* :func:`check_npz`: an ``.npz`` cache file is read only after its members were checked without
  reading them: known names only, stored (not compressed), no object dtype, and each member's
  declared shape and dtype account for exactly its stored size, so a file that declares an 8 TiB
  array is refused instead of allocated (numpy allocates the declared shape before reading);
* :func:`writable_dir`: whether a cache directory can be used (created if needed, a file can be
  made in it), so a read-only cache costs one warning and the run goes on without it;
* :func:`clean_stale`: removes the hidden temporary files (``.<name>.<8 random characters>
  <suffix>``, as :mod:`ipevidence._io` makes them) that a killed process left behind, once they
  are older than a writer can still be busy with them.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import tempfile
import time
import zipfile
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Final

import numpy as np

__all__ = ["STALE_AFTER", "CacheWarning", "check_npz", "check_npz_members", "clean_stale", "writable_dir"]

#: a temporary file untouched for this long belongs to no live writer (seconds)
STALE_AFTER: Final = 3600.0

_TEMP_RE: Final = re.compile(r"^\..+\.[A-Za-z0-9_]{8}(\.part|\.tmp|\.npz)$")


class CacheWarning(UserWarning):
    """A cache could not be used (read-only, full, not a directory); the run goes on without it."""


def check_npz(path: str | os.PathLike[str], *, allowed: Collection[str], max_bytes: int) -> None:
    """Raise ValueError unless ``path`` is an ``.npz`` whose members can be loaded within their
    stored size: at most ``max_bytes`` on disk, members named in ``allowed`` (``.npy`` added),
    stored uncompressed, plain dtypes, and header + declared shape x itemsize = stored size."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise ValueError(f"{p.name}: {size:,} bytes, more than a cache file of this kind can be")
        with zipfile.ZipFile(p) as zf:
            check_npz_members(zf, p.name, allowed=allowed)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{p.name}: unreadable cache file ({exc})") from None


#: the header numpy writes for a plain array: ``{'descr': '<i4', 'fortran_order': False,
#: 'shape': (5,), }`` padded with blanks; anything else is not a file this library wrote
_NPY_HEADER_RE: Final = re.compile(
    rb"\{'descr': '([<>|=][A-Za-z][0-9]{0,4})', 'fortran_order': False, "
    rb"'shape': \(((?:[0-9]{1,19}, ?)*[0-9]{0,19})\), \} *\n"
)
_ZIP_LOCAL: Final = struct.Struct("<IHHHHHIIIHH")  # a zip member's local file header


def check_npz_members(zf: zipfile.ZipFile, name: str, *, allowed: Collection[str]) -> None:
    """The member checks of :func:`check_npz` on an open zip (``np.load(...).zip``), so a
    caller that loads the file anyway opens it once. Each member's ``.npy`` header is read
    straight from the file (members are stored, so it lies right after the local zip header)
    and must be numpy's plain form; its shape x itemsize + header must be the member's size."""
    fp = zf.fp
    if fp is None:
        raise ValueError(f"{name}: cache file is closed")
    try:
        for info in zf.infolist():
            member = info.filename.removesuffix(".npy")
            if member not in allowed or not info.filename.endswith(".npy"):
                raise ValueError(f"{name}: unexpected member {info.filename!r}")
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{name}: member {member!r} is compressed")
            fp.seek(info.header_offset)
            local = _ZIP_LOCAL.unpack(fp.read(_ZIP_LOCAL.size))
            if local[0] != 0x04034B50:
                raise ValueError(f"{name}: member {member!r} has no local zip header")
            fp.seek(info.header_offset + _ZIP_LOCAL.size + local[9] + local[10])
            head = fp.read(10)
            if head[:8] != b"\x93NUMPY\x01\x00":
                raise ValueError(f"{name}: member {member!r} is not an npy 1.0 array")
            size = 10 + int.from_bytes(head[8:10], "little")
            m = _NPY_HEADER_RE.fullmatch(fp.read(size - 10))
            if m is None:
                raise ValueError(f"{name}: member {member!r} has an unusual npy header")
            dtype = np.dtype(m.group(1).decode("ascii"))
            if dtype.hasobject:
                raise ValueError(f"{name}: member {member!r} holds Python objects")
            count = 1
            for n in (int(x) for x in m.group(2).split(b",") if x.strip()):
                count *= n
            if size + count * dtype.itemsize != info.file_size:
                raise ValueError(
                    f"{name}: member {member!r} declares {count:,} values of {dtype}, which its "
                    f"{info.file_size:,} stored bytes do not hold"
                )
    except (OSError, struct.error, TypeError) as exc:
        raise ValueError(f"{name}: unreadable cache file ({exc})") from None


def writable_dir(directory: str | os.PathLike[str]) -> str | None:
    """None when ``directory`` exists (or can be made) and a file can be created in it, else the
    reason it cannot be used."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=d)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return None


def clean_stale(
    directories: Iterable[str | os.PathLike[str]], *, recursive: bool = False, older_than: float = STALE_AFTER
) -> int:
    """Remove the library's temporary files (``.<name>.<random 8><.part|.tmp|.npz>``) not modified
    for ``older_than`` seconds under ``directories``; returns how many were removed. Anything
    else, and every error, is left alone."""
    removed = 0
    now = time.time()
    for directory in directories:
        d = Path(directory)
        try:
            candidates = d.rglob(".*") if recursive else d.glob(".*")
            for path in candidates:
                if not _TEMP_RE.match(path.name):
                    continue
                with contextlib.suppress(OSError):
                    st = path.lstat()
                    if path.is_file() and not path.is_symlink() and now - st.st_mtime > older_than:
                        path.unlink()
                        removed += 1
        except OSError:
            continue
    return removed
