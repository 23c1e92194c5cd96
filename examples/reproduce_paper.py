"""Reproduce the paper's method on a folder of RIPE Atlas archive files.

    python examples/reproduce_paper.py                          # a generated folder
    python examples/reproduce_paper.py path/to/atlas [2015-01-01 2022-12-31] [--every K] [--database FILE]

The folder holds daily files ``YYYYMMDD.json.bz2`` (flat, like the reference repository's
``atlas/`` folder) or RIPE's ``YYYY/MM/YYYYMMDD.json.bz2`` tree. The example builds the ground
truth with the REFERENCE preset (Komosny 2023 as coded: first-seen "most distant" selection, the
country change tested after de-duplication, strict borders), geolocates it, and prints the paper's
tables: addresses per country and year (Tables 4-6), accuracy per year, the evidential table
(Table 8) under the reference and the default (conservative) policies, and the naive methods. It
writes a report to ./reproduce-report.

Without a folder it GENERATES one (flat layout, 3 years, 300 probes, every 30th day): the numbers
then describe generated data, not the real Atlas archive.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ipevidence.accuracy import address_table, naive_methods_table
from ipevidence.archive import LocalArchive
from ipevidence.assessment import EvidentialAssessor
from ipevidence.backends import open_database
from ipevidence.defaults import DATABASE_ATTRIBUTION, default_database_path
from ipevidence.history import build_ground_truth
from ipevidence.report.build import assessor_report, top_countries


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", nargs="?", help="folder of archive files (default: generate one)")
    parser.add_argument("start", nargs="?", type=dt.date.fromisoformat)
    parser.add_argument("end", nargs="?", type=dt.date.fromisoformat)
    parser.add_argument("--every", type=int, default=None, help="use every K-th day")
    parser.add_argument("--database", default=None, help="database file (default: the shipped one)")
    parser.add_argument("--output", default="reproduce-report", help="report directory")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.folder:
            folder = Path(args.folder)
            start = args.start or dt.date(2015, 1, 1)
            end = args.end or dt.date(2022, 12, 31)
            every = args.every or 1
        else:
            from ipevidence.demo import generate_demo_archive

            folder = Path(tmp) / "atlas"
            start, end, every = dt.date(2022, 1, 1), dt.date(2024, 9, 30), args.every or 30
            generate_demo_archive(
                folder, start=start, end=end, every=every, probes=300, seed=11, layout="flat"
            )
            print(f"generated a flat archive folder ({folder.name}/YYYYMMDD.json.bz2), {start} to {end}")

        # the archive reader parses days in a process pool by default (the right choice for years of
        # real files); a generated folder of a few dozen small days is parsed faster by two threads
        executor = None if args.folder else ThreadPoolExecutor(max_workers=2)
        try:
            gt = build_ground_truth(
                LocalArchive(folder),
                start,
                end,
                preset="reference",
                every=every,
                progress=False,
                executor=executor,
            )
        finally:
            if executor is not None:
                executor.shutdown()
        prov = gt.provenance
        if prov is not None:
            used, missing, corrupt = len(prov.used), len(prov.missing), len(prov.corrupt)
            print(f"archive days: {used} used, {missing} missing, {corrupt} corrupt")
        for step in gt.funnel.steps:
            print(f"  {step.name:<28} in {step.rows_in:>9,}  removed {step.removed:>8,}")
        print(f"ground truth: {len(gt):,} IPv4 rows")

        backend = open_database(args.database or default_database_path())
        reference = EvidentialAssessor(gt, backend, policy="reference")
        default = EvidentialAssessor(gt, backend, policy="default")
        located = reference.located
        first, last = located.first_year, located.last_year
        countries = top_countries(located, first, last, n=8)
        date = dt.date(last, 12, 31)

        print()
        print(address_table(located, countries, first, last))
        print()
        for c in countries[:3]:
            print(located.country_accuracy(c, first, last).table())
            print()
        print(reference.table(countries, date))
        print()
        print(default.table(countries, date))
        if len(countries) >= 2:
            print()
            print(
                naive_methods_table(
                    located, countries[0], last, observed_year=first, other_country=countries[1]
                )
            )
        files = assessor_report(default, date, countries=countries).write(args.output)
        print()
        print(files)
    print(DATABASE_ATTRIBUTION)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
