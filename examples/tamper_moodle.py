"""Tamper analysis of a Moodle log export (the paper's e-learning example).

    python examples/tamper_moodle.py                      # a generated export with planted cases
    python examples/tamper_moodle.py logs.csv [Europe/Prague]   # your own export (and its time zone)

Without arguments the example GENERATES a Moodle export (English time format, minutes only) for 60
accounts over two weeks, with planted cases: a VPN hop to a far country minutes after a home login,
a neighbour hop and a plausible flight (both must NOT be found), a cloud address, a credentials-
sharing pattern across two services and a private address. Addresses are drawn from the shipped
database's own ranges, which also geolocates every entry. The report lists what makes the country
location evidence void, and for which windows.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ipevidence.backends import IP2LocationBackend
from ipevidence.defaults import DATABASE_ATTRIBUTION, default_database_path
from ipevidence.synthetic.logs import generate_log, write_moodle_csv
from ipevidence.tamper import read_moodle
from ipevidence.tamper.analysis import analyse


def main(argv: list[str]) -> int:
    backend = IP2LocationBackend(default_database_path())
    with tempfile.TemporaryDirectory() as tmp:
        if argv:
            path = Path(argv[0])
            tz = argv[1] if len(argv) > 1 else "UTC"
            planted = None
        else:
            log = generate_log(accounts=60, entries=1500, days=14, seed=5, address_source=backend)
            path = Path(tmp) / "moodle-logs.csv"
            write_moodle_csv(log, path)
            tz = "UTC"
            planted = log.cases
        read = read_moodle(path, tz=tz)
        print(f"{path.name}: {read.lines} lines, {read.entries} entries, {read.problem_count} malformed")
        report = analyse(read, backend=backend)
        print(report.to_markdown(timelines=False))
        if planted is not None:
            print("Planted cases (what the generator put in the log):")
            for case in planted:
                expected = case.finding or "nothing (must not be found)"
                print(f"  - {case.scenario}: {case.account}, expected {expected}")
    print()
    print(DATABASE_ATTRIBUTION)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
