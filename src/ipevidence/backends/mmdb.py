"""MaxMind DB (``.mmdb``) databases: GeoIP2/GeoLite2 Country and City, DB-IP, IPinfo, ...

The file is memory-mapped read-only, its metadata read with the official ``maxminddb`` package
(which validates node count, record size and ip_version), and flattened ONCE into numpy range
tables by reading the binary search tree directly (https://maxmind.github.io/MaxMind-DB/):

1. the tree is walked breadth first, one numpy step per tree level: the frontier's node ids and
   network starts (two uint64 halves, so 128-bit IPv6 works) give the left and right records,
   gathered from the mapped file for those nodes only (24, 28 or 32-bit records). A record equal
   to ``node_count`` is empty, above it a data pointer, below it a node. In an IPv6 tree the IPv4
   subtree (the node reached by 96 zero bits) is walked once as the IPv4 table; every other path
   to it (``::ffff:0:0/96``, ``2002::/16``) is recorded as an alias, so an IPv6 lookup of such an
   address gives what a per-address lookup gives;
2. each distinct data pointer is decoded ONCE, when first reached, with ``maxminddb``'s own
   :class:`Decoder`; its country is taken from ``country.iso_code`` (or
   ``registered_country.iso_code``), or, for IPinfo-style files, from a flat ``country`` (or
   ``country_code``) string; pointers are mapped to country indexes with ``np.unique`` and
   ``searchsorted``;
3. the frontier is kept in address order and, when wide, walked as consecutive slices, each
   slice's networks sorted and joined (adjacent networks of one country) and appended, so the
   tables come out in address order with about one slice of networks in flight (the first open
   of the 7.4 MB DB-IP Lite file peaks at about 1.9x the file size, see docs/performance.md).

The flattened tables can be cached on disk as ``.npz`` (plain arrays, never pickles) keyed by the
file's SHA-256 and the country field, so a later open is a single ``np.load``.

A broken file (bad metadata, a record pointing outside the data section, an invalid data record
such as the official ``GeoIP2-City-Test-Broken-Double-Format.mmdb``, a cyclic or too-deep tree)
raises :class:`~ipevidence.errors.DatabaseFormatError` while opening, never later and never a
hang: the walk is bounded by the address length and by a budget on the number of visited nodes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import mmap
import os
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, cast

import maxminddb
import numpy as np
import numpy.typing as npt
from maxminddb.decoder import Decoder

from .._cachefiles import CacheWarning, check_npz, clean_stale
from .._io import atomic_binary
from ..addresses import IPV4_DTYPE, IPV6_DTYPE
from ..countries import COUNTRY_DTYPE
from ..errors import DatabaseFormatError
from ..provenance import DatabaseInfo, sha256_file
from .ranges import FamilyRanges, RangeTable, TableBackend, clean_countries

__all__ = ["CountryField", "MMDBBackend", "country_of_record"]

CountryField = Literal["country", "registered_country"]
_MARKER: Final = b"\xab\xcd\xefMaxMind.com"
_CACHE_VERSION: Final = 2
_FLAT_MEMBERS: Final = frozenset(
    {
        *(f"v{fam}_{col}" for fam in (4, 6) for col in ("starts", "ends", "countries")),
        "alias_hi",
        "alias_lo",
        "alias_len",
        "networks",
        "bad_codes",
        "bad_counts",
    }
)
#: the largest flattened-table cache file read (the largest country mmdb flattens to ~100 MB)
_MAX_FLAT_BYTES: Final = 1 << 30
_U64: Final = np.uint64
_Col64 = npt.NDArray[np.uint64]
_Col32 = npt.NDArray[np.uint32]


def country_of_record(record: Any, field: CountryField = "country") -> str | None:
    """The country code a decoded mmdb record gives (raw vendor code, not yet validated).

    ``{"country": {"iso_code": "DE"}}`` (GeoIP2, GeoLite2, DB-IP) gives ``"DE"``; an IPinfo-style
    flat ``{"country": "DE"}`` or ``{"country_code": "DE"}`` too. ``field="registered_country"``
    reads ``registered_country.iso_code`` only (a record without it is not located).
    """
    if not isinstance(record, Mapping):
        return None
    value = record.get(field)
    if isinstance(value, Mapping):
        code = value.get("iso_code")
        return code if isinstance(code, str) else None
    if field == "country":
        if isinstance(value, str) and len(value.strip()) == 2:
            return value
        flat = record.get("country_code")
        if isinstance(flat, str):
            return flat
    return None


class _Source:
    """Hands maxminddb's MODE_FD reader the buffer already open (bytes or a read-only mmap), without
    another copy."""

    def __init__(self, data: bytes | mmap.mmap, name: str) -> None:
        self._data = data
        self.name = name

    def read(self) -> bytes | mmap.mmap:
        return self._data


class _Tree:
    """The search tree as a read-only ``(node_count, bytes per node)`` uint8 view of the file; the
    records of a batch of nodes are gathered and decoded per tree level (never the whole tree)."""

    def __init__(self, raw: npt.NDArray[np.uint8], node_count: int, record_size: int) -> None:
        self.node_count = node_count
        self.record_size = record_size
        width = record_size // 4  # bytes per node: 6, 7 or 8
        self._rows = raw[: node_count * width].reshape(node_count, width)

    def children(self, nodes: npt.NDArray[np.uint32]) -> tuple[_Col32, _Col32]:
        """Left and right records of ``nodes`` (all < node_count)."""
        b = self._rows[nodes]
        if self.record_size == 32:
            w = b.view(">u4")
            return w[:, 0].astype(np.uint32), w[:, 1].astype(np.uint32)
        u32 = np.uint32
        left = (b[:, 0].astype(u32) << u32(16)) | (b[:, 1].astype(u32) << u32(8)) | b[:, 2]
        if self.record_size == 24:
            right = (b[:, 3].astype(u32) << u32(16)) | (b[:, 4].astype(u32) << u32(8)) | b[:, 5]
        else:  # 28 bits: the middle byte holds the high nibbles of both records
            left |= (b[:, 3].astype(u32) >> u32(4)) << u32(24)
            right = (
                ((b[:, 3].astype(u32) & u32(0x0F)) << u32(24))
                | (b[:, 4].astype(u32) << u32(16))
                | (b[:, 5].astype(u32) << u32(8))
                | b[:, 6]
            )
        return left.astype(np.uint32), right.astype(np.uint32)

    def left(self, node: int) -> int:
        return int(self.children(np.array([node], dtype=np.uint32))[0][0])


class _Codes:
    """The data records the tree points to, each decoded ONCE: pointer -> raw vendor code ->
    country index (0 = not located; :attr:`countries` maps an index to its ``S2`` code)."""

    def __init__(
        self,
        buffer: bytes | mmap.mmap,
        *,
        node_count: int,
        tree_size: int,
        data_size: int,
        field: CountryField,
        name: str,
    ) -> None:
        self._decoder = Decoder(buffer, tree_size + 16)
        self._nc = node_count
        self._tree_size = tree_size
        self._limit = node_count + 16 + data_size  # first record value past the data section
        self._field: CountryField = field
        self._name = name
        self._ptrs = np.zeros(0, dtype=np.uint32)  # decoded pointers, sorted
        self._ptr_raw = np.zeros(0, dtype=np.intp)  # their raw code index
        #: distinct raw vendor codes (b"" when a record has none), in order of first decoding
        self.raw: list[bytes] = []
        self._raw_index: dict[bytes, int] = {}
        self._raw_cid = np.zeros(0, dtype=np.uint16)  # country index per raw code
        #: data networks per raw code (over every walk)
        self.raw_count = np.zeros(0, dtype=np.int64)
        #: country index -> code; index 0 is not located
        self.countries: list[bytes] = [b""]
        self._cid: dict[bytes, int] = {b"": 0}
        #: data networks seen (over every walk)
        self.networks = 0

    def classify(self, values: _Col32) -> npt.NDArray[np.uint16]:
        """Country index of each data record value (all > node_count), decoding new ones."""
        self.networks += len(values)
        if int(values.min()) < self._nc + 16 or int(values.max()) >= self._limit:
            raise DatabaseFormatError(f"{self._name}: a search tree record points outside the data section")
        uniq = np.unique(values)
        pos = np.searchsorted(self._ptrs, uniq)
        known = pos < len(self._ptrs)
        known[known] = self._ptrs[pos[known]] == uniq[known]
        if not known.all():
            new = uniq[~known]
            new_raw = np.array([self._decode(v) for v in new.tolist()], dtype=np.intp)
            ptrs = np.concatenate([self._ptrs, new])
            order = np.argsort(ptrs, kind="stable")
            self._ptrs, self._ptr_raw = ptrs[order], np.concatenate([self._ptr_raw, new_raw])[order]
        raw = self._ptr_raw[np.searchsorted(self._ptrs, values)]
        self.raw_count += np.bincount(raw, minlength=len(self.raw))
        res: npt.NDArray[np.uint16] = self._raw_cid[raw]
        return res

    def _decode(self, value: int) -> int:
        offset = value - self._nc + self._tree_size
        try:
            record, _ = self._decoder.decode(offset)
        except (maxminddb.InvalidDatabaseError, ValueError, IndexError, TypeError, RecursionError) as exc:
            raise DatabaseFormatError(
                f"{self._name}: invalid data record at offset {offset}: {exc}"
            ) from None
        code = (country_of_record(record, self._field) or "").encode("ascii", "replace")
        idx = self._raw_index.get(code)
        if idx is None:
            idx = self._raw_index[code] = len(self.raw)
            self.raw.append(code)
            clean, _ = clean_countries(np.array([code], dtype="S8"))
            country = bytes(clean[0])
            cid = self._cid.setdefault(country, len(self.countries))
            if cid == len(self.countries):
                self.countries.append(country)
            self._raw_cid = np.append(self._raw_cid, np.uint16(cid))
            self.raw_count = np.append(self.raw_count, np.int64(0))
        return idx

    def nonstandard(self) -> dict[str, int]:
        """Networks per raw code that is not a country (``"ZZ"``, ``"EU"``, ``"<missing>"``)."""
        bad: dict[str, int] = {}
        for i in np.flatnonzero((self._raw_cid == 0) & (self.raw_count > 0)).tolist():
            key = self.raw[i].decode("ascii", "replace").strip().upper() or "<missing>"
            bad[key] = bad.get(key, 0) + int(self.raw_count[i])
        return dict(sorted(bad.items()))


# entries of one walk step are (start hi, start lo, prefix length, country index), sorted by start
_Entries = tuple[_Col64, _Col64, npt.NDArray[np.uint8], npt.NDArray[np.uint16]]
_SPLIT_NODES: Final = 1 << 14  # a frontier wider than this is walked as _GROUPS separate slices
_SPLIT_ENTRIES: Final = 1 << 14  # ... and so is one that has collected more networks than this
_GROUPS: Final = 4


class _Walker:
    """Breadth-first walk of one address family's tree, one numpy step per tree level.

    The frontier (node ids and their network starts as two uint64 halves) is kept in address
    order, so the networks found at one level are sorted. To bound memory, a frontier that grows
    wide (or has gathered many networks) is cut into a few consecutive slices that are walked one
    after the other; the networks already found are handed to the slice whose address span holds
    them. Each finished slice is sorted, its adjacent networks of one country joined, and appended:
    the output is produced in address order, with no sort over the whole table.

    A malformed tree cannot loop: the depth is bounded by the address length, node ids are
    bounded by node_count (anything else is a record), data pointers are checked against the data
    section, and the number of visited nodes is bounded by ``budget``.
    """

    def __init__(self, tree: _Tree, codes: _Codes, bits: int, alias: int, budget: int, name: str) -> None:
        self.tree = tree
        self.codes = codes
        self.bits = bits
        self.alias = alias  # the IPv4 subtree's node in an IPv6 tree (not descended), or -1
        self.budget = budget
        self.name = name
        self.visited = 0
        self.alias_parts: list[tuple[_Col64, _Col64, int]] = []
        # output: sorted, joined ranges per finished slice (low halves uint32 for IPv4)
        self._s_hi: list[_Col64] = []
        self._s_lo: list[npt.NDArray[Any]] = []
        self._e_hi: list[_Col64] = []
        self._e_lo: list[npt.NDArray[Any]] = []
        self._cid: list[npt.NDArray[np.uint16]] = []

    def run(self, root: int) -> FamilyRanges:
        nc = self.tree.node_count
        zero = np.zeros(1, dtype=_U64)
        if root < nc:
            self._part(np.array([root], dtype=np.uint32), zero, zero, 0, None)
        elif root > nc:  # the whole address space is one record
            cid = self.codes.classify(np.array([root], dtype=np.uint32))
            if cid[0]:
                self._emit((zero, zero, np.zeros(1, dtype=np.uint8), cid))
        return self._finish()

    def _part(self, nodes: _Col32, hi: _Col64, lo: _Col64, depth: int, carried: _Entries | None) -> None:
        """Walk the subtrees of ``nodes`` (consecutive, at ``depth``) to the bottom; ``carried``
        are networks found earlier that lie in this slice's address span."""
        bits = self.bits
        parts: list[_Entries] = [carried] if carried is not None and len(carried[0]) else []
        found = len(carried[0]) if carried is not None else 0
        carried = None  # (held by parts only: a split frees it)
        stepped = False
        while len(nodes):
            if depth >= bits:
                raise DatabaseFormatError(f"{self.name}: mmdb search tree is deeper than the address length")
            if stepped and len(nodes) >= 2 and (len(nodes) > _SPLIT_NODES or found > _SPLIT_ENTRIES):
                self._split(nodes, hi, lo, depth, parts)
                return
            self.visited += len(nodes)
            if self.visited > self.budget:
                raise DatabaseFormatError(
                    f"{self.name}: mmdb search tree visits more nodes than it holds (a cycle?)"
                )
            nodes, hi, lo, level = self._step(nodes, hi, lo, depth)
            depth += 1
            if level is not None:
                parts.append(level)
                found += len(level[0])
                level = None
            stepped = True
        self._emit(self._sorted(parts))

    def _step(
        self, nodes: _Col32, hi: _Col64, lo: _Col64, depth: int
    ) -> tuple[_Col32, _Col64, _Col64, _Entries | None]:
        """One tree level: the inner children (next frontier, in address order) and the data
        networks found at ``depth + 1`` (its temporaries die here, not in a caller's frame)."""
        nc = self.tree.node_count
        left, right = self.tree.children(nodes)
        child = np.empty(2 * len(nodes), dtype=np.uint32)
        child[0::2], child[1::2] = left, right
        del left, right
        c_hi, c_lo = np.repeat(hi, 2), np.repeat(lo, 2)
        pos = self.bits - 1 - depth  # bit position of this level's choice
        if pos >= 64:
            c_hi[1::2] |= _U64(1 << (pos - 64))
        else:
            c_lo[1::2] |= _U64(1 << pos)
        level: _Entries | None = None
        is_data = child > nc
        if is_data.any():
            cid = self.codes.classify(child[is_data])
            located = cid != 0
            sel = np.flatnonzero(is_data)[located]
            if len(sel):
                level = (c_hi[sel], c_lo[sel], np.full(len(sel), depth + 1, np.uint8), cid[located])
        inner = child < nc
        if self.alias >= 0:
            is_alias = child == self.alias
            if is_alias.any():
                self.alias_parts.append((c_hi[is_alias], c_lo[is_alias], depth + 1))
                inner &= ~is_alias
        return child[inner], c_hi[inner], c_lo[inner], level

    def _split(self, nodes: _Col32, hi: _Col64, lo: _Col64, depth: int, parts: list[_Entries]) -> None:
        entries = self._sorted(parts)
        parts.clear()
        cuts = np.unique(np.linspace(0, len(nodes), _GROUPS + 1).astype(np.intp)).tolist()
        firsts = np.array(cuts[1:-1], dtype=np.intp)
        at = np.searchsorted(self._key(entries[0], entries[1]), self._key(hi[firsts], lo[firsts]))
        bounds = [0, *at.tolist(), len(entries[0])]
        pieces: list[_Entries | None] = [
            (
                entries[0][a:b].copy(),
                entries[1][a:b].copy(),
                entries[2][a:b].copy(),
                entries[3][a:b].copy(),
            )
            for a, b in itertools.pairwise(bounds)
        ]
        del entries
        for g, (a, b) in enumerate(itertools.pairwise(cuts)):
            piece, pieces[g] = pieces[g], None
            self._part(nodes[a:b], hi[a:b], lo[a:b], depth, piece)

    def _key(self, hi: _Col64, lo: _Col64) -> npt.NDArray[Any]:
        return lo if self.bits == 32 else _to_s16(hi, lo)

    def _sorted(self, parts: list[_Entries]) -> _Entries:
        if not parts:
            z = np.zeros(0, dtype=_U64)
            return z, z, np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint16)
        hi = np.concatenate([p[0] for p in parts])
        lo = np.concatenate([p[1] for p in parts])
        plen = np.concatenate([p[2] for p in parts])
        cid = np.concatenate([p[3] for p in parts])
        if len(parts) == 1:
            return hi, lo, plen, cid  # one level of one slice, or one carried piece: sorted already
        order = np.argsort(lo, kind="stable") if self.bits == 32 else np.lexsort((lo, hi))
        return hi[order], lo[order], plen[order], cid[order]

    def _emit(self, entries: _Entries) -> None:
        """Append a slice's sorted networks as joined ranges (joined to the previous slice too)."""
        if not len(entries[0]):
            return
        s_hi, s_lo, plen, cid = entries
        e_hi, e_lo = _ends(s_hi, s_lo, plen, self.bits)
        s_hi, s_lo, e_hi, e_lo, cid = _join(s_hi, s_lo, e_hi, e_lo, cid)
        if self._cid:
            p_hi, p_lo = int(self._e_hi[-1][-1]), int(self._e_lo[-1][-1])
            nxt = (p_hi << 64 | p_lo) + 1
            if nxt == (int(s_hi[0]) << 64 | int(s_lo[0])) and int(self._cid[-1][-1]) == int(cid[0]):
                self._e_hi[-1][-1], self._e_lo[-1][-1] = e_hi[0], e_lo[0]
                s_hi, s_lo, e_hi, e_lo, cid = s_hi[1:], s_lo[1:], e_hi[1:], e_lo[1:], cid[1:]
                if not len(cid):
                    return
        if self.bits == 32:  # the high halves are all zero: keep the low halves, as uint32
            self._s_hi.append(np.zeros(0, dtype=_U64))
            self._s_lo.append(s_lo.astype(IPV4_DTYPE))
            self._e_hi.append(np.zeros(1, dtype=_U64))
            self._e_lo.append(e_lo.astype(IPV4_DTYPE))
        else:
            self._s_hi.append(s_hi)
            self._s_lo.append(s_lo)
            self._e_hi.append(e_hi)
            self._e_lo.append(e_lo)
        self._cid.append(cid)

    def _finish(self) -> FamilyRanges:
        n = sum(len(c) for c in self._cid)
        countries = np.array(self.codes.countries, dtype=COUNTRY_DTYPE)[
            np.concatenate(self._cid) if self._cid else np.zeros(0, dtype=np.intp)
        ]
        self._cid.clear()
        if self.bits == 32:
            starts = np.concatenate([*self._s_lo, np.zeros(0, IPV4_DTYPE)])
            self._s_lo.clear()
            ends = np.concatenate([*self._e_lo, np.zeros(0, IPV4_DTYPE)])
            self._e_lo.clear()
            return FamilyRanges(4, starts, ends, countries, validate=False)
        cols = []
        for his, los in ((self._s_hi, self._s_lo), (self._e_hi, self._e_lo)):
            out = np.empty((n, 2), dtype=">u8")
            i = 0
            while his:
                h, lw = his.pop(0), los.pop(0)
                out[i : i + len(lw), 0], out[i : i + len(lw), 1] = h, lw
                i += len(lw)
            cols.append(out.reshape(-1).view(IPV6_DTYPE))
        return FamilyRanges(6, cols[0], cols[1], countries, validate=False)

    def aliases(self) -> tuple[_Col64, _Col64, npt.NDArray[np.uint8]]:
        if not self.alias_parts:
            z = np.zeros(0, dtype=_U64)
            return z, z, np.zeros(0, dtype=np.uint8)
        return (
            np.concatenate([p[0] for p in self.alias_parts]),
            np.concatenate([p[1] for p in self.alias_parts]),
            np.concatenate([np.full(len(p[0]), p[2], np.uint8) for p in self.alias_parts]),
        )


def _ends(
    hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64], plen: npt.NDArray[np.uint8], bits: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Last address of each prefix (start halves, prefix length) in a ``bits``-wide space."""
    host = bits - plen.astype(np.int64)
    ones = _U64(0xFFFFFFFFFFFFFFFF)
    lo_mask = np.where(host >= 64, ones, (_U64(1) << np.minimum(host, 63).astype(_U64)) - _U64(1))
    hi_host = np.clip(host - 64, 0, 63).astype(_U64)
    hi_mask = np.where(host >= 128, ones, np.where(host > 64, (_U64(1) << hi_host) - _U64(1), _U64(0)))
    return hi | hi_mask, lo | lo_mask


def _prefix_bits(
    hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64], start: int
) -> npt.NDArray[np.uint32]:
    """Bits ``start .. start+31`` (from the top) of 128-bit values: an embedded IPv4 address."""
    if start == 0:
        top = hi
    elif start < 64:
        top = (hi << _U64(start)) | (lo >> _U64(64 - start))
    else:
        top = lo << _U64(start - 64)
    res: npt.NDArray[np.uint32] = (top >> _U64(32)).astype(np.uint32)
    return res


def _in_prefix(
    hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64], p_hi: int, p_lo: int, plen: int
) -> npt.NDArray[np.bool_]:
    if plen == 0:
        return np.ones(len(hi), np.bool_)
    if plen <= 64:
        shift = _U64(64 - plen)
        return np.asarray((hi >> shift) == (_U64(p_hi) >> shift), dtype=np.bool_)
    shift = _U64(128 - plen)
    return np.asarray((hi == _U64(p_hi)) & ((lo >> shift) == (_U64(p_lo) >> shift)), dtype=np.bool_)


def _to_s16(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]) -> npt.NDArray[np.bytes_]:
    out = np.empty((len(hi), 2), dtype=">u8")
    out[:, 0], out[:, 1] = hi, lo
    res: npt.NDArray[np.bytes_] = out.reshape(-1).view(IPV6_DTYPE)
    return res


def _join(
    s_hi: _Col64, s_lo: _Col64, e_hi: _Col64, e_lo: _Col64, cid: npt.NDArray[np.uint16]
) -> tuple[_Col64, _Col64, _Col64, _Col64, npt.NDArray[np.uint16]]:
    """Join adjacent networks of one country (sorted, disjoint input)."""
    if len(s_hi) < 2:
        return s_hi, s_lo, e_hi, e_lo, cid
    nxt_lo = e_lo[:-1] + _U64(1)
    nxt_hi = e_hi[:-1] + (nxt_lo == 0).astype(np.uint64)
    join = (nxt_lo == s_lo[1:]) & (nxt_hi == s_hi[1:]) & (cid[:-1] == cid[1:])
    if not join.any():
        return s_hi, s_lo, e_hi, e_lo, cid
    first = np.concatenate([[True], ~join])
    last = np.concatenate([~join, [True]])
    return s_hi[first], s_lo[first], e_hi[last], e_lo[last], cid[first]


class MMDBBackend(TableBackend):
    """A MaxMind DB file flattened into numpy range tables (country column only).

    ``country_field``: ``"country"`` (where the address is used, the default) or
    ``"registered_country"`` (where the block is registered). ``cache_dir``: where to keep the
    flattened tables as ``.npz`` keyed by SHA-256 (None: memory only).
    """

    kind: Final = "mmdb"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        country_field: CountryField = "country",
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        p = Path(path)
        buffer: bytes | mmap.mmap = b""
        try:
            with p.open("rb") as f:  # mapped read-only: the file's bytes are never copied to the heap
                if os.fstat(f.fileno()).st_size:
                    buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise DatabaseFormatError(f"{p}: cannot read: {exc}") from exc
        try:
            self._setup(
                buffer,
                name=p.name,
                sha256=sha256_file(p),
                note="",
                country_field=country_field,
                cache_dir=cache_dir,
            )
        finally:
            if isinstance(buffer, mmap.mmap):
                with contextlib.suppress(BufferError):  # a view still alive: closed when collected
                    buffer.close()

    @classmethod
    def from_buffer(
        cls,
        data: bytes,
        *,
        name: str,
        sha256: str,
        note: str = "",
        country_field: CountryField = "country",
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> MMDBBackend:
        """A backend over an in-memory mmdb file; ``name``/``sha256`` are for provenance."""
        self = cls.__new__(cls)
        self._setup(
            data, name=name, sha256=sha256, note=note, country_field=country_field, cache_dir=cache_dir
        )
        return self

    def _setup(
        self,
        data: bytes | mmap.mmap,
        *,
        name: str,
        sha256: str,
        note: str,
        country_field: CountryField,
        cache_dir: str | os.PathLike[str] | None,
    ) -> None:
        if country_field not in ("country", "registered_country"):
            raise ValueError(
                f"country_field must be 'country' or 'registered_country', not {country_field!r}"
            )
        self.country_field: CountryField = country_field
        try:
            reader = maxminddb.open_database(_Source(data, name), maxminddb.MODE_FD)  # type: ignore[type-var]
            meta = reader.metadata()
        except (maxminddb.InvalidDatabaseError, ValueError, TypeError, KeyError) as exc:
            raise DatabaseFormatError(f"{name}: not a readable MaxMind DB file: {exc}") from None
        try:
            self._build_date = dt.datetime.fromtimestamp(int(meta.build_epoch), tz=dt.timezone.utc).date()
        except (OverflowError, OSError, ValueError) as exc:
            raise DatabaseFormatError(f"{name}: invalid build_epoch {meta.build_epoch!r}: {exc}") from None
        self.database_type: str = str(meta.database_type)
        self.ip_version: int = int(meta.ip_version)
        if self.ip_version not in (4, 6):
            raise DatabaseFormatError(f"{name}: ip_version {self.ip_version} is neither 4 nor 6")
        cache_file = None
        if cache_dir is not None:
            cache_file = Path(cache_dir) / f"mmdb-{sha256}-{country_field}-v{_CACHE_VERSION}.npz"
        flat = _Flat.load(cache_file) if cache_file is not None else None
        if flat is None and cache_file is not None:
            clean_stale([cache_file.parent])  # temporaries of a killed run
        if flat is None:
            flat = self._flatten(data, meta, name)
            if cache_file is not None:
                flat.save(cache_file)
        self._table = RangeTable(v4=flat.v4, v6=flat.v6)
        self._aliases = flat.aliases
        #: data networks in the file, as the official iterator lists them (aliases not repeated)
        self.networks: int = flat.networks
        self.nonstandard_codes = flat.bad
        fams = ", ".join(f"IPv{f}" for f in sorted(self._table.families))
        desc = (
            f"MaxMind DB {self.database_type} ({fams}; {flat.networks} networks; "
            f"country from {country_field})"
        )
        self._info = DatabaseInfo(
            kind=self.kind,
            name=name,
            sha256=sha256,
            build_date=self._build_date,
            ranges=len(self._table),
            families=self._table.families,
            description=desc + (f"; {note}" if note else ""),
        )

    def _lookup_v6(self, column: npt.NDArray[np.bytes_]) -> npt.NDArray[np.bytes_]:
        """IPv6 lookup; addresses under an alias of the IPv4 subtree (``::/96``,
        ``::ffff:0:0/96``, ``2002::/16`` in MaxMind's files) are answered by the IPv4 table with
        the 32 bits that follow the alias prefix, exactly as the tree walk would."""
        out = self._table.family(6).lookup(column)
        if not len(self._aliases[0]) or not len(column) or 4 not in self._table.families:
            return out
        halves = np.frombuffer(np.ascontiguousarray(column).tobytes(), dtype=">u8").reshape(-1, 2)
        hi, lo = halves[:, 0].astype(_U64), halves[:, 1].astype(_U64)
        a_hi, a_lo, a_len = self._aliases
        for p_hi, p_lo, plen in zip(a_hi.tolist(), a_lo.tolist(), a_len.tolist(), strict=True):
            sel = _in_prefix(hi, lo, p_hi, p_lo, plen)
            if sel.any():
                out[sel] = self._table.family(4).lookup(_prefix_bits(hi[sel], lo[sel], plen))
        return out

    # -- flattening ----------------------------------------------------------------------------

    def _flatten(self, buffer: bytes | mmap.mmap, meta: Any, name: str) -> _Flat:
        node_count = int(meta.node_count)
        record_size = int(meta.record_size)
        if record_size not in (24, 28, 32):
            raise DatabaseFormatError(f"{name}: unknown mmdb record size {record_size}")
        tree_size = node_count * record_size * 2 // 8
        if tree_size + 16 > len(buffer):
            raise DatabaseFormatError(f"{name}: the search tree runs past the end of the file")
        data_end = buffer.rfind(_MARKER)
        data_size = (data_end if data_end > 0 else len(buffer)) - tree_size - 16
        codes = _Codes(
            buffer,
            node_count=node_count,
            tree_size=tree_size,
            data_size=data_size,
            field=self.country_field,
            name=name,
        )
        tree = _Tree(np.frombuffer(buffer, dtype=np.uint8, count=tree_size), node_count, record_size)
        budget = 2 * node_count + 1024
        flat = _Flat()
        try:
            root4 = 0
            if self.ip_version == 6:
                node = 0
                for _ in range(96):  # the IPv4 subtree: the node reached by 96 zero bits
                    if node >= node_count:
                        break
                    node = tree.left(node)
                root4 = node
            if self.ip_version == 6:  # (the larger table first: its assembly peaks higher)
                walker6 = _Walker(tree, codes, 128, root4 if root4 < node_count else -1, budget, name)
                flat.v6 = walker6.run(0)
                flat.aliases = walker6.aliases()
                del walker6
            if self.ip_version == 4 or root4 < node_count:
                flat.v4 = _Walker(tree, codes, 32, -1, budget, name).run(root4)
        finally:
            del tree  # releases the view of the file's buffer (an mmap can then be closed)
        if codes.raw and not any(codes.raw):
            raise DatabaseFormatError(
                f"{name}: no record has a {self.country_field!r} code (database type "
                f"{meta.database_type!r}): not a country geolocation database for this field"
            )
        if flat.v4 is None and flat.v6 is not None:
            # no IPv4 subtree node (::/96 is one record or empty): IPv4 = the table clipped to ::/96
            v6s = np.frombuffer(flat.v6.starts.tobytes(), ">u8").reshape(-1, 2)
            v6e = np.frombuffer(flat.v6.ends.tobytes(), ">u8").reshape(-1, 2)
            last = 0xFFFFFFFF
            sel = (v6s[:, 0] == 0) & (v6s[:, 1] <= last)
            ends = np.where((v6e[sel, 0] == 0) & (v6e[sel, 1] <= last), v6e[sel, 1], last)
            flat.v4 = FamilyRanges(
                4,
                v6s[sel, 1].astype(IPV4_DTYPE),
                ends.astype(IPV4_DTYPE),
                flat.v6.countries[sel],
                validate=False,
            )
        flat.networks = codes.networks
        flat.bad = codes.nonstandard()
        return flat


class _Flat:
    """The flattened tables of one mmdb file (and how they are cached as plain npz arrays)."""

    def __init__(self) -> None:
        z = np.zeros(0, _U64)
        self.v4: FamilyRanges | None = None
        self.v6: FamilyRanges | None = None
        self.aliases: tuple[_Col64, _Col64, npt.NDArray[np.uint8]] = (z, z, np.zeros(0, np.uint8))
        self.networks = 0
        self.bad: dict[str, int] = {}

    @classmethod
    def load(cls, path: Path) -> _Flat | None:
        if not path.is_file():
            return None
        flat = cls()
        try:
            check_npz(path, allowed=_FLAT_MEMBERS, max_bytes=_MAX_FLAT_BYTES)
            with np.load(path, allow_pickle=False) as z:
                for fam in (4, 6):
                    if f"v{fam}_starts" in z.files:
                        ranges = FamilyRanges(
                            fam, z[f"v{fam}_starts"], z[f"v{fam}_ends"], z[f"v{fam}_countries"], validate=True
                        )
                        if fam == 4:
                            flat.v4 = ranges
                        else:
                            flat.v6 = ranges
                flat.aliases = (
                    z["alias_hi"].astype(_U64),
                    z["alias_lo"].astype(_U64),
                    z["alias_len"].astype(np.uint8),
                )
                flat.networks = int(z["networks"])
                flat.bad = {
                    k.decode("utf-8"): int(v)
                    for k, v in zip(z["bad_codes"].tolist(), z["bad_counts"].tolist(), strict=True)
                }
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            MemoryError,
            zipfile.BadZipFile,
            DatabaseFormatError,
        ):
            return None  # a damaged cache is rebuilt, never trusted
        return flat

    def save(self, path: Path) -> None:
        arrays: dict[str, npt.NDArray[Any]] = {"networks": np.array(self.networks, dtype=np.int64)}
        for fam, part in ((4, self.v4), (6, self.v6)):
            if part is not None:
                arrays[f"v{fam}_starts"] = part.starts
                arrays[f"v{fam}_ends"] = part.ends
                arrays[f"v{fam}_countries"] = part.countries
        arrays["alias_hi"], arrays["alias_lo"], arrays["alias_len"] = self.aliases
        arrays["bad_codes"] = np.array([k.encode("utf-8") for k in self.bad], dtype=np.bytes_).reshape(-1)
        arrays["bad_counts"] = np.array(list(self.bad.values()), dtype=np.int64)
        try:
            with atomic_binary(path, suffix=".npz", make_parents=True) as f:
                np.savez(f, **cast(dict[str, Any], arrays))
        except OSError as exc:  # the cache is optional: a read-only or full folder costs a warning
            warnings.warn(
                f"mmdb table cache {path.parent} cannot be written ({exc}); going on without it",
                CacheWarning,
                stacklevel=3,
            )
