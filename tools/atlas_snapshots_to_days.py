"""Write RIPE Atlas probe snapshots (CSV) as archive days, so the pipeline runs on real probes.

    python tools/atlas_snapshots_to_days.py ../shared/data/atlas-snapshots-2023/\\
probe-snapshots-2023-04-18-to-05-12.csv.gz days/ [--shape mixed|flat|nested] [--layout tree|flat]
    ipevidence build 2023-04-18 2023-05-12 --source days/ -o gt-2023.npz

One bzip2 JSON day per snapshot date. The snapshots have no status or ASN: every record is written
Connected (the snapshots list connected probes) with the private-use AS number 4200000000 (RFC
6996; in no cloud set, so neither the ASN rule nor the cloud filter decides anything); see
:mod:`ipevidence.synthetic.snapshots` and docs/databases.md.
"""

from __future__ import annotations

import argparse
import sys

from ipevidence.synthetic.snapshots import write_snapshot_days


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("snapshots", help="the snapshot CSV (.csv or .csv.gz)")
    ap.add_argument("directory", help="the archive folder to write")
    ap.add_argument("--shape", choices=("mixed", "flat", "nested"), default="mixed", help="record shape")
    ap.add_argument("--layout", choices=("tree", "flat"), default="tree", help="YYYY/MM/ folders or flat")
    args = ap.parse_args(argv)
    files = write_snapshot_days(args.snapshots, args.directory, shape=args.shape, layout=args.layout)
    for day, path in sorted(files.items()):
        print(f"{day.isoformat()}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
