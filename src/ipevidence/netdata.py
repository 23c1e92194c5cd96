"""The dated network data shipped inside the package, and the evidence address checked against it.

The package ships (``src/ipevidence/data/``, built by ``tools/build_network_data.py``, listed in
``network-sources.json`` with each file's date, licence, attribution and SHA-256):

* two IP-to-ASN tables in the library's npz format (:meth:`ipevidence.asn.AsnTable.load_npz`):
  MaxMind GeoLite2-ASN built 2019-12-24 (CC BY-SA 4.0) and the ip-location-db ASN merge of
  RouteViews, NRO and DB-IP data built 2026-06-17 (CC BY 4.0);
* the providers' published cloud range files (gzip-compressed, content unchanged): AWS, Google
  Cloud, Oracle and DigitalOcean as downloaded on 2022-12-31 and Azure Service Tags as
  downloaded on 2025-07-22; each also shipped parsed (``cloud-*.ranges.npz``,
  :meth:`~ipevidence.cloudranges.ProviderRanges.load_npz`), which is what a verdict reads.

The date rule (:func:`nearest_source`): for an evidence date, the shipped source whose date is
nearest to it in days, the earlier source on a tie (what was known at the time of the evidence);
for cloud ranges the rule applies per provider. Nothing is read at import: each file is read on
first use, its SHA-256 checked against the manifest, and kept for the life of the process.

:func:`classify_for_evidence` is the one-call check of an evidence address: a caller's ASN wins,
else the caller's table, else the shipped table nearest the evidence date; the range files are the
caller's or the shipped ones nearest the date; the result names the source that answered, its date
and licence, and says plainly what is missing when no source could answer.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from .addresses import parse_address
from .asn import AsnTable
from .errors import RangeFileError

if TYPE_CHECKING:
    from .networks import CloudRanges, NetworkClass, ProviderRanges

__all__ = [
    "MANIFEST",
    "ShippedSource",
    "asn_table_for",
    "classify_for_evidence",
    "nearest_source",
    "shipped_asn_tables",
    "shipped_cloud_ranges",
    "shipped_provenance",
    "shipped_sources",
]

#: The manifest of the shipped network data (inside ``ipevidence.data``).
MANIFEST: Final = "network-sources.json"
_PACKAGE: Final = "ipevidence.data"
_LOCK = threading.Lock()

SourceKind = Literal["asn", "cloud"]


@attrs.frozen
class ShippedSource:
    """One shipped network data file, as the manifest describes it (nothing loaded yet)."""

    kind: str
    file: str
    provider: str | None
    title: str
    date: dt.date
    date_source: str
    licence: str
    attribution: str
    sha256: str
    upstream: tuple[tuple[str, str], ...]
    prefixes_v4: int
    prefixes_v6: int
    #: (file, SHA-256) of the file's parsed form shipped beside it (cloud range files), or None
    parsed: tuple[str, str] | None = None

    @property
    def families(self) -> frozenset[int]:
        return frozenset(f for f, n in ((4, self.prefixes_v4), (6, self.prefixes_v6)) if n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "provider": self.provider,
            "title": self.title,
            "date": self.date.isoformat(),
            "date_source": self.date_source,
            "licence": self.licence,
            "attribution": self.attribution,
            "sha256": self.sha256,
            "upstream": [{"name": n, "sha256": h} for n, h in self.upstream],
            "prefixes_v4": self.prefixes_v4,
            "prefixes_v6": self.prefixes_v6,
        }

    def __str__(self) -> str:
        return f"{self.title} of {self.date.isoformat()} ({self.file}, {self.licence})"


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    raise TypeError(f"a date is a datetime.date or an ISO string, not {type(value).__name__}")


def _read(name: str) -> bytes:
    try:
        return resources.files(_PACKAGE).joinpath(name).read_bytes()
    except OSError as exc:
        raise RangeFileError(
            f"the shipped network data file {name} is missing from the installed package ({exc}); "
            "reinstall ipevidence"
        ) from exc


@functools.lru_cache(maxsize=1)
def shipped_sources() -> tuple[ShippedSource, ...]:
    """Every shipped network data file (IP-to-ASN tables and cloud range files), from the
    manifest, sorted by kind, provider and date. Cheap: no table is loaded."""
    try:
        data = json.loads(_read(MANIFEST).decode("utf-8"))
        out = tuple(
            ShippedSource(
                kind=str(e["kind"]),
                file=str(e["file"]),
                provider=e.get("provider"),
                title=str(e["title"]),
                date=dt.date.fromisoformat(str(e["date"])),
                date_source=str(e["date_source"]),
                licence=str(e["licence"]),
                attribution=str(e["attribution"]),
                sha256=str(e["sha256"]),
                upstream=tuple((str(n), str(h)) for n, h in e.get("upstream", [])),
                prefixes_v4=int(e.get("prefixes_v4", 0)),
                prefixes_v6=int(e.get("prefixes_v6", 0)),
                parsed=(str(e["parsed"]["file"]), str(e["parsed"]["sha256"])) if e.get("parsed") else None,
            )
            for e in data["sources"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RangeFileError(f"the shipped {MANIFEST} is not a valid manifest ({exc})") from exc
    return tuple(sorted(out, key=lambda s: (s.kind, s.provider or "", s.date, s.file)))


def _checked_bytes(src: ShippedSource) -> bytes:
    return _checked_file(src.file, src.sha256)


def _checked_file(file: str, sha256: str) -> bytes:
    raw = _read(file)
    got = hashlib.sha256(raw).hexdigest()
    if got != sha256:
        raise RangeFileError(
            f"the shipped file {file} has SHA-256 {got}, the manifest says {sha256}: the "
            "installation is damaged or the file was changed; reinstall ipevidence"
        )
    return raw


def nearest_source(sources: Iterable[ShippedSource], date: dt.date | str) -> ShippedSource:
    """The date rule: the source whose date is nearest the evidence date (absolute difference in
    days); on a tie the earlier source (what was known at the time of the evidence).
    ValueError when ``sources`` is empty."""
    when = _as_date(date)
    items = list(sources)
    if not items:
        raise ValueError("no shipped source to choose from")
    return min(items, key=lambda s: (abs((s.date - when).days), s.date, s.file))


@functools.cache
def _asn_table(file: str) -> AsnTable:
    src = next(s for s in shipped_sources() if s.file == file)
    table = AsnTable.load_npz(_checked_bytes(src), name=src.file)
    if table.date != src.date:
        raise RangeFileError(f"{src.file}: dated {table.date} inside, {src.date} in the manifest")
    return table


def _load_asn(file: str) -> AsnTable:
    with _LOCK:  # one load per file even when several threads ask at once
        return _asn_table(file)


def shipped_asn_tables() -> tuple[AsnTable, ...]:
    """Every shipped IP-to-ASN table, oldest first (loaded on first call, then kept)."""
    return tuple(_load_asn(s.file) for s in shipped_sources() if s.kind == "asn")


def asn_table_for(date: dt.date | str, family: int = 4) -> AsnTable:
    """The shipped IP-to-ASN table nearest ``date`` (:func:`nearest_source`) among those that hold
    ``family`` (4 or 6). Only that table is loaded."""
    if family not in (4, 6):
        raise ValueError(f"family must be 4 or 6, not {family!r}")
    cands = [s for s in shipped_sources() if s.kind == "asn" and family in s.families]
    if not cands:
        raise RangeFileError(f"no shipped IP-to-ASN table holds IPv{family}")
    return _load_asn(nearest_source(cands, date).file)


@functools.cache
def _provider_ranges(file: str) -> ProviderRanges:
    from .networks import ProviderRanges

    src = next(s for s in shipped_sources() if s.file == file)
    _checked_bytes(src)
    if src.parsed is None:
        raise RangeFileError(f"{MANIFEST} names no parsed form of {src.file}: reinstall ipevidence")
    # the file's parsed form, written by tools/build_network_data.py from this very file (a test
    # checks that it equals a fresh parse): a few arrays instead of 100,000 prefixes
    pr = ProviderRanges.load_npz(_checked_file(*src.parsed), name=src.parsed[0])
    if pr.published != src.date or pr.sha256 != src.sha256:
        raise RangeFileError(
            f"{src.file}: dated {pr.published} and SHA-256 {pr.sha256} as read, {src.date} and "
            f"{src.sha256} in the manifest: reinstall ipevidence"
        )
    return attrs.evolve(pr, date_source=src.date_source)


def shipped_cloud_ranges(date: dt.date | str) -> CloudRanges:
    """The shipped providers' range files, per provider the one nearest ``date``
    (:func:`nearest_source`), combined in the order AWS, Google Cloud, Azure, Oracle,
    DigitalOcean (the first listed wins an overlap)."""
    from .networks import CloudRanges

    by_provider: dict[str, list[ShippedSource]] = {}
    for s in shipped_sources():
        if s.kind == "cloud" and s.provider:
            by_provider.setdefault(s.provider, []).append(s)
    order = ["aws", "google", "azure", "oracle", "digitalocean"]
    keys = sorted(by_provider, key=lambda k: (order.index(k) if k in order else len(order), k))
    with _LOCK:
        chosen = tuple(_provider_ranges(nearest_source(by_provider[k], date).file) for k in keys)
    return CloudRanges(chosen)


def shipped_provenance(date: dt.date | str, family: int = 4) -> dict[str, Any]:
    """What a result checked against the shipped data for ``date`` used (METHOD.md section 12):
    the IP-to-ASN table's and each range file's ``describe()`` (file, date and where it comes
    from, licence, attribution, SHA-256), JSON-ready and deterministic."""
    return {
        "asn_table": asn_table_for(date, family).describe(),
        "cloud_ranges": [pr.describe() for pr in shipped_cloud_ranges(date).providers],
    }


def _default_asns() -> Mapping[int, str]:
    from .networks import EXTENDED_HOSTING_ASNS

    return EXTENDED_HOSTING_ASNS


def classify_for_evidence(
    ip: object,
    date: dt.date | str,
    *,
    asn: int | None = None,
    asn_table: AsnTable | None = None,
    cloud_ranges: CloudRanges | ProviderRanges | None = None,
    asns: Mapping[int, str] | Iterable[int] | None = None,
) -> NetworkClass:
    """Classify an evidence address with the data nearest the evidence date.

    * ASN: a caller's ``asn`` wins (``asn_source`` "given by the caller"); otherwise the caller's
      ``asn_table``; otherwise the shipped table nearest ``date`` (:func:`asn_table_for`).
    * Cloud ranges: the caller's ``cloud_ranges``; otherwise the shipped files nearest ``date``
      (:func:`shipped_cloud_ranges`). Pass ``CloudRanges(())`` to consult none.
    * ``asns``: the hosting/CDN/VPN ASN set, by default
      :data:`ipevidence.networks.EXTENDED_HOSTING_ASNS`.

    The result's ``asn_source``, ``asn_source_date``, ``asn_source_licence`` and
    ``asn_source_attribution`` name the table consulted; ``ranges_checked`` the range files;
    ``checked`` is False and ``missing`` says what is missing when no source could answer (for
    example "the address is not announced in the shipped IP-to-ASN table ... of 2026-06-17 and lies
    in no shipped cloud range file (...)"). Raises
    :class:`~ipevidence.errors.InvalidAddressError` for a string that is not an address.
    """
    from .networks import _classify

    when = _as_date(date)
    addr = parse_address(ip)
    table = asn_table
    if table is None:
        # also for a caller's ASN: the nearest shipped table names its organisation
        table = asn_table_for(when, addr.version)
    label = (
        f"shipped IP-to-ASN table {table.label}" if asn_table is None else f"IP-to-ASN table {table.label}"
    )
    ranges = cloud_ranges if cloud_ranges is not None else shipped_cloud_ranges(when)
    words = "given cloud range file" if cloud_ranges is not None else "shipped cloud range file"
    return _classify(
        addr,
        asn=asn,
        asn_table=table,
        cloud_ranges=ranges,
        asns=_default_asns() if asns is None else asns,
        given_label="given by the caller",
        table_label=label,
        ranges_words=words,
        article="the ",
    )
