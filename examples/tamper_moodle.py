"""Tamper analysis of a Moodle log export with a second service's log (the paper's e-learning example).

    python examples/tamper_moodle.py                           # generated logs with planted cases
    python examples/tamper_moodle.py logs.csv [Europe/Prague]   # your own export (and its time zone)

Without arguments the example GENERATES the logs of 60 accounts over two weeks on three services,
with planted cases, and writes them as an investigator would receive them: the e-learning
platform's Moodle export (``moodle-logs.csv``: only Moodle's entries, English time format, minutes
only) and the mail and VPN gateway's log (``mail-vpn.csv``: a generic CSV). Both are read and
analysed together, because two of the planted cases only show across services:

* a VPN hop to a far country minutes after a home login (impossible travel, in the VPN log);
* credentials sharing: Moodle at home, mail from a neighbouring country 20 minutes later, Moodle at
  home again (cross-service);
* a login from an Amazon (AWS) address (hosting; found with the providers' published ranges
  shipped with ipevidence);
* a login logged with a private address (non-public);
* a neighbour hop and a plausible flight, which must NOT be found.

Addresses are drawn from the shipped database's own ranges, which also geolocates every entry. The
example prints the report, then checks every planted case against the findings (file and line
numbers of each file) and exits 1 if any planted case was missed or any must-not case was found.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ipevidence.backends import IP2LocationBackend
from ipevidence.defaults import DATABASE_ATTRIBUTION, default_database_path
from ipevidence.netdata import shipped_cloud_ranges
from ipevidence.synthetic.logs import generate_log, write_csv, write_moodle_csv
from ipevidence.tamper import ColumnMapping, read_csv, read_moodle
from ipevidence.tamper.analysis import analyse

START = dt.datetime(2022, 11, 7, tzinfo=dt.timezone.utc)


def file_lines(written: Any, log_lines: tuple[int, ...]) -> list[int]:
    """The file line numbers (header = line 1) of the log's lines ``log_lines`` in a written file."""
    where = {int(x): k + 2 for k, x in enumerate(np.asarray(written).tolist())}
    return [where[x] for x in log_lines if x in where]


def main(argv: list[str]) -> int:
    backend = IP2LocationBackend(default_database_path())
    cloud = {"cloud ranges (shipped, 2022)": shipped_cloud_ranges(START.date())}
    with tempfile.TemporaryDirectory() as tmp:
        if argv:
            read = read_moodle(Path(argv[0]), tz=argv[1] if len(argv) > 1 else "UTC")
            print(
                f"{read.source}: {read.lines} lines, {read.entries} entries, {read.problem_count} malformed"
            )
            print(analyse(read, backend=backend, networks=cloud).to_markdown(timelines=False))
            print()
            print(DATABASE_ATTRIBUTION)
            return 0
        # home and travel addresses come from the database's ranges outside the cloud ranges, so
        # only the planted case is a hosting address
        ranges = cloud["cloud ranges (shipped, 2022)"]
        log = generate_log(
            accounts=60, entries=1500, days=14, seed=5, start=START, address_source=backend, avoid=ranges
        )
        moodle_path = Path(tmp) / "moodle-logs.csv"
        other_path = Path(tmp) / "mail-vpn.csv"
        moodle_written = write_moodle_csv(log, moodle_path)  # Moodle's own entries only
        other_written = write_csv(log, other_path, services=("mail", "vpn"))
        mapping = ColumnMapping(
            time="time", account="account", address="ip", service="service", event="event"
        )
        reads = [read_moodle(moodle_path, tz="UTC"), read_csv(other_path, mapping)]
        for r, path in zip(reads, (moodle_path, other_path), strict=True):
            print(f"{path.name}: {r.lines} lines, {r.entries} entries, {r.problem_count} malformed")
        report = analyse(reads, backend=backend, networks=cloud)
        print(report.to_markdown(timelines=False))

        misses = 0
        print("Planted cases (what the generator put in the logs) against the findings:")
        for case in log.cases:
            planted: set[tuple[str, int]] = set()
            for name, written in (("moodle-logs.csv", moodle_written), ("mail-vpn.csv", other_written)):
                planted |= {(name, line) for line in file_lines(written, case.lines)}
            where = ", ".join(f"{name}:{line}" for name, line in sorted(planted))
            mine = [f for f in report.findings if f.account == case.account]
            if case.finding is None:
                wrong = bool(mine)
                verdict = "FOUND, but must not be" if wrong else "not found, as it must not be"
            else:
                hits = [f for f in mine if f.kind == case.finding]
                # the finding must name planted entries only: its file and line numbers
                named = {(Path(e.entry.source).name, e.entry.line) for f in hits for e in f.entries}
                wrong = not hits or not named <= planted
                shown = ", ".join(f"{n}:{line}" for n, line in sorted(named))
                verdict = "MISSED" if wrong else f"found: {hits[0].id} {case.finding} at {shown}"
            misses += wrong
            print(f"  - {case.scenario} ({case.account}; planted at {where}): {verdict}")
        expected = sum(1 for c in log.cases if c.finding is not None)
        others = [f for f in report.findings if f.account not in {c.account for c in log.cases}]
        misses += len(others)
        print(
            f"{len(log.cases)} planted cases: {expected} to find, {len(log.cases) - expected} to leave; "
            f"{len(others)} findings outside the planted cases; "
            + ("every planted case as expected" if not misses else f"{misses} NOT as expected")
        )
    print()
    print(DATABASE_ATTRIBUTION)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
