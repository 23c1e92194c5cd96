"""IP-to-ASN tables: which autonomous system announces an address (METHOD.md sections 6 and 11).

* :class:`AsnTable` - sorted, non-overlapping IPv4 (``uint32``) and IPv6 (``S16``) range tables with
  the origin ASN of each range, for vectorised :meth:`AsnTable.lookup`. Two ways in:

  - :meth:`AsnTable.load` reads a pyasn IPASN ``.dat`` (optionally ``.gz``) file and flattens the
    nested prefixes (longest prefix wins);
  - :meth:`AsnTable.load_npz` reads the library's own compact, pickle-free ``.npz`` format (what
    the package ships, see :mod:`ipevidence.netdata`; :meth:`AsnTable.save_npz` writes it
    deterministically), carrying the source's title, date, licence and attribution.

* :class:`AsnNames` - a read-only mapping ASN -> AS organisation name backed by numpy columns.

Both kinds of table answer with the same lookup code. This module also holds the range-table base
shared with :class:`ipevidence.networks.ProviderRanges`. Address columns follow
:mod:`ipevidence.addresses`: IPv4 ``uint32``, IPv6 ``S16``. See docs/networks.md.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import ipaddress
import json
import os
import re
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from ._io import atomic_write_bytes
from ._npzfile import npz_bytes
from ._util import address_column, families_present
from .addresses import IPV4_DTYPE, IPV6_DTYPE, parse_address
from .errors import RangeFileError
from .provenance import sha256_file

__all__ = ["NPZ_FORMAT_VERSION", "AsnNames", "AsnTable"]

#: Version of the ``.npz`` layout written by :meth:`AsnTable.save_npz`.
NPZ_FORMAT_VERSION: Final = 1

# ------------------------------------------------------------------------------ range-table base


def _in_table(
    col: npt.NDArray[Any], starts: npt.NDArray[Any], ends: npt.NDArray[Any]
) -> npt.NDArray[np.int64]:
    """Index of the range containing each value (-1: none); ranges sorted, non-overlapping."""
    if starts.size == 0:
        return np.full(col.shape[0], -1, dtype=np.int64)
    idx = np.searchsorted(starts, col, side="right") - 1
    ok = idx >= 0
    idx = np.where(ok, idx, 0)
    ok &= col <= ends[idx]
    return np.where(ok, idx, -1).astype(np.int64)


def _column(column: npt.ArrayLike) -> tuple[int, npt.NDArray[Any]]:
    """(family, column) of an address column: uint32/int -> 4, S16 -> 6."""
    arr = np.asarray(column)
    if arr.dtype.kind == "S":
        if arr.dtype.itemsize != 16:
            raise ValueError(f"an IPv6 column must be dtype S16, not {arr.dtype}")
        return 6, arr
    if arr.dtype.kind in "ui":
        return 4, arr.astype(IPV4_DTYPE, copy=False)
    raise ValueError(f"an address column must be uint32 (IPv4) or S16 (IPv6), not {arr.dtype}")


class _PrefixTables:
    """What :class:`ProviderRanges` and :class:`AsnTable` share: merged per-family range tables.

    Subclasses (attrs classes) hold ``v4_starts``/``v4_ends`` (uint32), ``v6_starts``/``v6_ends``
    (S16), the prefix counts ``prefixes_v4``/``prefixes_v6`` and a ``describe()`` dictionary.
    """

    __slots__ = ()

    v4_starts: npt.NDArray[np.uint32]
    v4_ends: npt.NDArray[np.uint32]
    v6_starts: npt.NDArray[np.bytes_]
    v6_ends: npt.NDArray[np.bytes_]
    prefixes_v4: int
    prefixes_v6: int

    def _index(self, column: npt.ArrayLike) -> tuple[int, npt.NDArray[np.int64]]:
        """(family, index of the range holding each address or -1) of an address column."""
        fam, col = _column(column)
        if fam == 4:
            return 4, _in_table(col, self.v4_starts, self.v4_ends)
        return 6, _in_table(col, self.v6_starts, self.v6_ends)

    @property
    def families(self) -> frozenset[int]:
        return families_present(self.prefixes_v4, self.prefixes_v6)

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return self.describe()


# ------------------------------------------------------------------------------ pyasn tables

_RIB_DATE = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")


_Net = TypeVar("_Net", ipaddress.IPv4Network, ipaddress.IPv6Network)


def _asn_line(line: str, network: type[_Net]) -> tuple[_Net, int] | None:
    """(network, ASN) of a pyasn ``NETWORK/BITS ASN`` line; None when it does not parse."""
    try:
        net_s, asn_s = line.split()
        net = network(net_s, strict=False)
        asn = int(asn_s)
    except ValueError:
        return None
    return (net, asn) if 0 < asn < 2**32 else None


def _parse_v4_lines(
    lines: list[str],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint32], int]:
    """'a.b.c.d/len ASN' lines -> (network start, prefix length, ASN, rejected count), vectorised;
    duplicates keep the last line (as pyasn does)."""
    if not lines:
        z = np.zeros(0, np.int64)
        return z, z.copy(), np.zeros(0, np.uint32), 0
    tok = "\n".join(lines).replace(".", " ").replace("/", " ")
    try:
        arr = np.array(tok.split(), dtype=np.int64)
        ok_shape = arr.size == 6 * len(lines) and all(len(x.split()) == 2 for x in lines[:100])
    except ValueError:
        ok_shape = False
    if ok_shape:
        rows = arr.reshape(-1, 6)
        good = (
            (rows[:, :4] >= 0).all(axis=1)
            & (rows[:, :4] <= 255).all(axis=1)
            & (rows[:, 4] >= 0)
            & (rows[:, 4] <= 32)
            & (rows[:, 5] > 0)
            & (rows[:, 5] < 2**32)
        )
        rejected = int(np.count_nonzero(~good))
        rows = rows[good]
    else:  # a line that is not 'a.b.c.d/len ASN' somewhere: parse line by line, counting bad ones
        parsed: list[list[int]] = []
        rejected = 0
        for line in lines:
            got4 = _asn_line(line, ipaddress.IPv4Network)
            if got4 is None:
                rejected += 1
                continue
            net, asn = got4
            parsed.append([*net.network_address.packed, net.prefixlen, asn])
        rows = np.asarray(parsed, dtype=np.int64).reshape(-1, 6)
    addr = (rows[:, 0] << 24) | (rows[:, 1] << 16) | (rows[:, 2] << 8) | rows[:, 3]
    plen = rows[:, 4]
    mask = ((np.int64(1) << 32) - 1) ^ ((np.int64(1) << (32 - plen)) - 1)
    start = addr & mask
    key = (start << 6) | plen
    # keep the last occurrence of each prefix (stable sort: the last of a run of equal keys)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    is_last = np.ones(ks.size, dtype=np.bool_)
    is_last[:-1] = ks[1:] != ks[:-1]
    last = np.sort(order[is_last])
    return start[last], plen[last], rows[last, 5].astype(np.uint32), rejected


def _flatten_v4(
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    asn: npt.NDArray[np.uint32],
    plen: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Nested prefixes -> non-overlapping ranges, the longest prefix winning (vectorised)."""
    if starts.size == 0:
        z = np.zeros(0, IPV4_DTYPE)
        return z, z.copy(), z.copy()
    bounds = np.sort(np.concatenate([starts, ends + 1]))
    keep = np.ones(bounds.size, dtype=np.bool_)
    keep[1:] = bounds[1:] != bounds[:-1]
    bounds = bounds[keep]
    m = bounds.size - 1  # elementary intervals [bounds[k], bounds[k+1])
    owner = np.zeros(m, dtype=np.uint32)
    painted = np.zeros(m, dtype=np.bool_)
    for length in np.unique(plen):  # short prefixes first, longer ones paint over them
        sel = np.flatnonzero(plen == length)
        lo = np.searchsorted(bounds, starts[sel])
        hi = np.searchsorted(bounds, ends[sel] + 1)
        cnt = hi - lo
        rep = np.repeat(np.arange(sel.size), cnt)
        pos = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt) + lo[rep]
        owner[pos] = asn[sel][rep]
        painted[pos] = True
    s = bounds[:-1][painted]
    e = bounds[1:][painted] - 1
    a = owner[painted]
    # merge neighbouring intervals of the same ASN
    new = np.ones(s.size, dtype=np.bool_)
    new[1:] = (s[1:] != e[:-1] + 1) | (a[1:] != a[:-1])
    grp_end = np.append(np.flatnonzero(new)[1:] - 1, s.size - 1)
    return s[new].astype(IPV4_DTYPE), e[grp_end].astype(IPV4_DTYPE), a[new]


def _flatten_v6(
    prefixes: list[tuple[int, int, int]],
) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.bytes_], npt.NDArray[np.uint32]]:
    """IPv6 (start, end, asn) nested prefixes -> non-overlapping ranges (stack sweep; IPv6 tables
    are small). Longest prefix wins."""
    out: list[tuple[int, int, int]] = []
    stack: list[tuple[int, int]] = []  # (end, asn) of enclosing prefixes
    pos = 0

    def emit(a: int, b: int, asn: int) -> None:
        if a > b:
            return
        if out and out[-1][2] == asn and out[-1][1] + 1 == a:
            out[-1] = (out[-1][0], b, asn)
        else:
            out.append((a, b, asn))

    for s, e, asn in sorted(prefixes, key=lambda t: (t[0], -t[1])):
        while stack and stack[-1][0] < s:
            end, a = stack.pop()
            emit(pos, end, a)
            pos = max(pos, end + 1)
        if stack:
            emit(pos, s - 1, stack[-1][1])
        pos = s
        stack.append((e, asn))
    while stack:
        end, a = stack.pop()
        emit(pos, end, a)
        pos = max(pos, end + 1)
    st = b"".join(t[0].to_bytes(16, "big") for t in out)
    en = b"".join(t[1].to_bytes(16, "big") for t in out)
    return (
        np.frombuffer(st, IPV6_DTYPE).copy(),
        np.frombuffer(en, IPV6_DTYPE).copy(),
        np.asarray([t[2] for t in out], dtype=np.uint32),
    )


@attrs.frozen(eq=False)
class AsnTable(_PrefixTables):
    """An IP-to-ASN table flattened into sorted, non-overlapping ranges for vectorised lookups.

    From a pyasn IPASN ``.dat`` file (:meth:`load`): ``date`` is the routing table's date, from
    the header's ``Original file`` (``rib.YYYYMMDD``), else the file name pattern
    ``ipasn[6]_YYYYMMDD``, else None; ``date_source`` says which. Duplicate prefixes keep the last
    line (pyasn's own behaviour); AS-set or unreadable lines are counted in ``rejected``.

    From the library's ``.npz`` format (:meth:`load_npz`, what the package ships): the source's
    ``title``, build ``date``, ``licence``, ``attribution``, the ``upstream`` files it was converted
    from (name, SHA-256) and conversion ``notes`` travel inside the file. ``prefixes_v4`` /
    ``prefixes_v6`` count the entries read from the upstream source (prefixes, networks or CSV
    ranges); ``sha256`` is the hash of the file actually loaded.
    """

    name: str
    sha256: str
    date: dt.date | None
    date_source: str
    prefixes_v4: int
    prefixes_v6: int
    rejected: int
    v4_starts: npt.NDArray[np.uint32]
    v4_ends: npt.NDArray[np.uint32]
    v4_asn: npt.NDArray[np.uint32]
    v6_starts: npt.NDArray[np.bytes_]
    v6_ends: npt.NDArray[np.bytes_]
    v6_asn: npt.NDArray[np.uint32]
    names: Mapping[int, str] = attrs.field(factory=dict)
    title: str = ""
    format: str = "pyasn IPASN"
    licence: str | None = None
    attribution: str | None = None
    upstream: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, names: str | os.PathLike[str] | None = None) -> AsnTable:
        """Read a pyasn ``.dat`` or ``.dat.gz`` file (and optionally ``asnames.json[.gz]``)."""
        p = Path(path)
        try:
            raw = p.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise RangeFileError(f"{p}: cannot read the IP-to-ASN file: {exc}") from exc
        text = raw.decode("utf-8", "replace")
        if text.lstrip()[:1] == "<":
            raise RangeFileError(f"{p}: this is an HTML page, not a pyasn IPASN file: download it again")
        header = []
        body: list[str] = []
        for line in text.splitlines():
            if line.startswith(";"):
                header.append(line)
            elif line.strip():
                body.append(line)
        v4_lines = [line for line in body if ":" not in line]
        v6_lines = [line for line in body if ":" in line]
        s4, plen4, a4, rejected = _parse_v4_lines(v4_lines)
        v6_pfx: dict[tuple[int, int], int] = {}
        for line in v6_lines:
            got6 = _asn_line(line, ipaddress.IPv6Network)
            if got6 is None:
                rejected += 1
                continue
            net, asn = got6
            v6_pfx[(int(net.network_address), net.prefixlen)] = asn
        if s4.size == 0 and not v6_pfx:
            raise RangeFileError(f"{p}: no 'NETWORK/BITS ASN' lines: not a pyasn IPASN file")
        e4 = s4 + (np.int64(1) << (32 - plen4)) - 1
        fs4, fe4, fa4 = _flatten_v4(s4, e4, a4, plen4)
        v6 = [(st, st + (1 << (128 - pl)) - 1, a) for (st, pl), a in v6_pfx.items()]
        fs6, fe6, fa6 = _flatten_v6(v6)
        date, source = _asn_file_date(header, p.name)
        table_names: dict[int, str] = {}
        if names is not None:
            table_names = _load_names(Path(names))
        return cls(
            name=p.name,
            sha256=sha256_file(p),
            date=date,
            date_source=source,
            prefixes_v4=int(s4.size),
            prefixes_v6=len(v6_pfx),
            rejected=rejected,
            v4_starts=fs4,
            v4_ends=fe4,
            v4_asn=fa4,
            v6_starts=fs6,
            v6_ends=fe6,
            v6_asn=fa6,
            names=table_names,
        )

    def lookup(self, column: npt.ArrayLike) -> npt.NDArray[np.uint32]:
        """Vectorised origin ASN of each address (uint32; 0 = not announced / unknown)."""
        fam, idx = self._index(column)
        asn = self.v4_asn if fam == 4 else self.v6_asn
        if asn.size == 0:
            return np.zeros(idx.shape[0], dtype=np.uint32)
        return np.where(idx >= 0, asn[np.maximum(idx, 0)], 0).astype(np.uint32)

    def asn(self, address: object) -> int | None:
        """Origin ASN of one address, None when no prefix covers it."""
        return int(self.lookup(address_column(parse_address(address)))[0]) or None

    def as_name(self, asn: int) -> str | None:
        """The AS organisation name the source gives ``asn``, None when it gives none."""
        return self.names.get(int(asn))

    @property
    def label(self) -> str:
        """``"<title or file name> of <date>"``: how a verdict names this table."""
        when = self.date.isoformat() if self.date else "undated"
        return f"{self.title or self.name} of {when}"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "format": self.format,
            "sha256": self.sha256,
            "date": self.date.isoformat() if self.date else None,
            "date_source": self.date_source,
            "licence": self.licence,
            "attribution": self.attribution,
            "upstream": [{"name": n, "sha256": h} for n, h in self.upstream],
            "notes": list(self.notes),
            "prefixes_v4": self.prefixes_v4,
            "prefixes_v6": self.prefixes_v6,
            "rejected": self.rejected,
            "ranges_v4": int(self.v4_starts.size),
            "ranges_v6": int(self.v6_starts.size),
        }

    def __str__(self) -> str:
        when = self.date.isoformat() if self.date else "undated"
        text = (
            f"IP-to-ASN table {self.title + ', ' if self.title else ''}{self.name} ({when}, "
            f"{self.date_source}): {self.prefixes_v4} IPv4 and {self.prefixes_v6} IPv6 "
            f"{'prefixes' if self.format == 'pyasn IPASN' else 'entries'}"
        )
        return text + (f"; licence {self.licence}" if self.licence else "")

    # ---------------------------------------------------------------- the library's npz format

    @classmethod
    def from_ranges(
        cls,
        *,
        name: str,
        date: dt.date | None,
        date_source: str,
        v4: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
        v6: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
        names: Mapping[int, str] | None = None,
        prefixes_v4: int | None = None,
        prefixes_v6: int | None = None,
        rejected: int = 0,
        sha256: str = "",
        title: str = "",
        format: str = "ranges",
        licence: str | None = None,
        attribution: str | None = None,
        upstream: tuple[tuple[str, str], ...] = (),
        notes: tuple[str, ...] = (),
    ) -> AsnTable:
        """Build from (starts, ends, asn) columns per family: sorted, non-overlapping, inclusive
        ranges with ASN > 0 (anything else raises :class:`RangeFileError`)."""
        s4, e4, a4 = (np.asarray(x) for x in v4)
        s6, e6, a6 = (np.asarray(x) for x in v6)
        for label, col in (("IPv4 address", s4), ("IPv4 address", e4), ("ASN", a4), ("ASN", a6)):
            if col.size and col.dtype.kind in "iu" and not (int(col.min()) >= 0 and int(col.max()) < 2**32):
                raise RangeFileError(f"{name}: {label} values outside 0..2^32-1")
        cols4 = (s4.astype(IPV4_DTYPE), e4.astype(IPV4_DTYPE), a4.astype(np.uint32))
        cols6 = (s6.astype(IPV6_DTYPE), e6.astype(IPV6_DTYPE), a6.astype(np.uint32))
        for fam, (s, e, a) in ((4, cols4), (6, cols6)):
            _check_ranges(name, fam, s, e, a)
        return cls(
            name=name,
            sha256=sha256,
            date=date,
            date_source=date_source,
            prefixes_v4=int(s4.size if prefixes_v4 is None else prefixes_v4),
            prefixes_v6=int(s6.size if prefixes_v6 is None else prefixes_v6),
            rejected=rejected,
            v4_starts=cols4[0],
            v4_ends=cols4[1],
            v4_asn=cols4[2],
            v6_starts=cols6[0],
            v6_ends=cols6[1],
            v6_asn=cols6[2],
            names=AsnNames.from_mapping(names or {}),
            title=title,
            format=format,
            licence=licence,
            attribution=attribution,
            upstream=upstream,
            notes=notes,
        )

    def _meta(self) -> dict[str, Any]:
        return {
            "npz_format": NPZ_FORMAT_VERSION,
            "title": self.title,
            "format": self.format,
            "date": self.date.isoformat() if self.date else None,
            "date_source": self.date_source,
            "licence": self.licence,
            "attribution": self.attribution,
            "upstream": [[n, h] for n, h in self.upstream],
            "notes": list(self.notes),
            "prefixes_v4": self.prefixes_v4,
            "prefixes_v6": self.prefixes_v6,
            "rejected": self.rejected,
        }

    def npz_members(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays :meth:`save_npz` writes (plain dtypes, no objects).

        IPv4 starts are stored as differences from the previous range's end (small numbers that
        compress well) and range lengths minus one, both ``uint32``; IPv6 bounds as ``(n, 16)``
        ``uint8``; names as sorted ASNs, UTF-8 bytes and offsets; metadata as UTF-8 JSON bytes.
        """
        s4 = self.v4_starts.astype(np.int64)
        e4 = self.v4_ends.astype(np.int64)
        prev_end = np.concatenate([[-1], e4[:-1]])
        names = AsnNames.from_mapping(self.names)
        meta = json.dumps(self._meta(), sort_keys=True, ensure_ascii=False).encode("utf-8")
        return {
            "v4_gap": (s4 - prev_end - 1).astype(np.uint32),
            "v4_span": (e4 - s4).astype(np.uint32),
            "v4_asn": self.v4_asn.astype(np.uint32),
            "v6_start": np.frombuffer(self.v6_starts.tobytes(), np.uint8).reshape(-1, 16),
            "v6_end": np.frombuffer(self.v6_ends.tobytes(), np.uint8).reshape(-1, 16),
            "v6_asn": self.v6_asn.astype(np.uint32),
            "names_asn": names.asns,
            "names_offsets": names.offsets,
            "names_utf8": np.frombuffer(names.blob, np.uint8),
            "meta": np.frombuffer(meta, np.uint8),
        }

    def npz_bytes(self) -> bytes:
        """The table as a deterministic, compressed, pickle-free ``.npz``: the same table always
        gives the same bytes (fixed zip timestamps, sorted members, deflate level 6)."""
        return npz_bytes(self.npz_members())

    def save_npz(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`npz_bytes` to ``path`` atomically."""
        atomic_write_bytes(path, self.npz_bytes())

    @classmethod
    def load_npz(cls, source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> AsnTable:
        """Read a table written by :meth:`save_npz` (a path or the file's bytes; never pickles).

        A file that is not such a table (missing member, wrong dtype, unsorted or overlapping
        ranges, unknown format version) raises :class:`RangeFileError`.
        """
        if isinstance(source, bytes):
            raw, label = source, name or "<bytes>"
        else:
            p = Path(source)
            label = name or p.name
            try:
                raw = p.read_bytes()
            except OSError as exc:
                raise RangeFileError(f"{p}: cannot read the IP-to-ASN table: {exc.strerror or exc}") from exc
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                m = {k: z[k] for k in z.files}
            meta = json.loads(bytes(m["meta"].astype(np.uint8)).decode("utf-8"))
            s4 = np.cumsum(m["v4_gap"].astype(np.int64) + 1) - 1
            if s4.size:
                s4[1:] += np.cumsum(m["v4_span"].astype(np.int64))[:-1]
            e4 = s4 + m["v4_span"].astype(np.int64)
            if s4.size and int(e4[-1]) > 0xFFFFFFFF:
                raise ValueError("IPv4 ranges beyond 255.255.255.255")
            v6s = np.frombuffer(np.ascontiguousarray(m["v6_start"], np.uint8).tobytes(), IPV6_DTYPE)
            v6e = np.frombuffer(np.ascontiguousarray(m["v6_end"], np.uint8).tobytes(), IPV6_DTYPE)
            names = AsnNames(m["names_asn"], m["names_offsets"], bytes(m["names_utf8"].astype(np.uint8)))
            if int(meta["npz_format"]) != NPZ_FORMAT_VERSION:
                raise ValueError(f"npz format {meta['npz_format']}, this library reads {NPZ_FORMAT_VERSION}")
            date = dt.date.fromisoformat(meta["date"]) if meta.get("date") else None
            return cls.from_ranges(
                name=label,
                date=date,
                date_source=str(meta["date_source"]),
                v4=(s4, e4, m["v4_asn"]),
                v6=(v6s, v6e, m["v6_asn"]),
                names=names,
                prefixes_v4=int(meta["prefixes_v4"]),
                prefixes_v6=int(meta["prefixes_v6"]),
                rejected=int(meta["rejected"]),
                sha256=hashlib.sha256(raw).hexdigest(),
                title=str(meta["title"]),
                format=str(meta["format"]),
                licence=meta.get("licence"),
                attribution=meta.get("attribution"),
                upstream=tuple((str(n), str(h)) for n, h in meta.get("upstream", [])),
                notes=tuple(str(x) for x in meta.get("notes", [])),
            )
        except RangeFileError:
            raise
        except (OSError, EOFError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
            raise RangeFileError(f"{label}: not an ipevidence IP-to-ASN table ({exc})") from exc


def _check_ranges(
    name: str, fam: int, s: npt.NDArray[Any], e: npt.NDArray[Any], a: npt.NDArray[np.uint32]
) -> None:
    if not (s.ndim == e.ndim == a.ndim == 1 and s.size == e.size == a.size):
        raise RangeFileError(f"{name}: IPv{fam} columns of different lengths")
    if s.size and not ((s <= e).all() and (s[1:] > e[:-1]).all()):
        raise RangeFileError(f"{name}: IPv{fam} ranges are not sorted and non-overlapping")
    if a.size and not (a > 0).all():
        raise RangeFileError(f"{name}: IPv{fam} ranges with ASN 0")


class AsnNames(Mapping[int, str]):
    """Read-only mapping ASN -> AS organisation name held as numpy columns: sorted ``uint32``
    ASNs, ``uint64`` offsets into one UTF-8 byte string (``offsets[i]:offsets[i+1]`` is the name
    of ``asns[i]``). Names are decoded on access, so loading is cheap."""

    __slots__ = ("asns", "blob", "offsets")

    def __init__(self, asns: npt.ArrayLike, offsets: npt.ArrayLike, blob: bytes) -> None:
        self.asns = np.asarray(asns, dtype=np.uint32)
        self.offsets = np.asarray(offsets, dtype=np.uint64)
        self.blob = bytes(blob)
        if self.offsets.shape != (self.asns.size + 1,) or (
            self.asns.size
            and not (
                (np.diff(self.asns.astype(np.int64)) > 0).all()
                and (np.diff(self.offsets.astype(np.int64)) >= 0).all()
                and int(self.offsets[0]) == 0
                and int(self.offsets[-1]) == len(self.blob)
            )
        ):
            raise ValueError("AS names: ASNs not strictly increasing or offsets inconsistent")

    @classmethod
    def from_mapping(cls, names: Mapping[int, str]) -> AsnNames:
        if isinstance(names, AsnNames):
            return names
        keys = sorted(int(k) for k in names)
        encoded = [str(names[k]).encode("utf-8") for k in keys]
        offsets = np.zeros(len(keys) + 1, dtype=np.uint64)
        offsets[1:] = np.cumsum([len(b) for b in encoded], dtype=np.uint64)
        return cls(np.asarray(keys, dtype=np.uint32), offsets, b"".join(encoded))

    def _pos(self, key: object) -> int:
        if not isinstance(key, (int, np.integer)) or isinstance(key, bool) or not 0 <= int(key) < 2**32:
            return -1
        i = int(np.searchsorted(self.asns, np.uint32(int(key))))
        return i if i < self.asns.size and int(self.asns[i]) == int(key) else -1

    def __getitem__(self, key: int) -> str:
        i = self._pos(key)
        if i < 0:
            raise KeyError(key)
        return self.blob[int(self.offsets[i]) : int(self.offsets[i + 1])].decode("utf-8")

    def __contains__(self, key: object) -> bool:
        return self._pos(key) >= 0

    def __iter__(self) -> Iterator[int]:
        return iter(int(a) for a in self.asns.tolist())

    def __len__(self) -> int:
        return int(self.asns.size)


def _asn_file_date(header: list[str], name: str) -> tuple[dt.date | None, str]:
    for line in header:
        if "original file" in line.lower():
            m = _RIB_DATE.search(line.split(":", 1)[-1])
            if m:
                try:
                    return dt.date(int(m[1]), int(m[2]), int(m[3])), "header 'Original file' (RIB date)"
                except ValueError:
                    pass
    m = re.search(r"ipasn6?_(\d{4})(\d{2})(\d{2})", name)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])), "file name ipasn_YYYYMMDD"
        except ValueError:
            pass
    return None, "none (no RIB date in the header or the file name)"


def _load_names(path: Path) -> dict[int, str]:
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = json.loads(raw.decode("utf-8"))
        return {int(k): str(v) for k, v in data.items()}
    except (OSError, EOFError, ValueError, AttributeError) as exc:
        raise RangeFileError(f"{path}: not an AS names JSON file ({exc})") from exc
