"""Which networks an address belongs to: cloud and hosting ASN sets, providers' published range
files, IP-to-ASN tables and the data shipped for them (METHOD.md sections 6 and 11).

* :data:`DEFAULT_CLOUD_ASNS` (the method's cloud set) and :data:`EXTENDED_HOSTING_ASNS` (a wider,
  documented hosting/CDN/VPN set); :func:`cloud_asn_mask` for a whole ASN column.
* :class:`ProviderRanges` - one provider's dated range file (AWS ``ip-ranges.json``, Google Cloud
  ``cloud.json``, Azure Service Tags, DigitalOcean geofeed CSV, Oracle Cloud JSON), format
  auto-detected, vectorised :meth:`ProviderRanges.contains`; :class:`CloudRanges` combines several
  (both defined in :mod:`ipevidence.cloudranges`, re-exported here).
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

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from ._util import address_column
from .addresses import non_global_reason, parse_address
from .asn import AsnNames, AsnTable
from .cloudranges import PROVIDER_FORMATS, CloudRanges, ProviderRanges
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
