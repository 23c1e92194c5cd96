"""Ingest archive days with Dask: parse them on a distributed cluster, then build the ground truth.

    python examples/dask_ingestion.py                 # a generated archive, a local 2-worker cluster
    python examples/dask_ingestion.py FOLDER START END [SCHEDULER_ADDRESS]

The archive reader takes any ``concurrent.futures.Executor``; a Dask client's
``get_executor()`` is one. With ``fetch_on_workers=True`` each worker fetches its own days (here:
reads them from the folder, which stands for shared storage; with an ``HttpArchive`` it would
download them) and parses them, and only the days' columns come back, while the ground truth is
linked in this process as days arrive. The result is byte-identical to a local build.
docs/scaling.md describes running on a real cluster (dask-jobqueue, Kubernetes).
Without arguments the example GENERATES a small archive and starts a ``distributed.LocalCluster``
(install the extra: ``pip install 'ipevidence[dask]'``).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from ipevidence.archive import LocalArchive
from ipevidence.history import build_ground_truth


def main(argv: list[str]) -> int:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("this example needs dask[distributed]: pip install 'ipevidence[dask]'", file=sys.stderr)
        return 6
    with tempfile.TemporaryDirectory() as tmp:
        if len(argv) >= 3:
            folder, start, end = Path(argv[0]), dt.date.fromisoformat(argv[1]), dt.date.fromisoformat(argv[2])
            address = argv[3] if len(argv) > 3 else None
        elif not argv:
            from ipevidence.demo import generate_demo_archive

            folder = Path(tmp) / "archive"
            start, end, address = dt.date(2023, 1, 1), dt.date(2023, 12, 31), None
            generate_demo_archive(folder, start=start, end=end, every=14, probes=400, seed=5)
            print(f"generated an archive in {folder}")
        else:
            print(__doc__)
            return 2
        every = 1 if argv else 14
        cluster = None
        if address is None:
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            )
            address = cluster.scheduler_address
        try:
            with Client(address) as client:  # type: ignore[no-untyped-call]
                print(f"cluster: {client}")
                t = time.perf_counter()
                gt = build_ground_truth(
                    LocalArchive(folder),
                    start,
                    end,
                    every=every,
                    executor=client.get_executor(),
                    fetch_on_workers=True,  # each worker reads (or downloads) and parses its days
                    cache=None,  # or a ParsedDayCache on storage every worker can write
                    progress=False,
                )
                print(f"ground truth: {len(gt):,} IPv4 rows in {time.perf_counter() - t:.1f} s")
        finally:
            if cluster is not None:
                cluster.close()
        for step in gt.funnel.steps:
            print(f"  {step.name:<28} in {step.rows_in:>9,}  removed {step.removed:>8,}")
        counts = gt.counts_per_country()
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
        print("most ground truth: " + ", ".join(f"{c} {n:,}" for c, n in top))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
