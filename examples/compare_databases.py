"""Compare two geolocation databases on the same addresses.

    python examples/compare_databases.py                 # the shipped database vs a generated CSV one
    python examples/compare_databases.py A.BIN B.mmdb    # your own two files (any supported format)

Without arguments the second database is GENERATED offline from the shipped IP2Location LITE DB1:
the same ranges, dated five months later, with 3 % of the ranges given to another country, as if the
address space had moved between two builds. The example geolocates 200,000 addresses drawn from
the shipped database's ranges with both and prints where they agree.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ipevidence.addresses import format_ipv4
from ipevidence.backends import compare_databases, open_database
from ipevidence.defaults import DATABASE_ATTRIBUTION, default_database_path


def generated_csv_database(directory: Path, seed: int = 1) -> Path:
    """A CSV range table derived from the shipped database, with 3 % of its ranges moved."""
    shipped = open_database(default_database_path())
    ranges = shipped.table.family(4)  # type: ignore[attr-defined]
    starts, ends, countries = ranges.starts, ranges.ends, ranges.countries.copy()
    rng = np.random.default_rng(seed)
    moved = rng.random(len(countries)) < 0.03
    pool = np.unique(countries[countries != b""])
    countries[moved] = rng.choice(pool, size=int(moved.sum()))
    path = directory / "moved-ranges-2025-03-01.csv"
    lines = ["# build_date: 2025-03-01", "start,end,country"]
    lo, hi = format_ipv4(starts), format_ipv4(ends)
    for a, b, c in zip(lo, hi, countries.tolist(), strict=True):
        lines.append(f"{a},{b},{c.decode('ascii') or '-'}")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def sample_addresses(n: int = 200_000, seed: int = 2) -> npt.NDArray[np.uint32]:
    """``n`` addresses drawn uniformly from the shipped database's located ranges."""
    shipped = open_database(default_database_path())
    ranges = shipped.table.family(4)  # type: ignore[attr-defined]
    located = ranges.countries != b""
    starts = ranges.starts[located].astype(np.int64)
    sizes = (ranges.ends[located].astype(np.int64) - starts + 1).astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(starts), size=n, p=sizes / sizes.sum())
    offsets = np.floor(rng.random(n) * sizes[idx]).astype(np.int64)
    out: npt.NDArray[np.uint32] = (starts[idx] + offsets).astype(np.uint32)
    return out


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        if len(argv) == 2:
            paths = [Path(argv[0]), Path(argv[1])]
        elif not argv:
            paths = [default_database_path(), generated_csv_database(Path(tmp))]
        else:
            print(__doc__)
            return 2
        databases = [open_database(p) for p in paths]
        for db in databases:
            info = db.describe()
            print(f"{info.name}: {info.kind}, built {info.build_date}, {info.ranges:,} ranges")
        comparison = compare_databases(databases, sample_addresses())
        print()
        print(comparison)
    print()
    print(DATABASE_ATTRIBUTION)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
