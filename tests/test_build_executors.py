"""The same archive built in-process, with threads, a process pool and a Dask LocalCluster (the cluster
reading the files, or each worker fetching its own days) gives byte-identical ground truths; warm
rebuilds start no process pool; workers default to the usable cores bounded by memory; the per-day
limits reach the build and the ``build`` command."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ipevidence.archive.days as days_mod
from ipevidence.archive import HttpArchive, LocalArchive, ParsedDayCache
from ipevidence.cli import ExitCode, main
from ipevidence.history import build_ground_truths
from ipevidence.synthetic.archive import SyntheticArchiveConfig, SyntheticTruth, generate_archive

START = dt.date(2023, 5, 1)
END = dt.date(2023, 5, 10)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticTruth]:
    root = tmp_path_factory.mktemp("archive")
    cfg = SyntheticArchiveConfig(
        seed=16,
        start=START,
        end=END,
        n_probes=150,
        record_shape="mixed",
        missing_days=(dt.date(2023, 5, 4),),
        corrupt_days=1,
    )
    return root, generate_archive(root, cfg)


def _saved(gts: dict[int, Any], where: Path) -> dict[int, bytes]:
    where.mkdir(parents=True, exist_ok=True)
    return {f: gt.save(where / f"gt{f}.npz").read_bytes() for f, gt in gts.items()}


def _build(root: Path, out: Path, **kw: Any) -> dict[int, bytes]:
    gts = build_ground_truths(LocalArchive(root), START, END, progress=False, border_check=False, **kw)
    assert len(gts[4]) > 0
    assert len(gts[6]) > 0
    prov = gts[4].provenance
    assert prov is not None
    assert len(prov.missing) == 1
    assert len(prov.corrupt) == 1
    return _saved(gts, out)


@pytest.fixture(scope="module")
def reference(
    archive: tuple[Path, SyntheticTruth], tmp_path_factory: pytest.TempPathFactory
) -> dict[int, bytes]:
    """In this process, one day after the other, no cache."""
    root, _ = archive
    return _build(root, tmp_path_factory.mktemp("ref"), workers=1, cache=None)


def test_threads_and_process_pool_byte_identical(
    archive: tuple[Path, SyntheticTruth], reference: dict[int, bytes], tmp_path: Path
) -> None:
    root, _ = archive
    with cf.ThreadPoolExecutor(2) as pool:
        assert _build(root, tmp_path / "threads", executor=pool, cache=None) == reference
    assert _build(root, tmp_path / "processes", workers=2, cache=None) == reference


def test_dask_local_cluster_byte_identical(
    archive: tuple[Path, SyntheticTruth], reference: dict[int, bytes], tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster

    root, _ = archive
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        ex = client.get_executor()
        # the cluster parses files this process found
        assert _build(root, tmp_path / "dask", executor=ex, cache=None) == reference
        # each worker fetches (here: reads the shared folder) and parses its own days, through a
        # parsed-day cache on shared storage; a second run answers from that cache on the workers
        shared = ParsedDayCache(tmp_path / "shared-cache")
        kw: dict[str, Any] = {"executor": ex, "cache": shared, "fetch_on_workers": True}
        assert _build(root, tmp_path / "dask-fetch", **kw) == reference
        assert len(list(shared.directory.rglob("*.npz"))) == 8
        assert _build(root, tmp_path / "dask-fetch-warm", **kw) == reference
        # the command: --scheduler (and --fetch-on-workers) give the file a local build gives
        args = ["build", START.isoformat(), END.isoformat(), "--source", str(root), "--quiet"]
        local, remote = tmp_path / "local.npz", tmp_path / "remote.npz"
        assert main(["--cache-dir", str(tmp_path / "c1"), *args, "-o", str(local), "--workers", "1"]) == 0
        on_cluster = ["--scheduler", cluster.scheduler_address, "--fetch-on-workers"]
        assert main(["--cache-dir", str(tmp_path / "c2"), *args, "-o", str(remote), *on_cluster]) == 0
        assert remote.read_bytes() == local.read_bytes()
        assert len(list((tmp_path / "c2" / "parsed").rglob("*.npz"))) == 8  # written by the workers


def test_warm_rebuild_starts_no_process_pool(
    archive: tuple[Path, SyntheticTruth],
    reference: dict[int, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, _ = archive
    cache = ParsedDayCache(tmp_path / "parsed")
    started: list[int] = []
    real_pool: Callable[..., cf.ProcessPoolExecutor] = cf.ProcessPoolExecutor

    def counting_pool(*args: Any, **kwargs: Any) -> cf.ProcessPoolExecutor:
        started.append(1)
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(cf, "ProcessPoolExecutor", counting_pool)
    assert _build(root, tmp_path / "cold", workers=2, cache=cache) == reference
    assert started == [1]
    # every day (the corrupt one too) is now answered from the cache on this process's threads
    assert _build(root, tmp_path / "warm", workers=2, cache=cache) == reference
    assert started == [1]
    # the old way, every hit shipped through the pool, gives the same bytes
    assert _build(root, tmp_path / "warm-pool", workers=2, cache=cache, cache_hits="executor") == reference
    assert started == [1, 1]


def test_default_workers_bounded_by_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(days_mod, "_usable_cores", lambda: 8)
    monkeypatch.setattr(days_mod, "_available_memory", lambda: None)
    assert days_mod.default_workers() == 8
    monkeypatch.setattr(days_mod, "_available_memory", lambda: 3 * days_mod.WORKER_MEMORY + 1)
    assert days_mod.default_workers() == 3
    monkeypatch.setattr(days_mod, "_available_memory", lambda: 64 * 2**30)
    assert days_mod.default_workers() == 8
    monkeypatch.setattr(days_mod, "_available_memory", lambda: 0)
    assert days_mod.default_workers() == 1


def test_default_workers_on_this_machine() -> None:
    memory = days_mod._available_memory()
    assert memory is not None
    assert memory > 0
    assert 1 <= days_mod.default_workers() <= days_mod._usable_cores()


def test_fetch_on_workers_needs_an_executor(archive: tuple[Path, SyntheticTruth]) -> None:
    root, _ = archive
    with pytest.raises(ValueError, match="needs an executor"):
        list(days_mod.iter_days(LocalArchive(root), [START], fetch_on_workers=True, cache=None))
    with pytest.raises(ValueError, match="cache_hits"):
        list(days_mod.iter_days(LocalArchive(root), [START], cache=None, cache_hits="nowhere"))  # type: ignore[arg-type]


def test_http_archive_travels_to_workers(tmp_path: Path) -> None:
    src = HttpArchive(
        "http://127.0.0.1:9/atlas", tmp_path, retries=1, max_download=5 * 2**20, deadline=30.0, workers=3
    )
    copy = pickle.loads(pickle.dumps(src))
    assert isinstance(copy, HttpArchive)
    assert copy.base_url == src.base_url
    assert copy.cache_dir == src.cache_dir
    assert (copy.retries, copy.max_download, copy.deadline, copy.workers) == (1, 5 * 2**20, 30.0, 3)
    assert copy.session is not src.session


def test_limits_reach_the_build(archive: tuple[Path, SyntheticTruth]) -> None:
    root, _ = archive
    gts = build_ground_truths(
        LocalArchive(root), START, END, families=(4,), workers=1, cache=None, progress=False, max_records=10
    )
    prov = gts[4].provenance
    assert prov is not None
    assert not prov.used
    assert len(prov.corrupt) == 9
    assert any("max_records" in (d.reason or "") for d in prov.corrupt)
    gts = build_ground_truths(
        LocalArchive(root),
        START,
        END,
        families=(4,),
        workers=1,
        cache=None,
        progress=False,
        max_decompressed=1000,
    )
    prov = gts[4].provenance
    assert prov is not None
    assert not prov.used
    assert len(prov.corrupt) == 9


def test_build_command_workers_and_limits(
    archive: tuple[Path, SyntheticTruth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = archive
    base = [
        "--cache-dir",
        str(tmp_path / "cache"),
        "build",
        "2023-05-01",
        "2023-05-10",
        "--source",
        str(root),
    ]
    out = tmp_path / "gt.npz"
    assert main([*base, "-o", str(out), "--workers", "2", "--quiet"]) == ExitCode.OK
    assert out.is_file()
    capsys.readouterr()
    refused = tmp_path / "none.npz"
    code = main([*base, "-o", str(refused), "--workers", "1", "--max-records", "10", "--quiet"])
    assert code != ExitCode.OK
    assert "no usable archive day" in capsys.readouterr().err
    assert not refused.exists()  # although every day is in the parsed-day cache of the first run
    code = main([*base, "-o", str(refused), "--workers", "0"])
    assert code == ExitCode.USAGE
    code = main([*base, "-o", str(refused), "--fetch-on-workers"])
    assert code == ExitCode.USAGE


def test_download_limits_are_checked(tmp_path: Path) -> None:
    base = [
        "--cache-dir",
        str(tmp_path),
        "fetch",
        "2023-05-01",
        "2023-05-02",
        "--source",
        "http://127.0.0.1:9/",
    ]
    assert main([*base, "--max-download", "0", "--quiet"]) == ExitCode.USAGE
    assert main([*base, "--deadline", "0", "--quiet"]) == ExitCode.USAGE
