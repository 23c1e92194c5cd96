"""Quickstart: how much is one IP address's country location worth as evidence?

    python examples/quickstart.py                                   # generated ground truth
    python examples/quickstart.py GROUND_TRUTH.npz 93.192.0.1 2024-06-01 [DATABASE]

Without arguments the example builds a small ground truth from a GENERATED RIPE-Atlas-like archive
(4 years, 600 probes, every 30th day; probe addresses drawn from the shipped database's ranges),
then assesses one German address (a Deutsche Telekom address: its network is identified by the
IP-to-ASN data shipped in the package) at an evidence date with the shipped IP2Location LITE
database, and, for contrast, an Akamai address (a CDN: its location says nothing about a user).
With arguments it assesses your address against your saved ground truth (``ipevidence build``).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ipevidence.assessment import Policy, assess
from ipevidence.defaults import DATABASE_ATTRIBUTION


def small_ground_truth(directory: Path) -> Path:
    """Generate a small archive and build its IPv4 ground truth; return the saved file."""
    from ipevidence.archive import LocalArchive
    from ipevidence.demo import generate_demo_archive
    from ipevidence.history import build_ground_truth

    # four years: the default policy wants at least four years of ground truth in the window
    start, end = dt.date(2021, 1, 1), dt.date(2024, 9, 30)
    generate_demo_archive(directory / "archive", start=start, end=end, every=30, probes=600, seed=3)
    # a few dozen small days: two threads parse them faster than a process pool starts
    with ThreadPoolExecutor(max_workers=2) as pool:
        gt = build_ground_truth(
            LocalArchive(directory / "archive"),
            start,
            end,
            every=30,
            cache=None,
            progress=False,
            executor=pool,
        )
    return gt.save(directory / "ground-truth-v4.npz")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        if len(argv) >= 3:
            ground_truth, ip, date = Path(argv[0]), argv[1], dt.date.fromisoformat(argv[2])
            database = argv[3] if len(argv) > 3 else None
            policy = Policy.preset("default")
        elif not argv:
            ground_truth, database = small_ground_truth(Path(tmp)), None
            ip, date = "93.192.0.1", dt.date(2024, 6, 1)
            policy = Policy.preset("default")
        else:
            print(__doc__)
            return 2
        verdict = assess(ip, date, ground_truth=ground_truth, database=database, policy=policy)
        print(verdict)
        print()
        print(f"outcome: {verdict.outcome}")
        if not argv:
            cdn = assess("2.16.1.1", date, ground_truth=ground_truth, policy=policy)
            print(f"2.16.1.1 (AS{cdn.asn}, {cdn.network['provider']}): {cdn.outcome}")
    print(DATABASE_ATTRIBUTION)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
