"""Benchmark: linking and de-duplicating 8 years of daily ground-truth rows.

2,900 days x 10,000 valid rows (29 million daily records, the size of 8 years of the real archive
after the daily filter) are built in memory day by day (no files) and streamed into the
:class:`ipevidence.history.Linker`, then the most distant address selection runs under every
policy. Targets (issue 4): under 60 s and under 4 GB peak RSS on the project's 2-core machine.
A straightforward baseline (pandas ``sort_values`` + ``drop_duplicates(['id', 'ip'])`` as in the
reference notebook) runs on a subsample in the same process, next to the library on the same
subsample. Border checks of 1 million points (< 10 s) come from ``benchmarks/borders.py``'s
``run(n)`` when that file exists.

Run: ``python benchmarks/history.py [--days 2900] [--rows 10000] [--sample-days 200]``
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ipevidence.countries import all_countries
from ipevidence.history import DailyRecords, Linker, select_most_distant

D0 = np.datetime64("2015-01-01", "D")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthetic_days(days: int, rows: int, seed: int = 7) -> Iterator[DailyRecords]:
    """Day after day, ``rows`` valid records of a probe population whose addresses change now and
    then (about every 60 days on average, sometimes back to an earlier address)."""
    rng = np.random.default_rng(seed)
    probes = np.arange(1, rows + 1, dtype=np.int32)
    codes = np.array([c.alpha2 for c in all_countries()], dtype="S2")
    country = codes[rng.integers(0, codes.size, rows)]
    lat = np.round(rng.uniform(-60, 70, rows), 4)
    lon = np.round(rng.uniform(-170, 170, rows), 4)
    asn = rng.integers(1000, 400000, rows).astype(np.uint32)
    addr = rng.integers(0x01000000, 0xDF000000, rows, dtype=np.uint32)
    previous = addr.copy()
    for d in range(days):
        change = rng.random(rows) < 1 / 60
        back = change & (rng.random(rows) < 0.2)
        new = rng.integers(0x01000000, 0xDF000000, rows, dtype=np.uint32)
        nxt = np.where(back, previous, np.where(change, new, addr))
        previous = np.where(change, addr, previous)
        addr = nxt
        yield DailyRecords(4, probes, addr, country, lat, lon, asn, np.full(rows, D0 + d))


def run_library(days: int, rows: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    linker = Linker(4)
    gen = 0.0
    it = synthetic_days(days, rows)
    while True:
        g0 = time.perf_counter()
        try:
            part = next(it)
        except StopIteration:
            break
        gen += time.perf_counter() - g0
        linker.add(part)
    hist = linker.finish()
    t_link = time.perf_counter() - t0 - gen
    out: dict[str, Any] = {
        "records": hist.records,
        "segments": len(hist),
        "link_s": t_link,
        "generate_s": gen,
    }
    for policy in ("first-seen", "per-run", "last-seen"):
        t1 = time.perf_counter()
        gt = select_most_distant(hist, policy)
        out[f"{policy}_s"] = time.perf_counter() - t1
        out[f"{policy}_rows"] = len(gt)
    return out


def run_pandas_baseline(days: int, rows: int) -> dict[str, Any]:
    import pandas as pd

    parts = list(synthetic_days(days, rows))
    t0 = time.perf_counter()
    frames = [
        pd.DataFrame(
            {
                "id": p.probe_id,
                "ip": p.address,
                "cntr": p.country,
                "lat": p.latitude,
                "lon": p.longitude,
                "asn": p.asn,
                "date": p.day,
            }
        )
        for p in parts
    ]
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values(by="date", kind="stable").drop_duplicates(subset=["id", "ip"])
    secs = time.perf_counter() - t0
    del parts, frames
    t1 = time.perf_counter()
    lib = run_library(days, rows)
    lib_secs = time.perf_counter() - t1 - lib["generate_s"]
    assert lib["first-seen_rows"] == len(df), (lib["first-seen_rows"], len(df))
    return {"records": days * rows, "pandas_s": secs, "library_s": lib_secs, "rows": len(df)}


def run_borders(n: int) -> dict[str, Any] | None:
    path = Path(__file__).with_name("borders.py")
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("_borders_bench", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_borders_bench"] = module
    spec.loader.exec_module(module)
    t0 = time.perf_counter()
    result = module.run(n)
    wall = time.perf_counter() - t0
    # borders.run reports the check's own time (without making the points and its baseline)
    seconds = float(result["seconds"]) if isinstance(result, dict) and "seconds" in result else wall
    return {"seconds": seconds, "wall": wall, "result": result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--days", type=int, default=2900)
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--sample-days", type=int, default=200, help="days in the baseline comparison")
    ap.add_argument("--border-points", type=int, default=1_000_000)
    args = ap.parse_args(argv)

    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    lib = run_library(args.days, args.rows)
    total = time.perf_counter() - t0 - lib["generate_s"]
    peak = peak_rss_mb()  # measured before the baseline runs, so pandas does not inflate it
    gc.collect()
    base = run_pandas_baseline(args.sample_days, args.rows)
    dedup = lib["first-seen_s"] + lib["per-run_s"] + lib["last-seen_s"]
    print(f"linking + de-dup of {args.days:,} days x {args.rows:,} rows = {lib['records']:,} daily records")
    print(f"{'task':<44}{'seconds':>10}{'target':>10}  ok")
    ok = total < 60 and peak < 4096
    print(f"{'link (streamed, compacted to segments)':<44}{lib['link_s']:>10.2f}")
    for policy in ("first-seen", "per-run", "last-seen"):
        label = f"  most distant {policy} ({lib[policy + '_rows']:,} rows)"
        print(f"{label:<44}{lib[policy + '_s']:>10.2f}")
    verdict = "yes" if total < 60 else "NO"
    print(f"{'link + all three policies':<44}{lib['link_s'] + dedup:>10.2f}{'60':>10}  {verdict}")
    print(f"{'peak RSS (MB, whole process)':<44}{peak:>10.0f}{'4096':>10}  {'yes' if peak < 4096 else 'NO'}")
    print(f"{'  (of which interpreter + imports)':<44}{rss0:>10.0f}")
    print(f"{'(generating the days, not counted)':<44}{lib['generate_s']:>10.2f}")
    print()
    sample = f"{args.sample_days} days x {args.rows:,} rows = {base['records']:,} records"
    print(f"baseline on {sample} (first-seen):")
    print(f"{'pandas sort_values + drop_duplicates':<44}{base['pandas_s']:>10.2f}")
    print(f"{'ipevidence Linker + select_most_distant (x3)':<44}{base['library_s']:>10.2f}")
    borders = run_borders(args.border_points)
    if borders is None:
        print("\nborder checks: benchmarks/borders.py not found, skipped")
    else:
        b_ok = borders["seconds"] < 10
        ok = ok and b_ok
        label = f"border checks of {args.border_points:,} points"
        print(f"\n{label:<44}{borders['seconds']:>10.2f}{'10':>10}  {'yes' if b_ok else 'NO'}")
        print(f"  (whole borders.run call incl. making points and its baseline: {borders['wall']:.2f} s)")
        print(f"  borders.run -> {borders['result']}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
