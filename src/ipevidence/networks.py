"""Which networks an address belongs to: cloud and hosting ASN sets, providers' published range
files, and IP-to-ASN tables (METHOD.md sections 6 and 11).

* :data:`DEFAULT_CLOUD_ASNS` (the method's cloud set) and :data:`EXTENDED_HOSTING_ASNS` (a wider,
  documented hosting/VPN set); :func:`cloud_asn_mask` for a whole ASN column.
* :class:`ProviderRanges` - one provider's dated range file (AWS ``ip-ranges.json``, Google Cloud
  ``cloud.json``, Azure Service Tags, DigitalOcean geofeed CSV, Oracle Cloud JSON), format
  auto-detected, vectorised :meth:`ProviderRanges.contains`; :class:`CloudRanges` combines several.
* :class:`AsnTable` - a pyasn IPASN ``.dat`` (optionally ``.gz``) file flattened into a
  non-overlapping range table (longest prefix wins) for vectorised :meth:`AsnTable.lookup`.
* :func:`classify_address` - one address: global or why not, its ASN, cloud/hosting provider and why.

Address columns follow :mod:`ipevidence.addresses`: IPv4 ``uint32``, IPv6 ``S16``.
See docs/networks.md for the choices made.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from ._util import address_column, families_present
from .addresses import IPV4_DTYPE, IPV6_DTYPE, non_global_reason, parse_address
from .errors import RangeFileError
from .jsonutil import canonical_json
from .provenance import sha256_file

__all__ = [
    "DEFAULT_CLOUD_ASNS",
    "EXTENDED_HOSTING_ASNS",
    "PROVIDER_FORMATS",
    "AsnTable",
    "CloudRanges",
    "NetworkClass",
    "ProviderRanges",
    "classify_address",
    "cloud_asn_mask",
]

#: The method's cloud set (METHOD.md section 6): ASN -> provider.
DEFAULT_CLOUD_ASNS: Final[Mapping[int, str]] = MappingProxyType(
    {
        16509: "Amazon (AWS)",
        14618: "Amazon (AWS)",
        15169: "Google",
        396982: "Google Cloud",
        8075: "Microsoft (Azure)",
        14061: "DigitalOcean",
    }
)

#: A wider hosting, CDN and VPN-exit set: the default cloud set plus large hosting providers whose
#: address space says nothing about where a user sits. See docs/networks.md for the sources.
EXTENDED_HOSTING_ASNS: Final[Mapping[int, str]] = MappingProxyType(
    {
        **DEFAULT_CLOUD_ASNS,
        8987: "Amazon (AWS)",
        19047: "Amazon (AWS)",
        36492: "Google",
        139070: "Google Cloud",
        8068: "Microsoft (Azure)",
        8069: "Microsoft (Azure)",
        200517: "DigitalOcean",
        393406: "DigitalOcean",
        16276: "OVH",
        35540: "OVH",
        24940: "Hetzner",
        213230: "Hetzner",
        63949: "Linode (Akamai)",
        20473: "Vultr (Choopa)",
        31898: "Oracle Cloud",
        45102: "Alibaba Cloud",
        37963: "Alibaba Cloud",
        132203: "Tencent Cloud",
        45090: "Tencent Cloud",
        13335: "Cloudflare",
        209242: "Cloudflare (WARP)",
        9009: "M247",
        60781: "Leaseweb",
        28753: "Leaseweb",
        16265: "Leaseweb",
        51167: "Contabo",
        12876: "Scaleway",
        14413: "Linode (Akamai)",
        36351: "IBM Cloud (SoftLayer)",
        19318: "Interserver",
        46606: "Unified Layer",
        26496: "GoDaddy",
        398101: "GoDaddy",
        40676: "Psychz Networks",
        53667: "FranTech (BuyVM)",
        62240: "Clouvider",
        212238: "Datacamp (CDN77)",
        60068: "Datacamp (CDN77)",
        136787: "TEFINCOM (NordVPN)",
        147049: "PacketHub (VPN exits)",
        9370: "Sakura Internet",
        7506: "GMO Internet",
        21859: "Zenlayer",
        4785: "xTom",
        50673: "Serverius",
        197540: "netcup",
        8560: "IONOS",
        47583: "Hostinger",
        54113: "Fastly",
        20940: "Akamai",
        16625: "Akamai",
        32934: "Facebook (Meta)",
    }
)


def cloud_asn_mask(
    asn_column: npt.ArrayLike, asns: Iterable[int] | Mapping[int, str] = DEFAULT_CLOUD_ASNS
) -> npt.NDArray[np.bool_]:
    """Vectorised: True where the ASN column holds one of ``asns`` (0, "unknown", never matches)."""
    col = np.asarray(asn_column).astype(np.int64, copy=False)
    wanted = np.asarray(sorted({int(a) for a in asns if int(a) > 0}), dtype=np.int64)
    return np.asarray(np.isin(col, wanted), dtype=np.bool_)


# ------------------------------------------------------------------------------ range tables


def _parse_v4_prefixes(items: list[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
    """'a.b.c.d/len' strings -> (network start, prefix length, unreadable items), vectorised with a
    per-item fallback when some item is not of that shape. A bare address counts as /32."""
    originals = items
    items = [x if "/" in x else x + "/32" for x in items]
    if not items:
        z = np.zeros(0, np.int64)
        return z, z.copy(), []
    rows: npt.NDArray[np.int64] | None = None
    tok = " ".join(items).replace(".", " ").replace("/", " ").split()
    if len(tok) == 5 * len(items) and all(t.isdigit() for t in tok):
        rows = np.asarray(tok, dtype=np.int64).reshape(-1, 5)
        if not ((rows[:, :4] <= 255).all() and (rows[:, 4] <= 32).all()):
            rows = None
    bad: list[str] = []
    if rows is None:
        parsed: list[list[int]] = []
        for x, orig in zip(items, originals, strict=True):
            try:
                net = ipaddress.IPv4Network(x, strict=False)
            except ValueError:
                bad.append(orig)
                continue
            parsed.append([*net.network_address.packed, net.prefixlen])
        rows = np.asarray(parsed, dtype=np.int64).reshape(-1, 5)
    addr = (rows[:, 0] << 24) | (rows[:, 1] << 16) | (rows[:, 2] << 8) | rows[:, 3]
    plen = rows[:, 4]
    mask = ((np.int64(1) << 32) - 1) ^ ((np.int64(1) << (32 - plen)) - 1)
    return addr & mask, plen, bad


def _merge_v4(
    starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Sorted, non-overlapping, non-adjacent union of [start, end] ranges (vectorised)."""
    if starts.size == 0:
        return np.zeros(0, IPV4_DTYPE), np.zeros(0, IPV4_DTYPE)
    order = np.lexsort((ends, starts))
    s, e = starts[order], ends[order]
    run_end = np.maximum.accumulate(e)
    new = np.ones(s.size, dtype=np.bool_)
    new[1:] = s[1:] > run_end[:-1] + 1
    grp = np.cumsum(new) - 1
    out_s = s[new]
    out_e = np.zeros(out_s.size, dtype=np.int64)
    np.maximum.at(out_e, grp, e)
    return out_s.astype(IPV4_DTYPE), out_e.astype(IPV4_DTYPE)


def _merge_v6(nets: Sequence[ipaddress.IPv6Network]) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.bytes_]]:
    # range files hold at most a few thousand IPv6 prefixes: merging with Python ints is fine
    pairs = sorted((int(n.network_address), int(n.broadcast_address)) for n in nets)
    merged: list[list[int]] = []
    for s, e in pairs:
        if merged and s <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    st = b"".join(p[0].to_bytes(16, "big") for p in merged)
    en = b"".join(p[1].to_bytes(16, "big") for p in merged)
    return np.frombuffer(st, IPV6_DTYPE).copy(), np.frombuffer(en, IPV6_DTYPE).copy()


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


# ------------------------------------------------------------------------------ provider ranges

#: Formats :meth:`ProviderRanges.load` understands, with the provider label it gives each.
PROVIDER_FORMATS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "aws": "Amazon Web Services",
        "google": "Google Cloud",
        "azure": "Microsoft Azure",
        "digitalocean": "DigitalOcean",
        "oracle": "Oracle Cloud",
    }
)

_TITLE = re.compile(rb"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _parse_date(text: str, fmt: str) -> dt.date:
    return dt.datetime.strptime(text, fmt).date()


@attrs.frozen(eq=False)
class ProviderRanges(_PrefixTables):
    """One provider's published address ranges, with the date the provider published them.

    ``published`` comes from the file's own field (AWS ``createDate``, Google ``creationTime``,
    Oracle ``last_updated_timestamp``) or, for formats without one (Azure Service Tags carry only a
    ``changeNumber``; the DigitalOcean geofeed has no date), from the ``published`` argument; it
    is None when neither exists, and ``date_source`` says which applies. Ranges are merged into
    sorted non-overlapping tables per family; ``prefixes`` counts the prefixes read and
    ``rejected`` the entries that were not valid prefixes (never silently dropped).
    """

    provider: str
    format: str
    published: dt.date | None
    date_source: str
    name: str
    sha256: str
    prefixes_v4: int
    prefixes_v6: int
    rejected: int
    v4_starts: npt.NDArray[np.uint32]
    v4_ends: npt.NDArray[np.uint32]
    v6_starts: npt.NDArray[np.bytes_]
    v6_ends: npt.NDArray[np.bytes_]
    rejected_examples: tuple[str, ...] = ()
    version: str | None = None

    @classmethod
    def from_prefixes(
        cls,
        prefixes: Iterable[str],
        *,
        provider: str,
        published: dt.date | None = None,
        format: str = "prefixes",
        name: str = "",
        sha256: str = "",
        date_source: str | None = None,
        version: str | None = None,
    ) -> ProviderRanges:
        """Build from CIDR strings (bad ones counted in ``rejected``)."""
        items = [str(p).strip() for p in prefixes]
        v4_items = [x for x in items if ":" not in x]
        v6: list[ipaddress.IPv6Network] = []
        bad: list[str] = []
        for x in items:
            if ":" in x:
                try:
                    v6.append(ipaddress.IPv6Network(x, strict=False))
                except ValueError:
                    bad.append(x)
        starts, plen, bad4 = _parse_v4_prefixes(v4_items)
        bad += bad4
        s4, e4 = _merge_v4(starts, starts + (np.int64(1) << (32 - plen)) - 1)
        s6, e6 = _merge_v6(v6)
        n4 = int(starts.size)
        return cls(
            provider=provider,
            format=format,
            published=published,
            date_source=date_source or ("argument" if published else "none"),
            name=name,
            sha256=sha256,
            prefixes_v4=n4,
            prefixes_v6=len(v6),
            rejected=len(bad),
            v4_starts=s4,
            v4_ends=e4,
            v6_starts=s6,
            v6_ends=e6,
            rejected_examples=tuple(bad[:5]),
            version=version,
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        provider: str | None = None,
        *,
        published: dt.date | None = None,
        label: str | None = None,
    ) -> ProviderRanges:
        """Read a provider's range file; the format is detected from the content.

        ``provider`` forces a format (one of :data:`PROVIDER_FORMATS`). ``published`` dates a
        file that has no date of its own; a file WITH its own date keeps it (a differing argument
        raises ValueError, so a wrong date cannot slip in). An HTML page (a failed download), an
        empty or unreadable file raises :class:`RangeFileError` naming the file.
        """
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise RangeFileError(f"{p}: cannot read the range file: {exc.strerror or exc}") from exc
        if p.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as exc:
                raise RangeFileError(f"{p}: a truncated or corrupt gzip file: {exc}") from exc
        sha = sha256_file(p)
        head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head:
            raise RangeFileError(f"{p}: the file is empty, not a provider range file")
        if head[:1] == b"<":
            m = _TITLE.search(head[:4096])
            title = m.group(1).decode("utf-8", "replace").strip() if m else "no title"
            raise RangeFileError(
                f"{p}: this is an HTML page ({title!r}), not a provider range file; the download "
                f"failed (the server answered with an error page): download the file again"
            )
        fmt = provider.lower() if provider else None
        if fmt is not None and fmt not in PROVIDER_FORMATS:
            raise ValueError(
                f"unknown provider format {provider!r}: expected one of {', '.join(PROVIDER_FORMATS)}"
            )
        data: Any = None
        if head[:1] in (b"{", b"["):
            try:
                data = json.loads(head.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise RangeFileError(f"{p}: not valid JSON ({exc}); is the file truncated?") from exc
            if fmt is None:
                fmt = _detect_json(data)
                if fmt is None:
                    keys = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
                    raise RangeFileError(f"{p}: JSON of no known provider format (top-level keys {keys})")
        elif fmt is None:
            fmt = "digitalocean"
        try:
            prefixes, own_date, date_source, version = _extract(fmt, data, head)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RangeFileError(f"{p}: not a valid {PROVIDER_FORMATS[fmt]} range file ({exc!r})") from exc
        if own_date is not None:
            if published is not None and published != own_date:
                raise ValueError(
                    f"{p}: the file says it was published {own_date.isoformat()}, not {published.isoformat()}"
                )
            when: dt.date | None = own_date
        else:
            when = published
            date_source = f"argument ({date_source})" if published else f"none ({date_source})"
        out = cls.from_prefixes(
            prefixes,
            provider=label or PROVIDER_FORMATS[fmt],
            published=when,
            format=fmt,
            name=p.name,
            sha256=sha,
            date_source=date_source,
            version=version,
        )
        if out.prefixes_v4 + out.prefixes_v6 == 0:
            raise RangeFileError(f"{p}: no address prefixes found ({out.rejected} unreadable entries)")
        return out

    # ---------------------------------------------------------------- queries

    def contains(self, column: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Vectorised membership of an address column (uint32 IPv4 or S16 IPv6)."""
        return np.asarray(self._index(column)[1] >= 0, dtype=np.bool_)

    def __contains__(self, address: object) -> bool:
        return bool(self.contains(address_column(parse_address(address)))[0])

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "format": self.format,
            "published": self.published.isoformat() if self.published else None,
            "date_source": self.date_source,
            "name": self.name,
            "sha256": self.sha256,
            "prefixes_v4": self.prefixes_v4,
            "prefixes_v6": self.prefixes_v6,
            "rejected": self.rejected,
            "version": self.version,
        }

    def __str__(self) -> str:
        when = self.published.isoformat() if self.published else "undated"
        return (
            f"{self.provider} ranges ({self.name or self.format}, published {when}, {self.date_source}): "
            f"{self.prefixes_v4} IPv4 and {self.prefixes_v6} IPv6 prefixes"
            + (f", {self.rejected} unreadable entries" if self.rejected else "")
        )


def _detect_json(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if "createDate" in data and ("prefixes" in data or "ipv6_prefixes" in data):
        return "aws"
    if "creationTime" in data and "prefixes" in data:
        return "google"
    if "values" in data and ("changeNumber" in data or "cloud" in data):
        return "azure"
    if "regions" in data and "last_updated_timestamp" in data:
        return "oracle"
    return None


def _extract(fmt: str, data: Any, raw: bytes) -> tuple[list[str], dt.date | None, str, str | None]:
    """(prefixes, own date or None, date source text, version text)."""
    if fmt == "aws":
        pre = [str(x.get("ip_prefix")) for x in data.get("prefixes", [])]
        pre += [str(x.get("ipv6_prefix")) for x in data.get("ipv6_prefixes", [])]
        return (
            pre,
            _parse_date(str(data["createDate"])[:10], "%Y-%m-%d"),
            "file field createDate",
            str(data.get("syncToken")),
        )
    if fmt == "google":
        pre = [str(x.get("ipv4Prefix") or x.get("ipv6Prefix")) for x in data["prefixes"]]
        return (
            pre,
            _parse_date(str(data["creationTime"])[:10], "%Y-%m-%d"),
            "file field creationTime",
            str(data.get("syncToken")),
        )
    if fmt == "oracle":
        pre = [str(c.get("cidr")) for r in data["regions"] for c in r.get("cidrs", [])]
        return (
            pre,
            _parse_date(str(data["last_updated_timestamp"])[:10], "%Y-%m-%d"),
            "file field last_updated_timestamp",
            None,
        )
    if fmt == "azure":
        pre = [str(a) for v in data["values"] for a in (v.get("properties") or {}).get("addressPrefixes", [])]
        change = data.get("changeNumber")
        return (
            pre,
            None,
            f"Azure Service Tags carry no date, only changeNumber {change}",
            f"changeNumber {change}",
        )
    # DigitalOcean geofeed (RFC 8805 CSV: prefix,country,region,city,postal); comments start with #
    text = raw.decode("utf-8", "replace")
    pre = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        pre.append(row[0].strip())
    if pre and all("/" not in x and ":" not in x and "." not in x for x in pre[:5]):
        raise ValueError("the first column holds no address prefixes")
    return pre, None, "a geofeed CSV carries no date", None


@attrs.frozen(eq=False)
class CloudRanges:
    """Several providers' range files combined; the first provider listed wins an overlap."""

    providers: tuple[ProviderRanges, ...]

    @classmethod
    def load(
        cls, paths: Iterable[str | os.PathLike[str]], *, published: dt.date | None = None
    ) -> CloudRanges:
        """Load every file with :meth:`ProviderRanges.load` (``published`` for undated formats)."""
        return cls(tuple(ProviderRanges.load(p, published=published) for p in paths))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(p.provider for p in self.providers)

    def match(self, column: npt.ArrayLike) -> npt.NDArray[np.int16]:
        """Index into :attr:`providers` of the provider holding each address, -1 for none."""
        _, col = _column(column)
        out = np.full(col.shape[0], -1, dtype=np.int16)
        for i, pr in enumerate(self.providers):
            hit = pr.contains(col) & (out < 0)
            out[hit] = i
        return out

    def lookup(self, column: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Provider label of each address, ``""`` for none."""
        idx = self.match(column)
        labels = np.asarray([*self.labels, ""], dtype=np.str_)
        return np.asarray(labels[np.where(idx >= 0, idx, len(self.providers))], dtype=np.str_)

    def contains(self, column: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        return np.asarray(self.match(column) >= 0, dtype=np.bool_)

    def describe(self) -> dict[str, Any]:
        return {"providers": [p.describe() for p in self.providers]}

    def to_dict(self) -> dict[str, Any]:
        return self.describe()

    def __str__(self) -> str:
        return "Cloud ranges: " + ("; ".join(str(p) for p in self.providers) or "none")


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
    """An IP-to-ASN table from a pyasn IPASN ``.dat`` file, flattened for vectorised lookups.

    ``date`` is the routing table's date: from the header's ``Original file`` (``rib.YYYYMMDD``),
    else the file name pattern ``ipasn[6]_YYYYMMDD``, else None; ``date_source`` says which.
    Duplicate prefixes keep the last line (pyasn's own behaviour); AS-set or unreadable lines are
    counted in ``rejected``.
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
        return self.names.get(int(asn))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "date": self.date.isoformat() if self.date else None,
            "date_source": self.date_source,
            "prefixes_v4": self.prefixes_v4,
            "prefixes_v6": self.prefixes_v6,
            "rejected": self.rejected,
            "ranges_v4": int(self.v4_starts.size),
            "ranges_v6": int(self.v6_starts.size),
        }

    def __str__(self) -> str:
        when = self.date.isoformat() if self.date else "undated"
        return (
            f"IP-to-ASN table {self.name} ({when}, {self.date_source}): {self.prefixes_v4} IPv4 and "
            f"{self.prefixes_v6} IPv6 prefixes"
        )


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


# ------------------------------------------------------------------------------ one address


@attrs.frozen
class NetworkClass:
    """What network one address belongs to, and whether that voids it as location evidence."""

    address: str
    family: int
    is_global: bool
    non_global_reason: str | None
    asn: int | None
    asn_source: str | None
    as_name: str | None
    provider: str | None
    reason: str | None

    @property
    def is_cloud(self) -> bool:
        """In a cloud/hosting network (the location says nothing about the user)."""
        return self.provider is not None

    @property
    def is_evidence_candidate(self) -> bool:
        """Globally routable and not cloud/hosting."""
        return self.is_global and not self.is_cloud

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "family": self.family,
            "is_global": self.is_global,
            "non_global_reason": self.non_global_reason,
            "asn": self.asn,
            "asn_source": self.asn_source,
            "as_name": self.as_name,
            "provider": self.provider,
            "reason": self.reason,
            "is_cloud": self.is_cloud,
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    def __str__(self) -> str:
        if not self.is_global:
            return (
                f"{self.address}: not globally routable ({self.non_global_reason}); never location evidence"
            )
        asn = f"AS{self.asn}" + (f" ({self.as_name})" if self.as_name else "") if self.asn else "ASN unknown"
        if self.provider:
            return f"{self.address}: {asn}; cloud/hosting network {self.provider}: {self.reason}"
        return f"{self.address}: {asn}; not in a known cloud or hosting network"


def classify_address(
    ip: object,
    *,
    asn: int | None = None,
    asn_table: AsnTable | None = None,
    cloud_ranges: CloudRanges | ProviderRanges | None = None,
    asns: Mapping[int, str] | Iterable[int] = DEFAULT_CLOUD_ASNS,
) -> NetworkClass:
    """Classify one address: globally routable or why not, its ASN (given, else from
    ``asn_table``), and whether it is in a cloud/hosting network (by ASN set, then by range files).

    Raises :class:`~ipevidence.errors.InvalidAddressError` for a string that is not an address;
    a private or reserved address is classified (``is_global`` False), not raised.
    """
    addr = parse_address(ip)
    reason_ng = non_global_reason(addr)
    asn_src: str | None = None
    found: int | None = None
    if asn is not None and int(asn) > 0:
        found, asn_src = int(asn), "given"
    elif asn_table is not None and reason_ng is None:
        found = asn_table.asn(addr)
        asn_src = f"{asn_table.name} ({asn_table.date.isoformat() if asn_table.date else 'undated'})"
        if found is None:
            asn_src = f"not announced in {asn_src}"
    as_name = asn_table.as_name(found) if (asn_table is not None and found) else None
    provider: str | None = None
    why: str | None = None
    if reason_ng is None:
        amap: Mapping[int, str] = asns if isinstance(asns, Mapping) else {int(a): f"AS{int(a)}" for a in asns}
        if found is not None and found in amap:
            provider = amap[found]
            why = f"AS{found} is in the cloud/hosting ASN set ({provider})"
        elif cloud_ranges is not None:
            cr = cloud_ranges if isinstance(cloud_ranges, CloudRanges) else CloudRanges((cloud_ranges,))
            i = int(cr.match(address_column(addr))[0])
            if i >= 0:
                pr = cr.providers[i]
                provider = pr.provider
                when = pr.published.isoformat() if pr.published else "undated"
                why = f"inside {pr.provider}'s published ranges ({pr.name or pr.format}, {when})"
    return NetworkClass(
        address=str(addr),
        family=addr.version,
        is_global=reason_ng is None,
        non_global_reason=reason_ng,
        asn=found,
        asn_source=asn_src,
        as_name=as_name,
        provider=provider,
        reason=why,
    )
