"""Whole ground-truth builds: cold against the bzip2 floor, warm against today's way, and Dask scaling.

    python benchmarks/build.py [--days 60] [--probes 30000] [--repeat 3] [--archive-dir DIR]
                               [--dask-days 20] [--dask-workers 1,2,4] [--skip-dask] [--skip-local]
                               [--breakdown-days 5]

On N generated days of realistic size (30,000 probes, the real archive's verbose record shape,
both record shapes mixed: about 1 MB of bzip2 and 20 MB of JSON a day), measured in the same run:

(a) cold build (``build_ground_truth``, IPv4, default preset, no parsed-day cache, default
    workers = every usable core) against the FLOOR: a process pool of the same number of
    processes doing nothing but reading and bzip2-decompressing the same files (Python's bz2);
    both include starting their pool. Target (issue 16): the build within 1.15x of the floor.
    The CPU seconds of both (this process and its pool's workers) are shown too: on a machine
    shared with other work the wall-time ratio swings with the others' load, the CPU ratio much
    less; on an idle machine the wall-time ratio is at least the CPU ratio (more when the build
    leaves a core idle, e.g. in its serial tail after the last day).
    A cold build that also writes the parsed-day cache is shown too (a real first run);
(b) warm rebuild (every day in the parsed-day cache) as the library does it now (cache hits
    read on threads of the building process, no process pool) against the way it did it before
    (``cache_hits="executor"``: a process pool started and every cached day shipped through it);
    target at most 0.7x;
(c) Dask: ``distributed.LocalCluster`` of 1, 2 and 4 single-threaded worker processes building
    ``--dask-days`` days cold, (i) parsing files this process found and (ii) with each worker
    fetching its own days (``fetch_on_workers=True``, here reading the same folder as shared
    storage); speed-up against 1 worker, and the bytes moved per day (what a worker sends back:
    the pickled day's columns; what it reads: the archive file). All cluster sizes are started
    first and each repetition runs every size and mode back to back (paired under the same load).
(d) where one day's CPU goes beyond bzip2, in this process (``--breakdown-days`` days): the
    library's ``parse_day(threads=1)``, and within it the two costs no pure-Python reader can
    skip: scanning the whole JSON text (msgspec decoding into records that keep no field) and
    parsing the address strings (``socket.inet_pton`` alone); with (a)'s CPU of the building
    process per day, what 1.15x leaves for building the values, type checks and columns;
(e) an idealised reader on one clean generated day (flat records, every value well typed): typed
    msgspec records, no check of its own, the bare numpy columns; with the building process, the
    best ratio to the floor any reader built on msgspec and numpy could reach.

Each measurement runs ``--repeat`` times; times are medians (min, max in brackets) and each
ratio is the median of the per-repetition ratios (the two sides run back to back). The load
average is printed before and after: on a machine shared with other work, read the ratios, not
the seconds.
"""

from __future__ import annotations

import argparse
import bz2
import concurrent.futures as cf
import contextlib
import datetime as dt
import functools
import gc
import ipaddress
import itertools
import multiprocessing
import operator
import os
import pickle
import resource
import socket
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from ipevidence.archive import LocalArchive, ParsedDayCache, parse_day, parse_file
from ipevidence.archive.days import default_workers
from ipevidence.history import build_ground_truth
from ipevidence.synthetic.addressplan import PlanAddressWarning
from ipevidence.synthetic.archive import SyntheticArchiveConfig, generate_archive

START = dt.date(2023, 1, 1)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def archive(directory: Path, days: int, probes: int) -> list[Path]:
    """The generated archive (reused when ``directory`` already holds it)."""
    marker = directory / f".bench-{days}-{probes}"
    if not marker.exists():
        print(f"generating {days} days x {probes:,} probes in {directory} ...", flush=True)
        cfg = SyntheticArchiveConfig(
            seed=16,
            start=START,
            end=START + dt.timedelta(days=days - 1),
            n_probes=probes,
            record_shape="mixed",
            verbose_records=True,
            missing_day_rate=0.0,
            corrupt_days=0,
        )
        generate_archive(directory, cfg)
        marker.write_text("ok\n")
    files = sorted(directory.rglob("*.json.bz2"))
    if len(files) < days:
        raise SystemExit(f"{directory} holds {len(files)} days, not {days}: remove it or pick another")
    return files[:days]


def _bunzip(path: str) -> int:
    with open(path, "rb") as fh:
        return len(bz2.decompress(fh.read()))


def floor(files: Sequence[Path], workers: int) -> float:
    """Wall time of ``workers`` fresh processes doing nothing but read + bzip2-decompress."""
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for _ in pool.map(_bunzip, [str(f) for f in files], chunksize=1):
            pass
    return time.perf_counter() - t0


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def own_cpu_seconds() -> float:
    """CPU time (user + system) of this process alone."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of every child process it has waited for
    (the pools' workers, once their pool is shut down)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own_cpu_seconds() + kids.ru_utime + kids.ru_stime


def timed_cpu(fn: Callable[[], object]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process and its children, CPU seconds of this process
    alone) of ``fn()``."""
    c0, o0 = cpu_seconds(), own_cpu_seconds()
    wall = timed(fn)
    return wall, cpu_seconds() - c0, own_cpu_seconds() - o0


def fmt(times: Sequence[float]) -> str:
    return f"{statistics.median(times):7.2f} s  ({min(times):.2f}, {max(times):.2f})"


def build(root: Path, days: int, **kw: Any) -> Any:
    end = START + dt.timedelta(days=days - 1)
    return build_ground_truth(LocalArchive(root), START, end, progress=False, **kw)


def local(root: Path, files: Sequence[Path], days: int, repeat: int, workers: int) -> dict[str, Any]:
    floors, colds, ratios, first_runs, cpu_ratios, own = [], [], [], [], [], []
    warm_new, warm_old, warm_ratios = [], [], []
    rows = set()
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeat):
            f, f_cpu, _ = timed_cpu(lambda: floor(files, workers))
            c, c_cpu, c_own = timed_cpu(lambda: rows.add(len(build(root, days, cache=None, workers=workers))))
            own.append(c_own)
            floors.append(f)
            colds.append(c)
            ratios.append(c / f)
            cpu_ratios.append(c_cpu / f_cpu)
            kw: dict[str, Any] = {"cache": ParsedDayCache(Path(tmp) / f"parsed{rep}"), "workers": workers}
            first_runs.append(timed(functools.partial(build, root, days, **kw)))
            old = timed(functools.partial(build, root, days, cache_hits="executor", **kw))
            new = timed(functools.partial(build, root, days, **kw))
            warm_old.append(old)
            warm_new.append(new)
            warm_ratios.append(new / old)
            print(
                f"  run {rep + 1}: floor {f:.2f} s ({f_cpu:.1f} s CPU), cold {c:.2f} s ({c_cpu:.1f} s CPU), "
                f"warm {new:.2f} s (before: {old:.2f} s); {load()}",
                flush=True,
            )
    assert len(rows) == 1, rows
    return {
        "floor": floors,
        "cold": colds,
        "ratio": statistics.median(ratios),
        "cpu_ratio": statistics.median(cpu_ratios),
        "own_cpu": statistics.median(own),
        "first": first_runs,
        "warm_new": warm_new,
        "warm_old": warm_old,
        "warm_ratio": statistics.median(warm_ratios),
        "rows": rows.pop(),
    }


class _Nothing(msgspec.Struct):
    """A record of which nothing is kept: decoding a day into a list of these reads every byte
    of its JSON and builds no value (unknown fields are skipped): the least any JSON reader does."""


class _ScanTop(msgspec.Struct):
    objects: list[_Nothing]


_SCAN = msgspec.json.Decoder(_ScanTop)


def cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU milliseconds of ``fn()`` in this process, the garbage collector paused (as the
    library pauses it while it builds a day's objects)."""
    times = []
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
    finally:
        gc.enable()
    return 1000 * statistics.median(times)


def _pton_all(family: int, texts: Sequence[str]) -> bytes:
    return b"".join(map(socket.inet_pton, itertools.repeat(family), texts))


def _one_day(raw: bytes, day: dt.date, repeat: int) -> dict[str, float]:
    text = bz2.decompress(raw)
    snap = parse_day(raw, day, threads=1)
    v4 = [str(ipaddress.IPv4Address(int(a))) for a in snap.ipv4[snap.ipv4_valid]]
    v6 = [str(ipaddress.IPv6Address(bytes(a).ljust(16, b"\0"))) for a in snap.ipv6[snap.ipv6_valid]]
    return {
        "bzip2": cpu_ms(lambda: bz2.decompress(raw), repeat),
        "parse_day": cpu_ms(lambda: parse_day(raw, day, threads=1), repeat),
        "scan": cpu_ms(lambda: _SCAN.decode(text), repeat),
        "addresses": cpu_ms(lambda: (_pton_all(socket.AF_INET, v4), _pton_all(socket.AF_INET6, v6)), repeat),
    }


class _Typed(msgspec.Struct, gc=False):
    """The fields the method reads, typed: msgspec checks and converts them in C (any value of
    another type fails the whole piece, so this only reads clean days)."""

    id: int
    status_name: str | None = None
    country_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address_v4: str | None = None
    address_v6: str | None = None
    asn_v4: int | None = None
    asn_v6: int | None = None


_TYPED = msgspec.json.Decoder(list[_Typed])
_STATUS = {"Connected": 1, "Disconnected": 2, "Abandoned": 3, "Never Connected": 4, "Written Off": 5}


def _pieces(text: bytes, size: int = 1 << 19) -> list[bytes]:
    """``[record, ...]`` pieces of about ``size`` bytes of a clean generated day (flat records,
    each starting with ``{"address_v4":``), as the library decodes a day piece by piece."""
    body = text[text.index(b"[") + 1 : text.rindex(b"]")]
    out, pos = [], 0
    while pos < len(body):
        cut = body.find(b'},{"address_v4":', pos + size)
        stop = len(body) if cut < 0 else cut + 1
        out.append(b"[" + body[pos:stop] + b"]")
        pos = stop + 1
    return out


def _ideal_columns(piece: bytes) -> None:
    """The columns of one piece as an idealised reader builds them: typed records, no check of any
    kind, addresses left as text (the addresses are measured on their own)."""
    ids, names, countries, lats, lons, v4, v6, asn4, asn6 = zip(
        *map(msgspec.structs.astuple, _TYPED.decode(piece)), strict=True
    )
    np.array(ids, dtype=np.int32)
    np.array(list(map(_STATUS.get, names)), dtype=np.float64)
    np.frombuffer("".join(countries).encode("ascii"), dtype="S2")
    for column in (lats, lons, asn4, asn6):
        np.array(column, dtype=np.float64)
    for column in (v4, v6):
        np.fromiter(map(operator.is_not, column, itertools.repeat(None)), dtype=np.bool_, count=len(column))


def ideal_reader(directory: Path, probes: int, repeat: int) -> dict[str, float]:
    """CPU milliseconds, on one CLEAN generated day (flat records, no wrong-typed, invalid or
    missing value), of bzip2, of the library's ``parse_day`` and of an idealised pure-Python
    reader (:func:`_ideal_columns` over the same pieces), plus the scan and the addresses."""
    config = SyntheticArchiveConfig(
        seed=16,
        start=START,
        end=START,
        n_probes=probes,
        record_shape="flat",
        verbose_records=True,
        missing_day_rate=0.0,
        corrupt_days=0,
        wrong_type_rate=0.0,
        bad_coordinates_rate=0.0,
        bad_country_rate=0.0,
        lowercase_country_rate=0.0,
        bad_address_rate=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanAddressWarning)  # which addresses: irrelevant to a parse
        generate_archive(directory, config)
    raw = next(directory.rglob("*.json.bz2")).read_bytes()
    out = _one_day(raw, START, repeat)
    pieces = _pieces(bz2.decompress(raw))
    out["ideal"] = cpu_ms(lambda: list(map(_ideal_columns, pieces)), repeat)
    return out


def breakdown(files: Sequence[Path], repeat: int) -> dict[str, float]:
    """Per-day CPU milliseconds (medians over ``files``) of what one worker does to a day, and of
    the two things no pure-Python reader can skip: scanning the whole JSON text (msgspec into
    records that keep nothing) and parsing the addresses (``socket.inet_pton`` on each address
    string, nothing else)."""
    parts: dict[str, list[float]] = {}
    for k, f in enumerate(files):
        for key, value in _one_day(f.read_bytes(), START + dt.timedelta(days=k), repeat).items():
            parts.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in parts.items()}


def moved_per_day(files: Sequence[Path]) -> tuple[float, float]:
    """(bytes a worker reads, bytes a worker sends back) per day, averaged over up to 3 days."""
    sample = list(files[:3])
    read = statistics.mean(f.stat().st_size for f in sample)
    back = []
    for k, f in enumerate(sample):
        outcome = parse_file(str(f), START + dt.timedelta(days=k), None)
        back.append(len(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)))
    return read, statistics.mean(back)


def dask(root: Path, days: int, repeat: int, sizes: Sequence[int]) -> dict[tuple[int, str], list[float]]:
    """Every cluster size is started first; then each repetition runs every size and mode back to
    back, so that a machine whose load changes over minutes compares like with like."""
    from distributed import Client, LocalCluster

    out: dict[tuple[int, str], list[float]] = {}
    reference: bytes | None = None
    modes: tuple[tuple[str, dict[str, Any]], ...] = (("paths", {}), ("fetch", {"fetch_on_workers": True}))
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        clients = {}
        for n in sizes:
            cluster = stack.enter_context(
                LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
            )
            clients[n] = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
            build(root, 2 * n + 1, executor=clients[n].get_executor(), cache=None)  # warm the imports
        for rep in range(repeat):
            for n in sizes:
                for mode, kw in modes:
                    t0 = time.perf_counter()
                    gt = build(root, days, executor=clients[n].get_executor(), cache=None, workers=n, **kw)
                    out.setdefault((n, mode), []).append(time.perf_counter() - t0)
                    saved = gt.save(Path(tmp) / "gt.npz").read_bytes()
                    if reference is None:
                        reference = saved
                    assert saved == reference, "a Dask build differs from the first one"
            line = ", ".join(f"{n}/{m} {out[(n, m)][-1]:.2f} s" for n in sizes for m, _ in modes)
            print(f"  run {rep + 1} ({load()}): {line}", flush=True)
    return out


def print_breakdown(ms: dict[str, float], days: int, own: float | None) -> None:
    """Section (d): where the CPU of a day goes beyond bzip2, and what 1.15x leaves."""
    extra = ms["parse_day"] - ms["bzip2"]
    rest = extra - ms["scan"] - ms["addresses"]
    allowed = 0.15 * ms["bzip2"]
    print(f"\n(d) one day's CPU in one process (median of {days} days, ms; garbage collector paused)")
    print(f"  bzip2 (what the floor does)                     {ms['bzip2']:7.1f}")
    share = extra / ms["bzip2"]
    print(f"  parse_day(threads=1) beyond bzip2               {extra:7.1f}  ({share:.1%} of bzip2)")
    print("    of which no pure-Python reader skips:")
    print(f"      scanning the JSON (msgspec, nothing built)  {ms['scan']:7.1f}")
    print(f"      parsing the addresses (inet_pton alone)     {ms['addresses']:7.1f}")
    print(f"    building the values, type checks, columns     {rest:7.1f}")
    if own is not None:
        print(f"  the building process, per day (from (a))        {own:7.1f}  (unpickle, filter, link)")
        left = allowed - ms["scan"] - ms["addresses"] - own
        print(f"  1.15x allows {allowed:.1f} ms a day beyond bzip2; after the scan, the addresses and the")
        print(f"  building process, {left:.1f} ms are left for what takes {rest:.1f} ms today")


def print_ideal(ms: dict[str, float], own: float | None) -> None:
    """Section (e): the idealised reader on a clean day."""
    bz = ms["bzip2"]
    ideal = ms["ideal"] + ms["addresses"]
    today = ms["parse_day"] - bz
    print("\n(e) one CLEAN generated day (flat records, every value well typed), CPU ms in one process")
    print(f"  bzip2                                           {bz:7.1f}")
    print(f"  parse_day(threads=1) beyond bzip2               {today:7.1f}  ({today / bz:.1%} of bzip2)")
    print("  idealised reader: typed msgspec records, no check at all, the bare numpy columns")
    label = f"(scan {ms['scan']:.1f} included) + the addresses ({ms['addresses']:.1f})"
    print(f"    {label:<46}{ideal:7.1f}  ({ideal / bz:.1%} of bzip2)")
    if own is not None:
        best = 1 + (ideal + own) / bz
        print(f"  with the building process ({own:.1f} ms a day, from (a)): {best:.3f}x the floor, at best")
        print("  (a little high: the building process's fixed costs are spread over the days in that")
        print("  figure; docs/performance.md separates them with builds of 60 and 240 days)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--probes", type=int, default=30000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--archive-dir", type=Path, help="where the generated archive is kept (reused)")
    ap.add_argument("--dask-days", type=int, default=20)
    ap.add_argument("--dask-workers", default="1,2,4")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-local", action="store_true")
    ap.add_argument("--breakdown-days", type=int, default=5, help="days for (d); 0 skips (d) and (e)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.archive_dir or Path(tmp) / "archive"
        root.mkdir(parents=True, exist_ok=True)
        files = archive(root, args.days, args.probes)
        workers = default_workers()
        size = sum(f.stat().st_size for f in files) / len(files)
        print(f"{args.days} days, {size / 1e6:.2f} MB of bzip2 a day; {workers} workers (default_workers())")
        print(load())
        if not args.skip_local:
            r = local(root, files, args.days, args.repeat, workers)
            print(f"\n(a) cold build of {args.days} days ({r['rows']:,} IPv4 rows), {args.repeat} runs")
            print(f"  floor: {workers} processes only reading + bzip2 {fmt(r['floor'])}")
            print(f"  build_ground_truth, no cache            {fmt(r['cold'])}")
            print(f"  build / floor (median of per-run ratios) {r['ratio']:7.2f}x   target <= 1.15x")
            print(f"  same in CPU seconds, all processes       {r['cpu_ratio']:7.2f}x   (less load-skewed)")
            print(f"  CPU of the building process alone       {r['own_cpu']:7.2f} s  (median)")
            print(f"  first run writing the parsed-day cache  {fmt(r['first'])}")
            print(f"\n(b) warm rebuild of {args.days} days (all in the parsed-day cache)")
            print(f"  before: hits shipped through a pool     {fmt(r['warm_old'])}")
            print(f"  now: hits read on threads, no pool      {fmt(r['warm_new'])}")
            print(f"  now / before (median of per-run ratios)  {r['warm_ratio']:7.2f}x   target <= 0.7x")
            print(load())
        if args.breakdown_days > 0:
            own = r["own_cpu"] / args.days * 1000 if not args.skip_local else None
            print_breakdown(breakdown(files[: args.breakdown_days], args.repeat), args.breakdown_days, own)
            print_ideal(ideal_reader(Path(tmp) / "clean", args.probes, args.repeat), own)
        if not args.skip_dask:
            sizes = [int(x) for x in args.dask_workers.split(",")]
            print(f"\n(c) Dask LocalCluster, {args.dask_days} days cold, {args.repeat} runs per row")
            res = dask(root, args.dask_days, args.repeat, sizes)
            read, back = moved_per_day(files)
            print(f"  {'workers':<8}{'mode':<8}{'median s':>10}{'speed-up':>10}  (median of per-run ratios)")
            for mode in ("paths", "fetch"):
                base = res[(sizes[0], mode)]
                for n in sizes:
                    med = statistics.median(res[(n, mode)])
                    up = statistics.median(b / t for b, t in zip(base, res[(n, mode)], strict=True))
                    print(f"  {n:<8}{mode:<8}{med:>10.2f}{up:>9.2f}x")
            print(f"  bytes per day: a worker reads {read / 1e6:.2f} MB (the bzip2 file: shared storage or")
            print(f"  its own download) and sends back {back / 1e6:.2f} MB (the day's columns, pickled);")
            print("  the task sent to it is a path or a date (< 1 kB). All builds byte-identical.")
            print(f"  ({os.cpu_count()} cores here: more workers than cores cannot add speed)")
            print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
