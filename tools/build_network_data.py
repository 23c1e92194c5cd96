"""Convert the shared IP-to-ASN sources and providers' cloud range files into package data.

Reads ``../shared/data`` (see its README for the licences) and writes into
``src/ipevidence/data/``:

* ``asn-geolite2-2019-12-24.npz``: MaxMind GeoLite2-ASN, build 2019-12-24 (CC BY-SA 4.0), read
  from the tarball with the official ``maxminddb`` reader (its tree iterator; the IPv4-mapped and
  6to4 aliases of the IPv4 subtree are not repeated in the IPv6 table), adjacent networks of one
  ASN joined;
* ``asn-iplocationdb-2026-06-17.npz``: the ip-location-db ASN CSVs (RouteViews + NRO + DB-IP,
  built 2026-06-17, CC BY 4.0);
* ``cloud-<provider>-<date>.<ext>.gz``: the providers' range files, byte-identical content,
  gzip-compressed (no file name, mtime 0);
* ``cloud-<provider>-<date>.ranges.npz``: each of those files parsed
  (:meth:`ipevidence.cloudranges.ProviderRanges.npz_bytes`, merged range tables and the counts),
  so that a verdict reads a few arrays instead of parsing 100,000 prefixes on every run; the
  manifest names it under ``parsed`` with its SHA-256, and a test checks it equals a fresh parse;
* ``network-sources.json``: the manifest the package reads (file, date and where the date comes
  from, licence, attribution, SHA-256 of the shipped file and of the upstream files).

The npz files are written by :meth:`ipevidence.asn.AsnTable.save_npz` (deterministic: fixed zip
timestamps, sorted members), so a rerun on the same input gives the same bytes.

Usage: ``.venv/bin/python tools/build_network_data.py [--shared DIR] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import maxminddb
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ipevidence._io import atomic_write_bytes, atomic_write_text  # noqa: E402
from ipevidence.addresses import IPV6_DTYPE, ipv4_column, ipv6_column  # noqa: E402
from ipevidence.asn import AsnTable  # noqa: E402
from ipevidence.networks import ProviderRanges  # noqa: E402

DEFAULT_SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "src" / "ipevidence" / "data"
MANIFEST = "network-sources.json"

GEOLITE_TAR = "asn/GeoLite2-ASN_20191224.tar.gz"
GEOLITE_TITLE = "MaxMind GeoLite2-ASN"
GEOLITE_LICENCE = "CC BY-SA 4.0"
GEOLITE_ATTRIBUTION = (
    "This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com "
    "(GeoLite2-ASN build 2019-12-24, CC BY-SA 4.0; converted to ipevidence's npz format, which is "
    "shared under the same licence)"
)

IPLDB_DIR = "asn/ip-location-db-asn-2026-06-17"
IPLDB_DATE = dt.date(2026, 6, 17)
IPLDB_TITLE = "ip-location-db ASN (RouteViews, NRO, DB-IP)"
IPLDB_LICENCE = "CC BY 4.0"
IPLDB_ATTRIBUTION = (
    "IP-to-ASN data built 2026-06-17 by the ip-location-db project "
    "(https://github.com/sapics/ip-location-db, npm @ip-location-db/asn 2.3.2026061719) from "
    "RouteViews (https://www.routeviews.org), the NRO (https://www.nro.net) and DB-IP IP to ASN Lite "
    "(IP Geolocation by DB-IP, https://db-ip.com); CC BY 4.0; converted to ipevidence's npz format"
)

#: (provider format, upstream file, download date or None when the file carries its own date, URL)
CLOUD_FILES: tuple[tuple[str, str, dt.date | None, str], ...] = (
    (
        "aws",
        "cloud-ranges-2022-12-31/aws-ip-ranges.json",
        None,
        "https://ip-ranges.amazonaws.com/ip-ranges.json",
    ),
    (
        "google",
        "cloud-ranges-2022-12-31/google-cloud-ip-ranges.json",
        None,
        "https://www.gstatic.com/ipranges/cloud.json",
    ),
    (
        "oracle",
        "cloud-ranges-2022-12-31/oracle-cloud-ip-ranges.json",
        None,
        "https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json",
    ),
    (
        "digitalocean",
        "cloud-ranges-2022-12-31/digitalocean.csv",
        dt.date(2022, 12, 31),
        "https://digitalocean.com/geo/google.csv",
    ),
    (
        "azure",
        "cloud-ranges-2025-07-22/microsoft-azure-ip-ranges.json",
        dt.date(2025, 7, 22),
        "https://www.microsoft.com/en-us/download/details.aspx?id=56519 (Azure IP Ranges and Service "
        "Tags - Public Cloud)",
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def join_adjacent(
    s: npt.NDArray[np.int64], e: npt.NDArray[np.int64], a: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Join neighbouring ranges of one ASN (sorted, non-overlapping input)."""
    if s.size == 0:
        return s, e, a
    new = np.ones(s.size, dtype=np.bool_)
    new[1:] = (s[1:] != e[:-1] + 1) | (a[1:] != a[:-1])
    last = np.append(np.flatnonzero(new)[1:] - 1, s.size - 1)
    return s[new], e[last], a[new]


def resolve_overlaps_v4(
    s: npt.NDArray[np.int64], e: npt.NDArray[np.int64], a: npt.NDArray[np.int64], what: str
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Clip a range that runs into the next one: the later-starting range wins the overlap (what a
    lookup by "last range starting at or before the address" on the original file answers). A
    range that encloses a later one, or two ranges with one start, stop the build."""
    notes: list[str] = []
    bad = np.flatnonzero(s[1:] <= e[:-1])
    if bad.size and ((e[bad] > e[bad + 1]).any() or (s[bad] == s[bad + 1]).any()):
        raise SystemExit(f"{what}: nested or equal-start ranges: a clip rule is not enough, look at the data")
    e = e.copy()
    for i in bad.tolist():
        fmt = _v4s
        notes.append(
            f"{what}: range {fmt(int(s[i]))}-{fmt(int(e[i]))} AS{int(a[i])} overlaps the next range "
            f"{fmt(int(s[i + 1]))}-{fmt(int(e[i + 1]))} AS{int(a[i + 1])}; clipped to end at "
            f"{fmt(int(s[i + 1]) - 1)} (the later-starting range wins the overlap)"
        )
        e[i] = s[i + 1] - 1
    return e, notes


def _v4s(x: int) -> str:
    return ".".join(str((x >> k) & 255) for k in (24, 16, 8, 0))


def names_of(pairs: list[tuple[int, str]]) -> tuple[dict[int, str], int]:
    """ASN -> organisation name (the most frequent, then alphabetically first, when a source gives
    several) and the number of ASNs with more than one name."""
    count: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for asn, org in pairs:
        if org:
            count[asn][org] += 1
    out: dict[int, str] = {}
    conflicts = 0
    for asn, c in count.items():
        conflicts += len(c) > 1
        out[asn] = sorted(c.items(), key=lambda t: (-t[1], t[0]))[0][0]
    return out, conflicts


# ------------------------------------------------------------------------------ ip-location-db


def read_csv_rows(path: Path) -> list[list[str]]:
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    return [row for row in csv.reader(io.StringIO(text)) if row]


def build_iplocationdb(shared: Path) -> AsnTable:
    src = shared / IPLDB_DIR
    notes: list[str] = []
    rejected = 0
    upstream: list[tuple[str, str]] = []
    fam: dict[int, tuple[Any, Any, Any]] = {}
    pairs: list[tuple[int, str]] = []
    counts: dict[int, int] = {}
    for family, fname in ((4, "asn-ipv4.csv.gz"), (6, "asn-ipv6.csv.gz")):
        path = src / fname
        upstream.append((fname, sha256(path.read_bytes())))
        rows = read_csv_rows(path)
        counts[family] = len(rows)
        good = [r for r in rows if len(r) == 4 and r[2].isdigit() and 0 < int(r[2]) < 2**32]
        rejected += len(rows) - len(good)
        asn = np.asarray([int(r[2]) for r in good], dtype=np.int64)
        pairs += [(int(r[2]), r[3].strip()) for r in good]
        if family == 4:
            s, ok1 = ipv4_column([r[0] for r in good])
            e, ok2 = ipv4_column([r[1] for r in good])
            ok = ok1 & ok2 & (e >= s)
            rejected += int(np.count_nonzero(~ok))
            s64, e64, a64 = s[ok].astype(np.int64), e[ok].astype(np.int64), asn[ok]
            order = np.argsort(s64, kind="stable")
            s64, e64, a64 = s64[order], e64[order], a64[order]
            e64, n = resolve_overlaps_v4(s64, e64, a64, "IPv4 file")
            notes += n
            s64, e64, a64 = join_adjacent(s64, e64, a64)
            fam[4] = (s64, e64, a64)
        else:
            s6, ok1 = ipv6_column([r[0] for r in good])
            e6, ok2 = ipv6_column([r[1] for r in good])
            ok = ok1 & ok2 & (e6 >= s6)
            rejected += int(np.count_nonzero(~ok))
            s6, e6, a6 = s6[ok], e6[ok], asn[ok]
            order = np.argsort(s6, kind="stable")
            s6, e6, a6 = s6[order], e6[order], a6[order]
            if s6.size and not (s6[1:] > e6[:-1]).all():
                raise SystemExit("IPv6 file: overlapping ranges: look at the data")
            fam[6] = (s6, e6, a6)
    names, conflicts = names_of(pairs)
    if conflicts:
        notes.append(f"{conflicts} ASNs carry more than one organisation name; the most frequent is kept")
    if rejected:
        notes.append(f"{rejected} rows were not 'start,end,ASN,organisation' with an ASN in 1..2^32-1")
    return AsnTable.from_ranges(
        name="asn-iplocationdb-2026-06-17.npz",
        date=IPLDB_DATE,
        date_source="build date of the npm package @ip-location-db/asn 2.3.2026061719 (its version)",
        v4=fam[4],
        v6=fam[6],
        names=names,
        prefixes_v4=counts[4],
        prefixes_v6=counts[6],
        rejected=rejected,
        title=IPLDB_TITLE,
        format="ip-location-db ASN CSV (inclusive ranges)",
        licence=IPLDB_LICENCE,
        attribution=IPLDB_ATTRIBUTION,
        upstream=tuple(upstream),
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------ GeoLite2


def build_geolite(shared: Path) -> AsnTable:
    tar_path = shared / GEOLITE_TAR
    raw_tar = tar_path.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(raw_tar), mode="r:gz") as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith(".mmdb"))
        fobj = tf.extractfile(member)
        assert fobj is not None
        mmdb = fobj.read()
    with tempfile.TemporaryDirectory(prefix="build-network-data-") as tmp:
        path = Path(tmp) / "GeoLite2-ASN.mmdb"
        path.write_bytes(mmdb)
        # MODE_AUTO: the C extension when installed (its iterator is about ten times faster)
        reader = maxminddb.open_database(str(path))
        meta = reader.metadata()
        networks = list(reader)
        reader.close()
    built = dt.datetime.fromtimestamp(int(meta.build_epoch), tz=dt.timezone.utc).date()
    v4: list[tuple[int, int, int]] = []
    v6: list[tuple[int, int, int]] = []
    pairs: list[tuple[int, str]] = []
    rejected = 0
    for net, rec in networks:
        asn = rec.get("autonomous_system_number") if isinstance(rec, dict) else None
        if not isinstance(asn, int) or not 0 < asn < 2**32:
            rejected += 1
            continue
        pairs.append((asn, str(rec.get("autonomous_system_organization") or "").strip()))
        row = (int(net.network_address), int(net.broadcast_address), asn)
        (v4 if net.version == 4 else v6).append(row)
    n4, n6 = len(v4), len(v6)
    v4.sort()
    v6.sort()
    a4 = np.asarray(v4, dtype=np.int64).reshape(-1, 3)
    s4, e4, asn4 = join_adjacent(a4[:, 0], a4[:, 1], a4[:, 2])
    # IPv6: join with Python ints (58k networks), then pack to S16
    j6: list[list[int]] = []
    for s, e, a in v6:
        if j6 and j6[-1][2] == a and j6[-1][1] + 1 == s:
            j6[-1][1] = e
        else:
            j6.append([s, e, a])
    s6 = np.frombuffer(b"".join(r[0].to_bytes(16, "big") for r in j6), IPV6_DTYPE)
    e6 = np.frombuffer(b"".join(r[1].to_bytes(16, "big") for r in j6), IPV6_DTYPE)
    asn6 = np.asarray([r[2] for r in j6], dtype=np.int64)
    names, conflicts = names_of(pairs)
    notes = [
        f"{n4} IPv4 and {n6} IPv6 networks read with the maxminddb {maxminddb.__version__} reader; "
        "adjacent networks of one ASN joined",
        "the IPv4-mapped (::ffff:0:0/96) and 6to4 (2002::/16) aliases of the IPv4 subtree are not "
        "repeated in the IPv6 table (such addresses are not globally routable evidence addresses)",
    ]
    if conflicts:
        notes.append(f"{conflicts} ASNs carry more than one organisation name; the most frequent is kept")
    if rejected:
        notes.append(f"{rejected} networks had no autonomous_system_number")
    return AsnTable.from_ranges(
        name=f"asn-geolite2-{built.isoformat()}.npz",
        date=built,
        date_source="mmdb metadata build_epoch",
        v4=(s4, e4, asn4),
        v6=(s6, e6, asn6),
        names=names,
        prefixes_v4=n4,
        prefixes_v6=n6,
        rejected=rejected,
        title=GEOLITE_TITLE,
        format="MaxMind DB (GeoLite2-ASN)",
        licence=GEOLITE_LICENCE,
        attribution=GEOLITE_ATTRIBUTION,
        upstream=((tar_path.name, sha256(raw_tar)), (member.name, sha256(mmdb))),
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------ cloud ranges


def build_cloud(shared: Path, out: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for fmt, rel, download_date, url in CLOUD_FILES:
        path = shared / rel
        raw = path.read_bytes()
        pr = ProviderRanges.load(path, fmt, published=download_date)
        assert pr.published is not None
        if download_date is None:
            date_source = f"the file's own {pr.date_source.removeprefix('file field ')} field"
        else:
            date_source = f"download date {download_date.isoformat()} (the file carries no date)"
        ext = Path(rel).suffix
        name = f"cloud-{fmt}-{pr.published.isoformat()}{ext}.gz"
        packed = gzip.compress(raw, compresslevel=9, mtime=0)
        atomic_write_bytes(out / name, packed)
        # the parsed form, read from the shipped file itself (its name and SHA-256 recorded)
        shipped = ProviderRanges.load(out / name, fmt, published=download_date)
        parsed_name = f"cloud-{fmt}-{pr.published.isoformat()}.ranges.npz"
        parsed = shipped.npz_bytes()
        atomic_write_bytes(out / parsed_name, parsed)
        entries.append(
            {
                "kind": "cloud",
                "file": name,
                "provider": fmt,
                "title": pr.provider,
                "date": pr.published.isoformat(),
                "date_source": date_source,
                "licence": "published by the provider for public use; no licence stated",
                "attribution": f"{pr.provider} published IP ranges, {url}",
                "sha256": sha256(packed),
                "upstream": [[Path(rel).name, sha256(raw)]],
                "prefixes_v4": pr.prefixes_v4,
                "prefixes_v6": pr.prefixes_v6,
                "parsed": {"file": parsed_name, "sha256": sha256(parsed)},
            }
        )
    return entries


def asn_entry(table: AsnTable, out: Path) -> dict[str, Any]:
    assert table.date is not None
    path = out / table.name
    table.save_npz(path)
    return {
        "kind": "asn",
        "file": table.name,
        "provider": None,
        "title": table.title,
        "date": table.date.isoformat(),
        "date_source": table.date_source,
        "licence": table.licence,
        "attribution": table.attribution,
        "sha256": sha256(path.read_bytes()),
        "upstream": [[n, h] for n, h in table.upstream],
        "prefixes_v4": table.prefixes_v4,
        "prefixes_v6": table.prefixes_v6,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared data folder")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the package data folder")
    args = ap.parse_args(argv)
    shared, out = args.shared.resolve(), args.out.resolve()
    entries = [asn_entry(build_geolite(shared), out), asn_entry(build_iplocationdb(shared), out)]
    entries += build_cloud(shared, out)
    manifest: dict[str, Any] = {
        "format": 1,
        "built_by": "tools/build_network_data.py",
        "sources": sorted(entries, key=lambda x: (x["kind"], x["provider"] or "", x["date"])),
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    total = 0
    for e in manifest["sources"]:
        size = (out / e["file"]).stat().st_size
        total += size
        print(f"{e['file']:45s} {size / 1e6:7.2f} MB  {e['date']}  {e['licence']}")
        if "parsed" in e:
            size = (out / e["parsed"]["file"]).stat().st_size
            total += size
            print(f"{e['parsed']['file']:45s} {size / 1e6:7.2f} MB  (parsed form of the above)")
    print(f"total {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
