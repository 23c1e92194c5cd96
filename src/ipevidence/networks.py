"""Which networks an address belongs to: cloud and hosting ASN sets, providers' published range
files, IP-to-ASN tables and the data shipped for them (METHOD.md sections 6 and 11).

* :data:`DEFAULT_CLOUD_ASNS` (the method's cloud set) and :data:`EXTENDED_HOSTING_ASNS` (a wider,
  documented hosting/CDN/VPN set); :func:`cloud_asn_mask` for a whole ASN column.
* :class:`ProviderRanges` - one provider's dated range file (AWS ``ip-ranges.json``, Google Cloud
  ``cloud.json``, Azure Service Tags, DigitalOcean geofeed CSV, Oracle Cloud JSON), format
  auto-detected, vectorised :meth:`ProviderRanges.contains`; :class:`CloudRanges` combines several.
* :class:`AsnTable` (defined in :mod:`ipevidence.asn`, re-exported here) - an IP-to-ASN range
  table from a pyasn file or the library's own npz format, vectorised :meth:`AsnTable.lookup`.
* :func:`classify_address` - one address: global or why not, its ASN, cloud/hosting provider and why.
* The shipped, dated sources (defined in :mod:`ipevidence.netdata`, re-exported here):
  :func:`shipped_asn_tables`, :func:`asn_table_for`, :func:`shipped_cloud_ranges` and
  :func:`classify_for_evidence` (the evidence address against the data nearest its date).

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
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ._util import address_column
from .addresses import IPV4_DTYPE, IPV6_DTYPE, non_global_reason, parse_address
from .asn import AsnNames, AsnTable, _column, _PrefixTables
from .errors import RangeFileError
from .jsonutil import canonical_json
from .netdata import (
    ShippedSource,
    asn_table_for,
    classify_for_evidence,
    shipped_asn_tables,
    shipped_cloud_ranges,
    shipped_provenance,
    shipped_sources,
)
from .provenance import sha256_file

__all__ = [
    "DEFAULT_CLOUD_ASNS",
    "EXTENDED_HOSTING_ASNS",
    "PROVIDER_FORMATS",
    "AsnNames",
    "AsnTable",
    "CloudRanges",
    "NetworkClass",
    "ProviderRanges",
    "ShippedSource",
    "asn_table_for",
    "classify_address",
    "classify_for_evidence",
    "cloud_asn_mask",
    "shipped_asn_tables",
    "shipped_cloud_ranges",
    "shipped_provenance",
    "shipped_sources",
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

#: A wider hosting, CDN and VPN-exit set: the default cloud set plus large cloud, hosting, CDN and
#: VPN-exit networks whose address space says nothing about where a user sits. Every entry is
#: checked against the AS organisation name in the shipped IP-to-ASN data (2026-06-17, and the
#: GeoLite2-ASN of 2019-12-24 where the 2026 data does not name it); docs/networks.md lists the
#: name each source gives, and tests/test_netdata.py asserts it.
EXTENDED_HOSTING_ASNS: Final[Mapping[int, str]] = MappingProxyType(
    {
        **DEFAULT_CLOUD_ASNS,
        # the big clouds' further ASNs
        8987: "Amazon (AWS)",
        19047: "Amazon (AWS)",
        7224: "Amazon (AWS)",
        38895: "Amazon (AWS)",
        36492: "Google",
        139070: "Google Cloud",
        8068: "Microsoft (Azure)",
        8069: "Microsoft (Azure)",
        200517: "Microsoft (Cloud Deutschland)",
        393406: "DigitalOcean",
        46652: "DigitalOcean",
        31898: "Oracle Cloud",
        36351: "IBM Cloud (SoftLayer)",
        45102: "Alibaba Cloud",
        37963: "Alibaba Cloud",
        134963: "Alibaba Cloud",
        132203: "Tencent Cloud",
        45090: "Tencent Cloud",
        133478: "Tencent Cloud",
        132591: "Tencent Cloud",
        # CDNs and anycast networks
        20940: "Akamai",
        16625: "Akamai",
        35994: "Akamai",
        32787: "Akamai (Prolexic)",
        34164: "Akamai",
        36183: "Akamai",
        21342: "Akamai",
        24319: "Akamai",
        12222: "Akamai",
        33905: "Akamai",
        213120: "Akamai",
        13335: "Cloudflare",
        209242: "Cloudflare (WARP)",
        14789: "Cloudflare",
        132892: "Cloudflare",
        202623: "Cloudflare",
        395747: "Cloudflare",
        54113: "Fastly",
        60068: "Datacamp (CDN77)",
        212238: "Datacamp (CDN77)",
        32934: "Facebook (Meta)",
        # hosting and VPS providers
        63949: "Linode (Akamai)",
        48337: "Linode (Akamai)",
        20473: "Vultr (Choopa)",
        46407: "Vultr (Choopa)",
        16276: "OVH",
        35540: "OVH",
        24940: "Hetzner",
        213230: "Hetzner",
        212317: "Hetzner",
        215859: "Hetzner",
        60781: "Leaseweb",
        28753: "Leaseweb",
        16265: "Leaseweb",
        395954: "Leaseweb",
        7203: "Leaseweb",
        30633: "Leaseweb",
        396190: "Leaseweb",
        396362: "Leaseweb",
        19148: "Leaseweb",
        27411: "Leaseweb",
        394380: "Leaseweb",
        393886: "Leaseweb",
        32613: "Leaseweb",
        59253: "Leaseweb",
        205544: "Leaseweb",
        9009: "M247",
        16247: "M247",
        42973: "M247",
        51167: "Contabo",
        12876: "Scaleway",
        19318: "Interserver",
        46606: "Unified Layer",
        26496: "GoDaddy",
        398101: "GoDaddy",
        40676: "Psychz Networks",
        53667: "FranTech (BuyVM)",
        62240: "Clouvider",
        9370: "Sakura Internet",
        7506: "GMO Internet",
        21859: "Zenlayer",
        4785: "xTom",
        50673: "Serverius",
        197540: "netcup",
        8560: "IONOS",
        47583: "Hostinger",
        # VPN exits
        136787: "TEFINCOM (NordVPN)",
        147049: "PacketHub (VPN exits)",
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


_V6_ALL: Final = (1 << 128) - 1


def _parse_v6_prefix(item: str) -> tuple[int, int] | None:
    """(first, last) address of an IPv6 prefix ``addr[/len]`` as ints (host bits ignored, as
    ``ipaddress.IPv6Network(strict=False)``; a bare address is a /128); None when it does not parse.
    ``socket.inet_pton`` instead of :mod:`ipaddress`: ten times faster on Azure's 23,000 prefixes."""
    addr, slash, plen_s = item.partition("/")
    if slash and not (plen_s.isascii() and plen_s.isdigit() and int(plen_s) <= 128):
        return None
    try:
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, addr), "big")
    except (OSError, ValueError):
        return None
    host = (1 << (128 - int(plen_s))) - 1 if slash else 0
    start = value & (_V6_ALL ^ host)
    return start, start | host


def _merge_v6(pairs: Iterable[tuple[int, int]]) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.bytes_]]:
    # range files hold at most tens of thousands of IPv6 prefixes: merging with Python ints is fine
    merged: list[list[int]] = []
    for s, e in sorted(pairs):
        if merged and s <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    st = b"".join(p[0].to_bytes(16, "big") for p in merged)
    en = b"".join(p[1].to_bytes(16, "big") for p in merged)
    return np.frombuffer(st, IPV6_DTYPE).copy(), np.frombuffer(en, IPV6_DTYPE).copy()


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
        v6: list[tuple[int, int]] = []
        bad: list[str] = []
        for x in items:
            if ":" in x:
                got = _parse_v6_prefix(x)
                if got is None:
                    bad.append(x)
                else:
                    v6.append(got)
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


# ------------------------------------------------------------------------------ one address


@attrs.frozen
class NetworkClass:
    """What network one address belongs to, and whether that voids it as location evidence.

    ``asn_source`` names where the ASN came from (``"given"`` / ``"given by the caller"``, an
    IP-to-ASN table's name and date, or ``"not announced in ..."``); ``asn_source_date``,
    ``asn_source_licence`` and ``asn_source_attribution`` describe the table consulted (None for
    a caller's ASN). ``ranges_checked`` names the provider range files consulted. ``checked`` is
    True when some source could answer (an ASN was found, or a range file matched); when none
    could, ``missing`` says in plain words what is missing, and the address's network is unknown:
    a verdict must not treat it as "not cloud".
    """

    address: str
    family: int
    is_global: bool
    non_global_reason: str | None
    asn: int | None
    asn_source: str | None
    as_name: str | None
    provider: str | None
    reason: str | None
    asn_source_date: dt.date | None = None
    asn_source_licence: str | None = None
    asn_source_attribution: str | None = None
    ranges_checked: tuple[str, ...] = ()
    checked: bool = False
    missing: str | None = None

    @property
    def is_cloud(self) -> bool:
        """In a cloud/hosting network (the location says nothing about the user)."""
        return self.provider is not None

    @property
    def is_evidence_candidate(self) -> bool:
        """Globally routable and not cloud/hosting (a network that was not checked is NOT known
        to be clean: see :attr:`checked`)."""
        return self.is_global and not self.is_cloud

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "family": self.family,
            "is_global": self.is_global,
            "non_global_reason": self.non_global_reason,
            "asn": self.asn,
            "asn_source": self.asn_source,
            "asn_source_date": self.asn_source_date.isoformat() if self.asn_source_date else None,
            "asn_source_licence": self.asn_source_licence,
            "asn_source_attribution": self.asn_source_attribution,
            "as_name": self.as_name,
            "provider": self.provider,
            "reason": self.reason,
            "is_cloud": self.is_cloud,
            "ranges_checked": list(self.ranges_checked),
            "checked": self.checked,
            "missing": self.missing,
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    def __str__(self) -> str:
        if not self.is_global:
            return (
                f"{self.address}: not globally routable ({self.non_global_reason}); never location evidence"
            )
        asn = f"AS{self.asn}" + (f" ({self.as_name})" if self.as_name else "") if self.asn else "ASN unknown"
        if self.asn and self.asn_source:
            asn += f" [{self.asn_source}]"
        if self.provider:
            return f"{self.address}: {asn}; cloud/hosting network {self.provider}: {self.reason}"
        if not self.checked and self.missing:
            return f"{self.address}: {asn}; network NOT checked: {self.missing}"
        return f"{self.address}: {asn}; not in a known cloud or hosting network"


def _range_label(pr: ProviderRanges) -> str:
    when = pr.published.isoformat() if pr.published else "undated"
    return f"{pr.provider} {when}"


def _classify(
    ip: object,
    *,
    asn: int | None,
    asn_table: AsnTable | None,
    cloud_ranges: CloudRanges | ProviderRanges | None,
    asns: Mapping[int, str] | Iterable[int],
    given_label: str = "given",
    table_label: str | None = None,
    ranges_words: str = "given cloud range file",
    article: str = "",
) -> NetworkClass:
    """The one implementation behind :func:`classify_address` and
    :func:`ipevidence.netdata.classify_for_evidence` (which names its sources differently)."""
    addr = parse_address(ip)
    reason_ng = non_global_reason(addr)
    asn_src: str | None = None
    found: int | None = None
    table_used = False
    if table_label is None and asn_table is not None:
        table_label = f"{asn_table.name} ({asn_table.date.isoformat() if asn_table.date else 'undated'})"
    if asn is not None and int(asn) > 0:
        found, asn_src = int(asn), given_label
    elif asn_table is not None and reason_ng is None:
        table_used = True
        found = asn_table.asn(addr)
        asn_src = table_label if found is not None else f"not announced in {article}{table_label}"
    as_name = asn_table.as_name(found) if (asn_table is not None and found) else None
    provider: str | None = None
    why: str | None = None
    ranges: CloudRanges | None = None
    if cloud_ranges is not None:
        ranges = cloud_ranges if isinstance(cloud_ranges, CloudRanges) else CloudRanges((cloud_ranges,))
    if reason_ng is None:
        amap: Mapping[int, str] = asns if isinstance(asns, Mapping) else {int(a): f"AS{int(a)}" for a in asns}
        if found is not None and found in amap:
            provider = amap[found]
            why = f"AS{found} is in the cloud/hosting ASN set ({provider})"
        elif ranges is not None:
            i = int(ranges.match(address_column(addr))[0])
            if i >= 0:
                pr = ranges.providers[i]
                provider = pr.provider
                when = pr.published.isoformat() if pr.published else "undated"
                why = f"inside {pr.provider}'s published ranges ({pr.name or pr.format}, {when})"
    checked = reason_ng is None and (found is not None or provider is not None)
    missing: str | None = None
    labels = tuple(_range_label(pr) for pr in ranges.providers) if ranges is not None else ()
    if reason_ng is not None:
        missing = f"not a globally routable address ({reason_ng}): its network was not looked up"
    elif not checked:
        asn_part = (
            f"the address is not announced in {article}{table_label}"
            if table_used
            else "no ASN was given and no IP-to-ASN table was available"
        )
        range_part = (
            f"lies in no {ranges_words} ({', '.join(labels)})"
            if labels
            else "no cloud range files were available"
        )
        missing = f"{asn_part} and {range_part}"
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
        asn_source_date=asn_table.date if table_used and asn_table is not None else None,
        asn_source_licence=asn_table.licence if table_used and asn_table is not None else None,
        asn_source_attribution=asn_table.attribution if table_used and asn_table is not None else None,
        ranges_checked=labels if reason_ng is None else (),
        checked=checked,
        missing=missing,
    )


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

    Only the sources passed are consulted (for the shipped, dated data see
    :func:`classify_for_evidence`); ``checked`` and ``missing`` say whether any of them could
    answer. Raises :class:`~ipevidence.errors.InvalidAddressError` for a string that is not an
    address; a private or reserved address is classified (``is_global`` False), not raised.
    """
    return _classify(ip, asn=asn, asn_table=asn_table, cloud_ranges=cloud_ranges, asns=asns)
