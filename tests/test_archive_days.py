"""iter_days: date order, missing/corrupt days, parallel executors (process pool, Dask), the parsed cache."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ipevidence.archive.parse as parse_mod
from conftest import assert_same_columns
from ipevidence.archive import (
    PARSER_VERSION,
    LocalArchive,
    ParsedDayCache,
    date_range,
    iter_days,
    load_snapshot,
    parse_day,
    save_snapshot,
)
from ipevidence.provenance import sha256_file
from ipevidence.synthetic.archive import SyntheticArchiveConfig, SyntheticTruth, generate_archive

START = dt.date(2023, 3, 1)
END = dt.date(2023, 3, 8)
MISSING = (dt.date(2023, 3, 3),)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticTruth]:
    root = tmp_path_factory.mktemp("archive")
    cfg = SyntheticArchiveConfig(
        seed=11,
        start=START,
        end=END,
        n_probes=120,
        record_shape="mixed",
        missing_days=MISSING,
        corrupt_days=1,
    )
    return root, generate_archive(root, cfg)


def _check_run(out: list[Any], truth: SyntheticTruth) -> None:
    days = date_range(START, END)
    assert [a.day for a, _ in out] == days
    for rec, snap in out:
        if rec.day in truth.missing_days:
            assert rec.status == "missing"
            assert snap is None
        elif rec.day in truth.corrupt_days:
            assert rec.status == "corrupt"
            assert snap is None
            assert rec.sha256 == sha256_file(truth.directory / truth.files[rec.day])  # type: ignore[operator]
            assert "truncated" in (rec.reason or "")
        else:
            assert rec.status == "ok"
            assert snap is not None
            assert rec.sha256 == sha256_file(truth.directory / truth.files[rec.day])  # type: ignore[operator]
            assert snap.source is not None
            assert snap.source.sha256 == rec.sha256
            assert_same_columns(truth.expected_snapshot(rec.day), snap)


def test_inline_in_date_order(archive: tuple[Path, SyntheticTruth]) -> None:
    root, truth = archive
    days = list(reversed(date_range(START, END)))  # order of the request does not matter
    out = list(iter_days(LocalArchive(root), days, workers=1, cache=None, progress=False))
    _check_run(out, truth)


def test_thread_pool_and_bounded_lookahead(archive: tuple[Path, SyntheticTruth]) -> None:
    root, truth = archive
    state = {"submitted": 0, "max_ahead": 0}
    consumed = 0
    lock = threading.Lock()

    class Counting(cf.ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
            with lock:
                state["submitted"] += 1
                state["max_ahead"] = max(state["max_ahead"], state["submitted"] - consumed)
            return super().submit(fn, *args, **kwargs)

    out = []
    with Counting(max_workers=2) as pool:
        for item in iter_days(
            LocalArchive(root), date_range(START, END), executor=pool, cache=None, lookahead=2
        ):
            out.append(item)
            consumed += 1
    _check_run(out, truth)
    assert state["submitted"] == len(truth.ok_days) + len(truth.corrupt_days)
    assert state["max_ahead"] <= 2


def test_default_process_pool(archive: tuple[Path, SyntheticTruth]) -> None:
    root, truth = archive
    out = list(iter_days(LocalArchive(root), date_range(START, END), cache=None, progress=False))
    _check_run(out, truth)


def test_dask_local_cluster(archive: tuple[Path, SyntheticTruth]) -> None:
    from distributed import Client, LocalCluster

    root, truth = archive
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        out = list(
            iter_days(LocalArchive(root), date_range(START, END), executor=client.get_executor(), cache=None)
        )
    _check_run(out, truth)


def test_parsed_cache_skips_decompression(
    archive: tuple[Path, SyntheticTruth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, truth = archive
    cache = ParsedDayCache(tmp_path / "parsed")
    days = date_range(START, END)
    with cf.ThreadPoolExecutor(2) as pool:
        first = list(iter_days(LocalArchive(root), days, executor=pool, cache=cache))
    _check_run(first, truth)
    files = sorted(p.name for p in (tmp_path / "parsed").rglob("*.npz"))
    assert len(files) == len(truth.ok_days)
    assert len(list((tmp_path / "parsed").rglob("*.corrupt"))) == len(truth.corrupt_days)
    assert all(f.endswith(f".v{PARSER_VERSION}.npz") for f in files)

    def boom(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decompressed although cached")

    monkeypatch.setattr(parse_mod, "bunzip", boom)
    with cf.ThreadPoolExecutor(2) as pool:
        second = list(iter_days(LocalArchive(root), days, executor=pool, cache=cache))
    _check_run(second, truth)  # the corrupt verdict is cached too
    for (a1, s1), (a2, s2) in zip(first, second, strict=True):
        assert a1 == a2
        if s1 is not None:
            assert s2 is not None
            assert dict(s1.counts) == dict(s2.counts)
            assert s1.source == s2.source


def test_cache_default_dir_from_env(
    archive: tuple[Path, SyntheticTruth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, truth = archive
    monkeypatch.setenv("IPEVIDENCE_CACHE", str(tmp_path / "c"))
    list(iter_days(LocalArchive(root), [truth.ok_days[0]], progress=False))
    assert len(list((tmp_path / "c" / "parsed").rglob("*.npz"))) == 1


def test_snapshot_file_roundtrip_and_damage(archive: tuple[Path, SyntheticTruth], tmp_path: Path) -> None:
    root, truth = archive
    day = truth.ok_days[0]
    snap = parse_day(root / truth.files[day])
    path = tmp_path / "s.npz"
    save_snapshot(path, snap)
    back = load_snapshot(path)
    assert_same_columns(snap, back)
    assert back.day == snap.day
    assert dict(back.counts) == dict(snap.counts)
    assert back.source == snap.source
    with np.load(path, allow_pickle=False) as z:  # plain arrays only
        assert "meta" in z.files
    cache = ParsedDayCache(tmp_path / "pc")
    assert snap.source is not None
    sha = snap.source.sha256 or ""
    cache.put(sha, snap)
    assert sha in cache
    cache.path_for(sha).write_bytes(b"PK\x03\x04 damaged")
    assert cache.get(sha) is None  # a damaged cache file is ignored, never trusted
    with pytest.raises(ValueError, match="unreadable"):
        load_snapshot(cache.path_for(sha))
    assert [p.name for p in tmp_path.rglob(".*")] == []  # no temporary files left behind


def test_a_pool_worker_gives_parse_days_snapshot_and_the_file_verdicts(
    archive: tuple[Path, SyntheticTruth],
) -> None:
    """``parse_file`` (what a pool worker runs; it hashes the file once) gives exactly the
    snapshot ``parse_day(path)`` gives, source record included, and a corrupt day's reason and
    SHA-256."""
    from ipevidence.archive import parse_file
    from ipevidence.errors import ArchiveCorruptError

    root, truth = archive
    seen = {"ok": 0, "corrupt": 0}
    for day, name in sorted(truth.files.items()):
        path = root / name
        status, snap, bad = parse_file(str(path), day)
        if day in truth.corrupt_days:
            assert (status, snap) == ("corrupt", None)
            assert bad is not None
            with pytest.raises(ArchiveCorruptError) as err:
                parse_day(path)
            assert bad == (err.value.reason, sha256_file(path))
            seen["corrupt"] += 1
            continue
        want = parse_day(path)
        assert status == "ok"
        assert bad is None
        assert snap is not None
        assert snap.source == want.source
        assert snap.source is not None
        assert snap.source.name == path.name
        assert snap.source.sha256 == sha256_file(path)
        assert snap.counts == want.counts
        assert_same_columns(snap, want)
        seen["ok"] += 1
    assert seen["corrupt"] == 1
    assert seen["ok"] >= 5
