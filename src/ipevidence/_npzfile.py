"""Deterministic, pickle-free npz files for the small tables the package ships and caches.

:func:`write_npz` writes sorted members with fixed zip timestamps, deflated (the small shipped
tables, through :func:`npz_bytes`) or stored and streamed (ground-truth files), so the same arrays
always give the same bytes (a SHA-256 in a manifest can name them); :func:`read_npz` reads one back
from bytes, refusing pickles and members other than the expected ones.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection, Mapping
from typing import IO, Any

import numpy as np
import numpy.typing as npt

__all__ = ["npz_bytes", "read_npz", "write_npz"]


def write_npz(out: IO[bytes], members: Mapping[str, npt.NDArray[Any]], *, compress: bool) -> None:
    """``members`` as a deterministic, pickle-free ``.npz`` into the binary file ``out``: sorted
    members with fixed zip timestamps; ``compress`` True deflates each member at level 6 (small
    shipped tables), False stores them and streams each array (ground truths: coordinates barely
    compress and deflate costs seconds)."""
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for key in sorted(members):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            array = np.ascontiguousarray(members[key])
            if compress:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, array, allow_pickle=False)
                zf.writestr(info, buf.getvalue(), compresslevel=6)
            else:
                with zf.open(info, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, array, allow_pickle=False)


def npz_bytes(members: Mapping[str, npt.NDArray[Any]]) -> bytes:
    """``members`` as a deterministic, compressed, pickle-free ``.npz`` (:func:`write_npz`)."""
    out = io.BytesIO()
    write_npz(out, members, compress=True)
    return out.getvalue()


def read_npz(raw: bytes, expected: Collection[str]) -> dict[str, npt.NDArray[Any]]:
    """The members of an npz written by :func:`npz_bytes` (never pickles). ValueError when a
    member is missing or unexpected; zipfile/numpy errors pass through for the caller to name."""
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        names = set(z.files)
        if names != set(expected):
            missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
            raise ValueError(f"members missing {missing}, unexpected {extra}")
        return {k: z[k] for k in z.files}
