"""Benchmark: triage of 1,000,000 generated cases, against ``assess()`` per row, and the command.

Target (issue 14): ``assess_many`` triages 1,000,000 cases (countries in proportion to a realistic
report mix, dates over 8 years, 2 % bad rows) in under 10 s and at least 50x faster than calling
``assess()`` per row (the per-row time measured in the same run on a sample, with the assessor's
caches warm: the cheapest a loop can be), with a peak memory under 2 GB; ``ipevidence triage`` on
a 1,000,000-line CSV end to end (read, triage, write) in under 20 s.

The ground truth and the database come from :mod:`ipevidence.synthetic.errormodel` (a known error
model, 2015-2022, about 1 M rows): thick ground truth where RIPE Atlas has many probes (Europe, the
US), thin where reports are many but probes few (South Asia, North Africa), so every outcome
occurs. The report mix is an assumption shaped after the per-country figures the NCMEC
CyberTipline publishes (a few countries, India first, send most reports; a long tail follows); it
is written out below.

Run: ``python benchmarks/triage.py [--cases 1000000] [--sample 2000] [--no-command]``
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ipevidence.addresses import format_ipv4
from ipevidence.groundtruth import Funnel, FunnelStep
from ipevidence.synthetic.errormodel import Cell, ErrorModelCase, build_case

TARGET_S = 10.0
TARGET_SPEEDUP = 50.0
TARGET_PEAK_MB = 2048.0
TARGET_COMMAND_S = 20.0
YEARS = tuple(range(2015, 2023))

#: (country, share of reports, ground-truth addresses per year, accuracy): the report mix is an
#: assumption (see the module docstring); the ground truth is thick where RIPE Atlas is dense
MIX: tuple[tuple[str, float, int, float], ...] = (
    ("IN", 0.160, 2500, 0.990),
    ("PH", 0.090, 250, 0.975),
    ("PK", 0.070, 120, 0.960),
    ("ID", 0.060, 900, 0.985),
    ("BD", 0.060, 300, 0.930),
    ("US", 0.050, 4000, 0.994),
    ("BR", 0.040, 1500, 0.992),
    ("VN", 0.040, 400, 0.985),
    ("MX", 0.035, 500, 0.980),
    ("DZ", 0.030, 60, 0.950),
    ("IQ", 0.030, 200, 0.900),
    ("CO", 0.025, 350, 0.985),
    ("EG", 0.025, 250, 0.975),
    ("TH", 0.020, 600, 0.990),
    ("TR", 0.020, 1200, 0.985),
    ("SA", 0.020, 400, 0.980),
    ("MY", 0.015, 500, 0.990),
    ("NG", 0.015, 150, 0.950),
    ("GB", 0.015, 3000, 0.995),
    ("DE", 0.015, 9000, 0.997),
    ("FR", 0.012, 5000, 0.990),
    ("IT", 0.012, 4000, 0.980),
    ("ES", 0.010, 2000, 0.992),
    ("RU", 0.010, 5000, 0.985),
    ("UA", 0.010, 1500, 0.950),
    ("PL", 0.010, 2500, 0.993),
    ("NL", 0.008, 6000, 0.996),
    ("CA", 0.008, 2000, 0.994),
    ("AU", 0.008, 1800, 0.994),
    ("JP", 0.008, 2500, 0.996),
    ("KE", 0.006, 200, 0.960),
    ("AR", 0.006, 700, 0.990),
    ("ZA", 0.006, 900, 0.985),
    ("IR", 0.006, 3000, 0.960),
    ("CL", 0.005, 600, 0.992),
    ("PE", 0.005, 300, 0.985),
    ("NP", 0.004, 80, 0.950),
    ("LK", 0.004, 90, 0.960),
    ("MA", 0.004, 150, 0.970),
    ("AE", 0.004, 700, 0.960),
)
NEIGHBOUR = {"US": "CA", "CA": "US", "IN": "BD", "BD": "IN", "PK": "AE", "DE": "NL", "NL": "DE"}


def ground_truth(scale: float = 2.0, seed: int = 2024) -> ErrorModelCase:
    """The generated ground truth and database (about 1 M rows at the default scale)."""
    cells = []
    for code, _share, per_year, acc in MIX:
        for y in YEARS:
            n = max(1, round(per_year * scale))
            wrong = round(n * (1 - acc))
            dest = NEIGHBOUR.get(code, "US" if code != "US" else "CA")
            cells.append(Cell(code, y, n, {dest: wrong} if wrong else {}, not_located=round(n * 0.001)))
    rows = sum(c.addresses for c in cells)
    funnel = Funnel(
        family=4,
        steps=(
            FunnelStep("connected", "probes connected that day", rows + rows // 10, rows // 10),
            FunnelStep("border", "coordinates outside the declared country", rows + rows // 50, rows // 50),
        ),
    )
    return build_case(cells, seed=seed, addresses_per_probe=10, funnel=funnel)


def cases(case: ErrorModelCase, n: int, seed: int = 7, bad_share: float = 0.02) -> dict[str, Any]:
    """``n`` cases: countries by the report mix, dates over 2015-2022, ``bad_share`` bad rows
    (not addresses, private space, IPv6 without an IPv6 ground truth, dates outside the ground
    truth, unknown claimed countries). A fifth claim a country, half give an ASN."""
    rng = np.random.default_rng(seed)
    gt = case.ground_truth
    codes = [m[0] for m in MIX]
    shares = np.array([m[1] for m in MIX])
    country = rng.choice(len(codes), size=n, p=shares / shares.sum())
    # an address of that country's ground truth (any year), so the database mostly places it
    order = np.argsort(gt.country, kind="stable")
    gt_codes = gt.country[order]
    addresses = np.empty(n, dtype=np.uint32)
    asn = np.zeros(n, dtype=np.int64)
    for i, code in enumerate(codes):
        rows = np.flatnonzero(country == i)
        lo, hi = (
            np.searchsorted(gt_codes, code.encode(), "left"),
            np.searchsorted(gt_codes, code.encode(), "right"),
        )
        pick = order[rng.integers(lo, hi, rows.size)]
        addresses[rows] = gt.address[pick]
        asn[rows] = gt.asn[pick]
    text = np.asarray(format_ipv4(addresses), dtype=object)
    start = np.datetime64("2015-01-01")
    days = start + rng.integers(0, 8 * 365 + 2, n).astype("timedelta64[D]")
    seconds = rng.integers(0, 86400, n)
    claimed = np.full(n, None, dtype=object)
    claims = rng.random(n) < 0.2
    claimed[claims] = np.asarray(codes, dtype=object)[country[claims]]
    swap = claims & (rng.random(n) < 0.1)
    claimed[swap] = "GB"
    asns = np.where(rng.random(n) < 0.5, asn, 0)
    # 2 % bad rows, in five kinds
    bad = np.flatnonzero(rng.random(n) < bad_share)
    kind = rng.integers(0, 5, bad.size)
    text[bad[kind == 0]] = "not-an-address"
    text[bad[kind == 1]] = "192.168.1.20"
    text[bad[kind == 2]] = "2a00:1450:4001:81b::200e"
    days[bad[kind == 3]] = np.datetime64("2025-03-01")
    claimed[bad[kind == 4]] = "XX"
    return {"addresses": text, "days": days, "seconds": seconds, "claimed": claimed, "asns": asns}


def write_bin(case: ErrorModelCase, path: Path) -> Path:
    """The error model's database as an IP2Location BIN file (for the command)."""
    case.write_bin(path)
    return path


def write_csv(data: dict[str, Any], path: Path) -> None:
    """The cases as a platform's report export: case id, address, UTC time, claimed country, ASN."""
    stamp = data["days"].astype("datetime64[s]") + data["seconds"].astype("timedelta64[s]")
    times = np.datetime_as_string(stamp, unit="s")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("report_id,ip,reported_at,country,asn\n")
        lines = []
        for i, (ip, t, c, a) in enumerate(
            zip(
                data["addresses"].tolist(),
                times.tolist(),
                data["claimed"].tolist(),
                data["asns"].tolist(),
                strict=True,
            )
        ):
            lines.append(f"R{i:07d},{ip},{t}Z,{c or ''},{a or ''}\n")
            if len(lines) >= 100_000:
                f.writelines(lines)
                lines = []
        f.writelines(lines)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(folder: Path, sample: int) -> dict[str, Any]:
    """In a fresh process: load the ground truth and the cases, triage them, time ``assess()``
    per row on a sample; report times and the peak RSS."""
    from ipevidence.assessment import EvidentialAssessor
    from ipevidence.groundtruth import GroundTruth
    from ipevidence.synthetic.errormodel import ErrorModelBackend
    from ipevidence.triage import assess_many

    gt = GroundTruth.load(folder / "ground-truth.npz")
    with np.load(folder / "database.npz") as z:
        backend = ErrorModelBackend(z["address"], z["located"], family=4, build_date=dt.date(2022, 12, 31))
    with np.load(folder / "cases.npz", allow_pickle=False) as z:
        addresses = z["addresses"].astype(object)
        days = z["days"]
        claimed = z["claimed"].astype(object)
        asns = z["asns"].astype(np.float64)
    claimed[claimed == ""] = None
    asns[asns == 0] = np.nan  # no ASN given (as pandas holds a column of integers with gaps)
    before = _peak_mb()
    c0 = time.process_time()
    t0 = time.perf_counter()
    result = assess_many(
        addresses, days, claimed_countries=claimed, asns=asns, ground_truth=gt, database=backend
    )
    t_triage = time.perf_counter() - t0
    c_triage = time.process_time() - c0
    peak_triage = _peak_mb()
    counts = {o: int(c) for o, c in zip(*np.unique(result.outcome_texts(), return_counts=True), strict=True)}
    # assess() per row on a sample, caches warm (a first pass fills them; the second is timed)
    rng = np.random.default_rng(3)
    picks = rng.choice(len(addresses), size=sample, replace=False)
    assessor = EvidentialAssessor(gt, backend)
    args = [
        (addresses[i], days[i].astype(dt.date), claimed[i], None if np.isnan(asns[i]) else int(asns[i]))
        for i in picks.tolist()
    ]

    cpu: list[float] = []

    def loop() -> float:
        c = time.process_time()
        t = time.perf_counter()
        for ip, day, claim, asn in args:
            with contextlib.suppress(ValueError):
                assessor.assess(ip, day, claim, asn=asn)
        cpu.append(time.process_time() - c)
        return time.perf_counter() - t

    t_cold = loop()
    t_warm = loop()
    return {
        "cases": len(addresses),
        "triage_s": t_triage,
        "triage_cpu_s": c_triage,
        "assess_warm_cpu_ms": 1e3 * cpu[-1] / sample,
        "per_case_us": 1e6 * t_triage / len(addresses),
        "assess_sample": sample,
        "assess_cold_ms": 1e3 * t_cold / sample,
        "assess_warm_ms": 1e3 * t_warm / sample,
        "peak_rss_mb_before_triage": before,
        "peak_rss_mb": peak_triage,
        "outcomes": counts,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=2000, help="assess() calls timed per row (default 2000)")
    ap.add_argument("--no-command", action="store_true", help="skip the command's end-to-end run")
    ap.add_argument("--worker", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(Path(args.worker), args.sample)))
        return 0

    t0 = time.perf_counter()
    case = ground_truth()
    data = cases(case, args.cases)
    print(
        f"generated {len(case.ground_truth):,} ground-truth rows and {args.cases:,} cases "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        case.ground_truth.save(folder / "ground-truth.npz")
        gt = case.ground_truth
        np.savez(folder / "database.npz", address=gt.address, located=case.backend.lookup(gt.address))
        np.savez(
            folder / "cases.npz",
            addresses=data["addresses"].astype(str),
            days=data["days"],
            claimed=np.asarray([c or "" for c in data["claimed"].tolist()], dtype=str),
            asns=data["asns"],
        )
        out = subprocess.run(
            [sys.executable, __file__, "--worker", str(folder), "--sample", str(args.sample)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        speedup = r["assess_warm_ms"] * 1e3 / r["per_case_us"]
        cpu_speedup = r["assess_warm_cpu_ms"] * 1e3 / (1e6 * r["triage_cpu_s"] / r["cases"])
        print(
            f"assess_many: {r['cases']:,} cases in {r['triage_s']:.2f} s ({r['per_case_us']:.2f} us a case)"
        )
        print(f"  outcomes: {r['outcomes']}")
        print(
            f"assess() per row on {r['assess_sample']:,} sampled cases: {r['assess_warm_ms']:.3f} ms "
            "with warm "
            f"caches ({r['assess_cold_ms']:.3f} ms on the first pass)"
        )
        print(f"speed-up: {speedup:,.0f}x (target >= {TARGET_SPEEDUP:.0f}x)")
        print(
            f"CPU time (less sensitive to other load): triage {r['triage_cpu_s']:.2f} s, assess() "
            f"{r['assess_warm_cpu_ms']:.3f} ms a row: {cpu_speedup:,.0f}x"
        )
        print(
            f"peak RSS of the triage process: {r['peak_rss_mb']:,.0f} MB "
            f"({r['peak_rss_mb_before_triage']:,.0f} MB "
            f"after loading; target < {TARGET_PEAK_MB:,.0f} MB)"
        )
        ok &= r["triage_s"] < TARGET_S and speedup >= TARGET_SPEEDUP and r["peak_rss_mb"] < TARGET_PEAK_MB
        if not args.no_command:
            write_bin(case, folder / "db.BIN")
            write_csv(data, folder / "cases.csv")
            size = (folder / "cases.csv").stat().st_size
            cmd = [
                sys.executable,
                "-m",
                "ipevidence",
                "--ground-truth",
                str(folder / "ground-truth.npz"),
                "--database",
                str(folder / "db.BIN"),
                "--quiet",
                "triage",
                str(folder / "cases.csv"),
                "--case-id-column",
                "report_id",
                "--address-column",
                "ip",
                "--time-column",
                "reported_at",
                "--country-column",
                "country",
                "--asn-column",
                "asn",
                "-o",
                str(folder / "out"),
            ]
            before_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            done = subprocess.run(
                cmd, capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"}
            )
            t_cmd = time.perf_counter() - t0
            after_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            cmd_cpu = (after_cpu.ru_utime - before_cpu.ru_utime) + (after_cpu.ru_stime - before_cpu.ru_stime)
            print(
                f"command CPU time: {cmd_cpu:.2f} s "
                f"(largest child peak RSS {after_cpu.ru_maxrss / 1024:,.0f} MB)"
            )
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
            written = sorted(p.name for p in (folder / "out").iterdir()) if (folder / "out").exists() else []
            print(
                f"command: {args.cases:,}-line CSV ({size / 1e6:.0f} MB) read, triaged and written "
                f"in {t_cmd:.2f} s "
                f"(exit {done.returncode}; target < {TARGET_COMMAND_S:.0f} s): {', '.join(written)}"
            )
            ok &= done.returncode == 0 and t_cmd < TARGET_COMMAND_S
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
