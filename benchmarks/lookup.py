"""Bulk geolocation speed: ipevidence backends against the official per-address readers.

    python benchmarks/lookup.py                  # timing table (about a minute)
    python benchmarks/lookup.py --differential   # + the full differential check (several minutes)

Timing: 1.24 million IPv4 addresses (the size of the reference ground-truth history), uniformly
random over the whole IPv4 space (seeded), geolocated with the real IP2Location LITE DB1 BIN and
with the real DB-IP Lite mmdb (../shared/data). Our bulk ``lookup`` is timed on all of them; the
official per-address baselines (``IP2Location.get_country_short`` and ``maxminddb`` ``Reader.get``
with its C extension) on a subsample, scaled linearly to 1.24 million (said in the output).
Memory: tracemalloc peak of opening plus one bulk lookup (numpy allocations are traced), and the
growth of the resident set, against the database file size; for the mmdb, also the peak RSS growth
of a first open (flattening the tree, no cache) in a fresh interpreter (``VmHWM``).

Contemporary mode (``--contemporary`` runs only this part): a 1.24-million-row ground truth
whose rows (in random order) are dated uniformly over 8 years (2018-2025) is geolocated with a
catalogue of 8 real LITE builds (2016-2025), every row with the latest build dated on or before
its date (:func:`ipevidence.catalog.geolocate`), timed from opening the 8 files to the located
column (target < 3 s); the baseline is the competent per-row way: pick the build with ``bisect``
on the build dates and ask the official ``IP2Location`` reader of that build (one reader per build,
opened once), timed on a subsample and scaled; the two answers are compared on the subsample.

``--differential`` checks, against the official readers, every range start and end of both LITE
BIN files plus 1 million random addresses of each, and 1 million random IPv4 and 1 million IPv6
addresses of the DB-IP file; it exits non-zero on any disagreement.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import IP2Location
import maxminddb
import numpy as np
import numpy.typing as npt

from ipevidence.addresses import format_ipv4, format_ipv6
from ipevidence.backends import IP2LocationBackend, MMDBBackend, country_of_record, open_database
from ipevidence.countries import is_known_country

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
LITE = [
    DATA / "ip2location" / "IP2LOCATION-LITE-DB1-2024-10-01.BIN",
    DATA / "ip2location" / "IP2LOCATION-LITE-DB1-2021-05-28.BIN",
]
DBIP_GZ = DATA / "mmdb" / "dbip-country-lite-2025-07.mmdb.gz"
CONTEMPORARY_BUILDS = [
    DATA / "ip2location-history" / f"IP2LOCATION-LITE-DB1-{d}.BIN"
    for d in ("2016-08-28", "2019-07-29", "2020-11-26", "2022-03-29", "2024-02-08", "2025-10-15")
] + [DATA / "ip2location" / f"IP2LOCATION-LITE-DB1-{d}.BIN" for d in ("2021-05-28", "2024-10-01")]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def traced(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    """(bytes still allocated after fn, peak during fn, fn's result) by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        keep = fn()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current, peak, keep


def memory_row(open_fn: Callable[[], Any], addrs: npt.NDArray[np.uint32], size: int) -> str:
    held, open_peak, backend = traced(open_fn)
    _, lookup_peak, _ = traced(lambda: backend.lookup(addrs))
    mb = 1e6
    return (
        f"| memory (tracemalloc) | held after open {held / mb:.1f} MB = {held / size:.2f}x file; "
        f"peak while opening {open_peak / mb:.1f} MB = {open_peak / size:.2f}x; peak of one bulk lookup "
        f"{lookup_peak / mb:.1f} MB (result {len(addrs) * 2 / mb:.1f} MB included) | - | - | "
        "target <= 3x file size |"
    )


_RSS_SCRIPT = """
import sys
from ipevidence.backends import MMDBBackend
def status(key):  # kB lines of /proc/self/status; VmHWM is this process's peak RSS (reset by exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
before = status("VmRSS")
assert status("VmHWM") - before < 4 << 20, "the peak before opening is above the RSS: measure is void"
backend = MMDBBackend(sys.argv[1])
print(before, status("VmRSS"), status("VmHWM"))
"""


def rss_row(path: Path, size: int) -> str:
    """Peak and held RSS growth of a first open (no cache), in a fresh interpreter: RSS counts the
    mapped file pages the walk touched as well as the heap."""
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    before, after, peak = (int(x) for x in out)
    mb = 1e6
    return (
        f"| memory (RSS, fresh process, mapped file pages included) | peak growth while flattening "
        f"{(peak - before) / mb:.1f} MB = {(peak - before) / size:.2f}x file; held after open "
        f"{(after - before) / mb:.1f} MB = {(after - before) / size:.2f}x | - | - | target <= 3x file size |"
    )


def official_ip2(db: Any, ips: list[str]) -> list[str]:
    out = []
    for ip in ips:
        c = db.get_country_short(ip)
        out.append(c if c and is_known_country(c) else "")
    return out


def official_mmdb(reader: Any, ips: list[str]) -> list[str]:
    out = []
    for ip in ips:
        c = country_of_record(reader.get(ip))
        out.append(c if c and is_known_country(c) else "")
    return out


def row(name: str, ours: float, theirs: float, note: str = "") -> str:
    return f"| {name} | {ours:.3f} s | {theirs:.2f} s | {theirs / ours:,.0f}x | {note} |"


def bench_ip2location(addrs: npt.NDArray[np.uint32], sample: int) -> list[str]:
    path = LITE[0]
    size = path.stat().st_size
    t_open, backend = timed(lambda: IP2LocationBackend(path), repeat=3)
    backend.lookup(addrs[:1000])
    t_lookup, ours = timed(lambda: backend.lookup(addrs), repeat=3)
    official = IP2Location.IP2Location(str(path))
    ips = format_ipv4(addrs[:sample])
    t_sample, ref = timed(lambda: official_ip2(official, ips))
    assert [c.decode() for c in ours[:sample].tolist()] == ref, "IP2Location: disagreement with official"
    t_official = t_sample * len(addrs) / sample
    rss0 = rss_bytes()
    fresh = IP2LocationBackend(path)
    fresh.lookup(addrs)
    rss_growth = rss_bytes() - rss0
    return [
        f"IP2Location LITE DB1 BIN ({path.name}, {size / 1e6:.2f} MB, {len(backend)} ranges)",
        "",
        "| step | ipevidence | official IP2Location (per address) | speed-up | note |",
        "|---|---|---|---|---|",
        f"| open | {t_open:.3f} s | - | - | target < 1 s |",
        row(
            f"lookup {len(addrs):,} IPv4",
            t_lookup,
            t_official,
            f"official timed on {sample:,} addresses ({t_sample:.2f} s), scaled; target >= 20x and < 1 s",
        ),
        memory_row(lambda: IP2LocationBackend(path), addrs, size),
        f"| memory (RSS growth, open + lookup, mapped file pages included) | {rss_growth / 1e6:.1f} MB = "
        f"{rss_growth / size:.2f}x file | - | - | |",
        "",
    ]


def bench_mmdb(addrs: npt.NDArray[np.uint32], sample: int, tmp: Path) -> list[str]:
    plain = tmp / "dbip-country-lite-2025-07.mmdb"
    plain.write_bytes(gzip.decompress(DBIP_GZ.read_bytes()))
    size = plain.stat().st_size
    cache = tmp / "cache"
    t_flatten, backend = timed(lambda: MMDBBackend(plain), repeat=3)
    MMDBBackend(plain, cache_dir=cache)  # fills the cache
    t_cached, _ = timed(lambda: MMDBBackend(plain, cache_dir=cache), repeat=3)
    open_database(DBIP_GZ, cache_dir=cache)  # fills the cache of the .gz
    t_gz, _ = timed(lambda: open_database(DBIP_GZ, cache_dir=cache), repeat=3)
    backend.lookup(addrs[:1000])
    t_lookup, ours = timed(lambda: backend.lookup(addrs), repeat=3)
    reader = maxminddb.open_database(str(plain))
    ips = format_ipv4(addrs[:sample])
    t_sample, ref = timed(lambda: official_mmdb(reader, ips))
    assert [c.decode() for c in ours[:sample].tolist()] == ref, "mmdb: disagreement with maxminddb"
    t_official = t_sample * len(addrs) / sample
    t_open_official, _ = timed(lambda: maxminddb.open_database(str(plain)), repeat=3)
    title = f"MaxMind DB: DB-IP Country Lite ({plain.name}, {size / 1e6:.2f} MB"
    return [
        f"{title}, {backend.networks} networks, {len(backend)} ranges after joining)",
        "",
        "| step | ipevidence | official maxminddb (C extension, per address) | speed-up | note |",
        "|---|---|---|---|---|",
        f"| open, first time (flatten the tree) | {t_flatten:.3f} s | {t_open_official:.4f} s (lazy) | - | "
        "target < 1 s |",
        f"| open from the SHA-256-keyed npz cache | {t_cached:.3f} s | - | - | target < 1 s |",
        f"| open the .gz (gunzip, hash) with the cache | {t_gz:.3f} s | - | - | |",
        row(
            f"lookup {len(addrs):,} IPv4",
            t_lookup,
            t_official,
            f"official timed on {sample:,} addresses ({t_sample:.2f} s), scaled",
        ),
        memory_row(lambda: MMDBBackend(plain), addrs, size).replace("opening", "flattening"),
        rss_row(plain, size),
        memory_row(lambda: MMDBBackend(plain, cache_dir=cache), addrs, size).replace(
            "memory (tracemalloc)", "memory (tracemalloc), open from the cache"
        ),
        "",
    ]


def bench_contemporary(n: int, sample: int) -> list[str]:
    """Contemporary-mode geolocation of an n-row, 8-year ground truth with 8 builds."""
    import bisect

    from ipevidence.catalog import DatabaseCatalog, geolocate
    from ipevidence.groundtruth import GroundTruth

    rng = np.random.default_rng(2024)
    addrs = rng.integers(1 << 24, 224 << 24, n, dtype=np.uint64).astype(np.uint32)
    start, end = np.datetime64("2018-01-01"), np.datetime64("2025-12-31")
    days = (start + rng.integers(0, int((end - start).astype(int)) + 1, n)).astype("datetime64[D]")
    countries = np.full(n, b"DE", dtype="S2")
    gt = GroundTruth(
        family=4,
        probe_id=rng.integers(1, 60_000, n).astype(np.int32),
        address=addrs,
        country=countries,
        latitude=np.zeros(n),
        longitude=np.zeros(n),
        asn=np.ones(n, np.uint32),
        date=days,
        first_seen=days,
        last_seen=days,
    )

    def ours() -> Any:
        catalog = DatabaseCatalog.open(CONTEMPORARY_BUILDS)
        return geolocate(gt, catalog, mode="contemporary")

    ours()  # warm the page cache of the 8 files
    t_ours, geo = timed(ours, repeat=3)
    readers = sorted(
        ((IP2LocationBackend(p).build_date, IP2Location.IP2Location(str(p))) for p in CONTEMPORARY_BUILDS),
        key=lambda x: x[0],
    )
    built = [d for d, _ in readers]
    sub = rng.choice(n, size=min(sample, n), replace=False)
    ips = format_ipv4(addrs[sub])
    dates = [d.item() for d in days[sub]]

    def official() -> list[str]:
        out = []
        for ip, day in zip(ips, dates, strict=True):
            db = readers[bisect.bisect_right(built, day) - 1][1]
            c = db.get_country_short(ip)
            out.append(c if c and is_known_country(c) else "")
        return out

    t_sample, ref = timed(official)
    got = [c.decode() for c in geo.located[sub].tolist()]
    assert got == ref, "contemporary mode disagrees with the official reader's nearest build"
    t_official = t_sample * n / len(sub)
    per_build = ", ".join(f"{b.database.build_date.isoformat()}: {b.rows:,}" for b in geo.builds)
    return [
        f"Contemporary mode: {n:,} rows dated 2018-2025, 8 IP2Location LITE builds (rule nearest-before)",
        "",
        "| step | ipevidence | official IP2Location, nearest build per row (bisect) | speed-up | note |",
        "|---|---|---|---|---|",
        row(
            "open 8 builds + geolocate every row with its build",
            t_ours,
            t_official,
            f"official timed on {len(sub):,} rows ({t_sample:.2f} s), scaled; answers identical on them; "
            "target < 3 s",
        ),
        "",
        f"rows per build: {per_build}",
        "",
    ]


def differential(tmp: Path) -> int:
    bad = 0
    rng = np.random.default_rng(1305)
    for path in LITE:
        backend = IP2LocationBackend(path)
        copy = tmp / path.name
        copy.write_bytes(path.read_bytes())
        official = IP2Location.IP2Location(str(copy), "SHARED_MEMORY")
        fr = backend.table.family(4)
        for label, col in (
            ("every range start and end", np.concatenate([fr.starts, fr.ends])),
            ("1,000,000 random", rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32)),
        ):
            t = time.perf_counter()
            ours = [c.decode() for c in backend.lookup(col).tolist()]
            ref = official_ip2(official, format_ipv4(col))
            n = sum(a != b for a, b in zip(ours, ref, strict=True))
            bad += n
            took = time.perf_counter() - t
            print(f"{path.name}: {label}: {len(col):,} addresses, {n} disagreements ({took:.0f} s)")
    plain = tmp / "dbip.mmdb"
    plain.write_bytes(gzip.decompress(DBIP_GZ.read_bytes()))
    backend6 = MMDBBackend(plain)
    reader = maxminddb.open_database(str(plain))
    v4 = rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32)
    raw = rng.integers(0, 256, (1_000_000, 16), dtype=np.uint8)
    raw[:800_000, 0] = 0x20 + raw[:800_000, 0] % 16
    v6 = raw.view("S16").reshape(-1)
    for label, col, fmt in (("IPv4", v4, format_ipv4), ("IPv6", v6, format_ipv6)):
        ours = [c.decode() for c in backend6.lookup(col).tolist()]
        ref = official_mmdb(reader, fmt(col))
        n = sum(a != b for a, b in zip(ours, ref, strict=True))
        bad += n
        print(f"{plain.name}: 1,000,000 random {label}: {n} disagreements")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--addresses", type=int, default=1_240_000)
    ap.add_argument("--sample", type=int, default=100_000, help="addresses for the per-address baselines")
    ap.add_argument("--differential", action="store_true")
    ap.add_argument("--contemporary", action="store_true", help="only the contemporary-mode benchmark")
    args = ap.parse_args(argv)
    for f in [*LITE, DBIP_GZ, *CONTEMPORARY_BUILDS]:
        if not f.exists():
            print(f"missing {f}: the real data must sit in ../shared/data", file=sys.stderr)
            return 2
    rng = np.random.default_rng(2023)
    addrs = rng.integers(0, 2**32, args.addresses, dtype=np.uint64).astype(np.uint32)
    sample = min(args.sample, args.addresses)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs, load average {load}"
    )
    if args.contemporary:
        for line in bench_contemporary(args.addresses, sample):
            print(line)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for line in bench_ip2location(addrs, sample) + bench_mmdb(addrs, sample, Path(tmp)):
            print(line)
        for line in bench_contemporary(args.addresses, sample):
            print(line)
        if args.differential:
            bad = differential(Path(tmp))
            print(f"differential: {bad} disagreements in total")
            return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
