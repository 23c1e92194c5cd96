"""MaxMind DB (``.mmdb``) databases: GeoIP2/GeoLite2 Country and City, DB-IP, IPinfo, ...

The file is opened with the official ``maxminddb`` package (pure-Python reader, which validates the
metadata and search-tree bounds), and flattened ONCE into numpy range tables:

1. the binary search tree is read into two numpy arrays (left and right records; 24, 28 or 32
   bit records) and walked breadth-first, one tree level per numpy step, to list every network
   with data (aliased subtrees such as ``::ffff:0:0/96`` and ``2002::/16`` are walked too, so an
   IPv6 lookup of such an address gives what a per-address lookup gives);
2. each distinct data record is decoded once with ``maxminddb``'s own :class:`Decoder` and its
   country taken from ``country.iso_code`` (or ``registered_country.iso_code``), or, for
   IPinfo-style files, from a flat ``country`` (or ``country_code``) string;
3. adjacent networks of one country are joined into ranges.

The flattened tables can be cached on disk as ``.npz`` (plain arrays, never pickles) keyed by the
file's SHA-256 and the country field, so a later open is a single ``np.load``.

A broken file (bad metadata, a pointer outside the file, an invalid data record such as the
official ``GeoIP2-City-Test-Broken-Double-Format.mmdb``) raises
:class:`~ipevidence.errors.DatabaseFormatError` while opening, never later and never a hang: the
walk is bounded by the tree depth and by a budget on the number of visited nodes.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, cast

import maxminddb
import numpy as np
import numpy.typing as npt
from maxminddb.decoder import Decoder

from ..addresses import IPV4_DTYPE, IPV6_DTYPE
from ..errors import DatabaseFormatError
from ..provenance import DatabaseInfo, sha256_file
from .ranges import FamilyRanges, RangeTable, TableBackend, clean_countries

__all__ = ["CountryField", "MMDBBackend", "country_of_record"]

CountryField = Literal["country", "registered_country"]
_MARKER: Final = b"\xab\xcd\xefMaxMind.com"
_CACHE_VERSION: Final = 2
_U64: Final = np.uint64
_Col64 = npt.NDArray[np.uint64]


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


def _records(tree: bytes | memoryview, node_count: int, record_size: int) -> npt.NDArray[np.uint32]:
    """(node_count, 2) big-endian uint32 view of the left/right records of the search tree."""
    raw = np.frombuffer(tree, dtype=np.uint8)
    if record_size == 32:
        res32: npt.NDArray[np.uint32] = raw.view(">u4").reshape(node_count, 2)
        return res32
    buf = np.zeros((node_count, 2, 4), dtype=np.uint8)
    if record_size == 24:
        buf[:, :, 1:] = raw.reshape(node_count, 2, 3)
    elif record_size == 28:
        b = raw.reshape(node_count, 7)
        buf[:, 0, 1:] = b[:, 0:3]
        buf[:, 0, 0] = b[:, 3] >> 4
        buf[:, 1, 1:] = b[:, 4:7]
        buf[:, 1, 0] = b[:, 3] & 0x0F
    else:
        raise DatabaseFormatError(f"unknown mmdb record size {record_size}")
    res: npt.NDArray[np.uint32] = buf.view(">u4").reshape(node_count, 2)
    return res


class _Source:
    """Hands maxminddb's MODE_FD reader the bytes already in memory, without another copy."""

    def __init__(self, data: bytes, name: str) -> None:
        self._data = data
        self.name = name

    def read(self) -> bytes:
        return self._data


class _Leaves:
    """Leaves of a tree walk: prefix start (128-bit halves), prefix length, raw record value;
    plus the aliases (prefixes whose subtree is the IPv4 subtree)."""

    __slots__ = ("alias_hi", "alias_len", "alias_lo", "hi", "lo", "plen", "rec")

    def __init__(self) -> None:
        z = np.zeros(0, _U64)
        self.hi, self.lo, self.plen, self.rec = z, z, np.zeros(0, np.uint8), np.zeros(0, np.uint32)
        self.alias_hi, self.alias_lo, self.alias_len = z, z, np.zeros(0, np.uint8)


def _walk(
    recs: npt.NDArray[np.uint32], root: int, bits: int, node_count: int, budget: int, alias: int = -1
) -> _Leaves:
    """Every leaf under ``root`` in a ``bits``-deep tree, breadth first, vectorised per level.

    Prefixes are left-aligned in ``bits`` (``bits`` = 32 uses the low half only). Empty records
    (== node_count) are skipped. A child equal to ``alias`` (the IPv4 subtree's node, in an IPv6
    tree) is recorded as an alias prefix and not descended into.
    """
    out = _Leaves()
    if root >= node_count:  # the whole space is one record, or empty
        if root > node_count:
            out.hi, out.lo = np.zeros(1, _U64), np.zeros(1, _U64)
            out.plen, out.rec = np.zeros(1, np.uint8), np.array([root], np.uint32)
        return out
    parts: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], int, npt.NDArray[np.uint32]]] = []
    alias_parts: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], int]] = []
    nodes = np.array([root], dtype=np.uint32)
    hi = np.zeros(1, _U64)
    lo = np.zeros(1, _U64)
    visited = 0
    for depth in range(bits):
        if not len(nodes):
            break
        visited += len(nodes)
        if visited > budget:
            raise DatabaseFormatError("mmdb search tree visits more nodes than it holds (a cycle?)")
        pos = bits - 1 - depth  # bit position of this level's choice
        child_hi = np.concatenate([hi, hi])
        child_lo = np.concatenate([lo, lo])
        half = len(nodes)
        if pos >= 64:
            child_hi[half:] |= _U64(1 << (pos - 64))
        else:
            child_lo[half:] |= _U64(1 << pos)
        child = np.concatenate([recs[nodes, 0], recs[nodes, 1]]).astype(np.uint32)
        leaf = child > node_count
        if leaf.any():
            parts.append((child_hi[leaf], child_lo[leaf], depth + 1, child[leaf]))
        inner = child < node_count
        if alias >= 0:
            is_alias = child == alias
            if is_alias.any():
                alias_parts.append((child_hi[is_alias], child_lo[is_alias], depth + 1))
                inner &= ~is_alias
        nodes, hi, lo = child[inner], child_hi[inner], child_lo[inner]
    if len(nodes):
        raise DatabaseFormatError("mmdb search tree is deeper than the address length")
    if parts:
        out.hi = np.concatenate([p[0] for p in parts])
        out.lo = np.concatenate([p[1] for p in parts])
        out.plen = np.concatenate([np.full(len(p[0]), p[2], np.uint8) for p in parts])
        out.rec = np.concatenate([p[3] for p in parts]).astype(np.uint32)
    if alias_parts:
        out.alias_hi = np.concatenate([p[0] for p in alias_parts])
        out.alias_lo = np.concatenate([p[1] for p in alias_parts])
        out.alias_len = np.concatenate([np.full(len(p[0]), p[2], np.uint8) for p in alias_parts])
    return out


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


def _merge_u128(
    s_hi: npt.NDArray[np.uint64],
    s_lo: npt.NDArray[np.uint64],
    e_hi: npt.NDArray[np.uint64],
    e_lo: npt.NDArray[np.uint64],
    countries: npt.NDArray[np.bytes_],
) -> tuple[
    npt.NDArray[np.uint64],
    npt.NDArray[np.uint64],
    npt.NDArray[np.uint64],
    npt.NDArray[np.uint64],
    npt.NDArray[np.bytes_],
]:
    """Drop not-located networks and join adjacent networks of one country (sorted input)."""
    keep = countries != b""
    s_hi, s_lo, e_hi, e_lo, countries = s_hi[keep], s_lo[keep], e_hi[keep], e_lo[keep], countries[keep]
    if len(s_hi) < 2:
        return s_hi, s_lo, e_hi, e_lo, countries
    nxt_lo = e_lo[:-1] + _U64(1)
    nxt_hi = e_hi[:-1] + (nxt_lo == 0).astype(np.uint64)
    join = (nxt_lo == s_lo[1:]) & (nxt_hi == s_hi[1:]) & (countries[:-1] == countries[1:])
    first = np.concatenate([[True], ~join])
    last = np.concatenate([~join, [True]])
    return s_hi[first], s_lo[first], e_hi[last], e_lo[last], countries[first]


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
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise DatabaseFormatError(f"{p}: cannot read: {exc}") from exc
        self._setup(
            data,
            name=p.name,
            sha256=sha256_file(p),
            note="",
            country_field=country_field,
            cache_dir=cache_dir,
        )

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
        data: bytes,
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

    def _flatten(self, data: bytes, meta: Any, name: str) -> _Flat:
        node_count = int(meta.node_count)
        record_size = int(meta.record_size)
        tree_size = node_count * record_size * 2 // 8
        if tree_size + 16 > len(data):
            raise DatabaseFormatError(f"{name}: the search tree runs past the end of the file")
        recs = _records(memoryview(data)[:tree_size], node_count, record_size)
        data_end = data.rfind(_MARKER)
        data_size = (data_end if data_end > 0 else len(data)) - tree_size - 16
        if int(recs.max(initial=0)) > node_count + 16 + data_size:
            raise DatabaseFormatError(f"{name}: a search tree record points outside the data section")
        # every data record the tree points to is decoded once, here, so a broken one fails now
        uniq = np.unique(recs[recs > node_count])
        decoder = Decoder(data, tree_size + 16)
        raw_codes: list[bytes] = []
        for v in uniq.tolist():
            offset = v - node_count + tree_size
            try:
                record, _ = decoder.decode(offset)
            except (maxminddb.InvalidDatabaseError, ValueError, IndexError, TypeError) as exc:
                raise DatabaseFormatError(f"{name}: invalid data record at offset {offset}: {exc}") from None
            code = country_of_record(record, self.country_field)
            raw_codes.append((code or "").encode("ascii", "replace"))
        if len(uniq) and not any(raw_codes):
            raise DatabaseFormatError(
                f"{name}: no record has a {self.country_field!r} code (database type "
                f"{meta.database_type!r}): not a country geolocation database for this field"
            )
        clean, _ = clean_countries(np.array(raw_codes, dtype="S8") if raw_codes else np.zeros(0, "S8"))
        budget = 2 * node_count + 1024
        flat = _Flat()
        root4 = 0
        if self.ip_version == 6:
            node = 0
            for _ in range(96):  # the IPv4 subtree: the node reached by 96 zero bits
                if node >= node_count:
                    break
                node = int(recs[node, 0])
            root4 = node
            leaves6 = _walk(recs, 0, 128, node_count, budget, alias=root4 if root4 < node_count else -1)
            flat.aliases = (leaves6.alias_hi, leaves6.alias_lo, leaves6.alias_len)
            s_hi, s_lo, e_hi, e_lo, countries = self._ranges(leaves6, 128, uniq, clean, raw_codes, flat.bad)
            flat.networks += len(leaves6.rec)
            del leaves6
            flat.v6 = FamilyRanges(6, _to_s16(s_hi, s_lo), _to_s16(e_hi, e_lo), countries, validate=False)
            del s_hi, s_lo, e_hi, e_lo
        if self.ip_version == 4 or len(flat.aliases[0]):
            leaves4 = _walk(recs, root4, 32, node_count, budget)
            del recs
            _, s_lo, _, e_lo, countries = self._ranges(leaves4, 32, uniq, clean, raw_codes, flat.bad)
            flat.networks += len(leaves4.rec)
            flat.v4 = FamilyRanges(
                4, s_lo.astype(IPV4_DTYPE), e_lo.astype(IPV4_DTYPE), countries, validate=False
            )
        elif flat.v6 is not None:
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
        flat.bad = dict(sorted(flat.bad.items()))
        return flat

    @staticmethod
    def _ranges(
        leaves: _Leaves,
        bits: int,
        uniq: npt.NDArray[np.uint32],
        clean: npt.NDArray[np.bytes_],
        raw_codes: list[bytes],
        bad: dict[str, int],
    ) -> tuple[_Col64, _Col64, _Col64, _Col64, npt.NDArray[np.bytes_]]:
        """Sorted, joined ranges of a walk's leaves; tallies non-country codes per network."""
        idx = np.searchsorted(uniq, leaves.rec)
        per_code = np.bincount(idx, minlength=len(uniq))
        for i in np.flatnonzero(clean == b"").tolist():
            if per_code[i]:
                key = raw_codes[i].decode("ascii", "replace").strip().upper() or "<missing>"
                bad[key] = bad.get(key, 0) + int(per_code[i])
        order = np.lexsort((leaves.lo, leaves.hi)) if bits == 128 else np.argsort(leaves.lo, kind="stable")
        s_hi, s_lo, plen = leaves.hi[order], leaves.lo[order], leaves.plen[order]
        countries = clean[idx[order]]
        del order, idx
        e_hi, e_lo = _ends(s_hi, s_lo, plen, bits)
        return _merge_u128(s_hi, s_lo, e_hi, e_lo, countries)


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
        except (OSError, ValueError, KeyError, DatabaseFormatError):
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
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **cast(dict[str, Any], arrays))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
