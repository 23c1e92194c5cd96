"""Archive ingestion speed: parse_day against the bzip2 floor, a straightforward baseline and the cache.

    python benchmarks/ingest.py [--records 30000] [--repeat 5]

On a generated day of 30,000 probe records (realistic record size, both shapes mixed, default
defect rates), measured in the same run:

(a) parse_day (read + SHA-256 + bunzip + decode + columns) against only reading and decompressing
    the same file with Python's bz2 (the floor); target within 1.3x of the floor;
(b) a straightforward baseline the way the reference notebook works (json.loads, one dict per
    record, ipaddress per row, lists turned into arrays); target at least 3x faster;
(c) a cached re-read through the parsed-day cache (read + SHA-256 + .npz load); target at least
    50x faster than the first parse;
(d) peak memory (max RSS) of a fresh worker process parsing the day, and its increase over the
    same process after imports only.

Times are the median of ``--repeat`` runs (minimum in brackets). The machine may be shared: the
ratios are what matters, because every row is measured in the same run.
"""

from __future__ import annotations

import argparse
import bz2
import datetime as dt
import ipaddress
import json
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ipevidence.archive import ParsedDayCache, parse_day, parse_file
from ipevidence.archive.snapshot import ProbeStatus
from ipevidence.synthetic.archive import SyntheticArchiveConfig, day_payload

DAY = dt.date(2023, 6, 1)


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def floor(path: Path) -> bytes:
    return bz2.decompress(path.read_bytes())


_STATUS = {
    "Connected": ProbeStatus.CONNECTED,
    "Disconnected": ProbeStatus.DISCONNECTED,
    "Abandoned": ProbeStatus.ABANDONED,
    "Never Connected": ProbeStatus.NEVER_CONNECTED,
    "Written Off": ProbeStatus.WRITTEN_OFF,
}


def baseline(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """The obvious way: json.loads, a dict per record, ipaddress per row."""
    data = json.loads(bz2.decompress(path.read_bytes()))
    recs = data["objects"] if isinstance(data, dict) else data
    cols: dict[str, list[Any]] = {
        k: [] for k in ("id", "status", "cc", "lat", "lon", "v4", "asn4", "v6", "asn6")
    }

    def num(v: Any) -> float:
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan

    for r in recs:
        if not isinstance(r, dict) or not isinstance(r.get("id"), int):
            continue
        cols["id"].append(r["id"])
        name = r.get("status_name")
        if name is None and isinstance(r.get("status"), dict):
            name = r["status"].get("name")
        cols["status"].append(_STATUS.get(name, 0) if isinstance(name, str) else 0)
        cc = r.get("country_code")
        cols["cc"].append(cc.upper() if isinstance(cc, str) else "")
        lat, lon = r.get("latitude"), r.get("longitude")
        geo = r.get("geometry")
        if lat is None and lon is None and isinstance(geo, dict) and isinstance(geo.get("coordinates"), list):
            co = geo["coordinates"]
            if len(co) == 2:
                lon, lat = co
        cols["lat"].append(num(lat))
        cols["lon"].append(num(lon))
        for fam, key, asn in ((4, "address_v4", "asn_v4"), (6, "address_v6", "asn_v6")):
            text = r.get(key)
            try:
                addr = ipaddress.ip_address(text) if isinstance(text, str) else None
            except ValueError:
                addr = None
            cols[f"v{fam}"].append(int(addr) if addr is not None and addr.version == fam else None)
            a = r.get(asn)
            cols[f"asn{fam}"].append(a if isinstance(a, int) and not isinstance(a, bool) else 0)
    return {
        "id": np.array(cols["id"], np.int32),
        "status": np.array(cols["status"], np.uint8),
        "country": np.array(cols["cc"], "S2"),
        "lat": np.array(cols["lat"], np.float64),
        "lon": np.array(cols["lon"], np.float64),
        "v4": np.array([v or 0 for v in cols["v4"]], np.uint32),
        "asn4": np.array(cols["asn4"], np.int64),
        "v6": np.array([(v or 0).to_bytes(16, "big") for v in cols["v6"]], "S16"),
        "asn6": np.array(cols["asn6"], np.int64),
    }


def _maxrss_kib() -> int:
    # VmHWM is this process's own peak (ru_maxrss on Linux carries the parent's peak across exec)
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss // 1024) if sys.platform == "darwin" else int(rss)


def _worker(path: str, parse: bool, out: Any) -> None:
    if parse:
        parse_day(path)
    out.put(_maxrss_kib())


def peak_memory(path: Path) -> tuple[float, float]:
    ctx = multiprocessing.get_context("spawn")
    res = []
    for parse in (False, True):
        q = ctx.Queue()
        p = ctx.Process(target=_worker, args=(str(path), parse, q))
        p.start()
        res.append(q.get())
        p.join()
    return res[1] / 1024, (res[1] - res[0]) / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    cfg = SyntheticArchiveConfig(
        seed=2023, start=DAY, end=DAY, n_probes=args.records, record_shape="mixed", verbose_records=True
    )
    data, truth = day_payload(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{DAY:%Y%m%d}.json.bz2"
        path.write_bytes(data)
        size = len(bz2.decompress(data))
        snap = parse_day(path)
        assert len(snap) == len(truth.records)
        ref = baseline(path)
        assert np.array_equal(ref["v4"][snap.ipv4_valid], snap.ipv4[snap.ipv4_valid])
        assert np.array_equal(ref["id"], snap.probe_id)

        t_floor = _time(lambda: floor(path), args.repeat)
        t_parse = _time(lambda: parse_day(path), args.repeat)
        t_base = _time(lambda: baseline(path), max(1, args.repeat // 2))
        cache_dir = Path(tmp) / "cache"
        cache = ParsedDayCache(cache_dir)
        t_first = _time(lambda: parse_file(str(path), DAY, str(cache_dir)), 1)
        assert any(cache_dir.rglob("*.npz"))
        t_cached = _time(lambda: parse_file(str(path), DAY, str(cache_dir)), max(args.repeat, 10))
        sha = snap.source.sha256 if snap.source and snap.source.sha256 else ""
        t_npz = _time(lambda: cache.get(sha), max(args.repeat, 10))
        rss, rss_inc = peak_memory(path)

    print(f"day: {len(snap):,} records, {len(data) / 1e6:.2f} MB bzip2, {size / 1e6:.1f} MB JSON")
    print(f"{'measure':<44} {'median s':>9} {'(min)':>9} {'ratio':>8}  target")
    rows = [
        ("(a) floor: read + bz2.decompress", t_floor, None, ""),
        ("(a) parse_day", t_parse, t_parse[0] / t_floor[0], "<= 1.3x floor"),
        ("(b) baseline json + dicts + ipaddress", t_base, t_base[0] / t_parse[0], ">= 3x slower than parse"),
        ("(c) first parse through the cache", t_first, None, ""),
        ("(c) cached re-read (read + sha256 + npz)", t_cached, t_first[0] / t_cached[0], ">= 50x faster"),
        ("(c) npz load only", t_npz, t_first[0] / t_npz[0], ""),
    ]
    for name, (med, mn), ratio, target in rows:
        r = f"{ratio:7.2f}x" if ratio is not None else ""
        print(f"{name:<44} {med:9.4f} {mn:9.4f} {r:>8}  {target}")
    post = (t_base[1] - t_floor[1]) / max(t_parse[1] - t_floor[1], 1e-9)
    print(f"    after decompression (min times): baseline work / our work = {post:.1f}x")
    print(f"(d) peak memory of a worker parsing the day: {rss:.0f} MiB ({rss_inc:+.0f} MiB over imports)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
