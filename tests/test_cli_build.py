"""``fetch`` and ``build`` on a generated archive: a local folder and a local HTTP server (127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipevidence.cli import ExitCode
from ipevidence.groundtruth import GroundTruth
from ipevidence.synthetic.archive import SyntheticArchiveConfig, SyntheticTruth, generate_archive
from test_cli import run

START, END = dt.date(2023, 3, 1), dt.date(2023, 3, 20)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticTruth]:
    root = tmp_path_factory.mktemp("archive")
    cfg = SyntheticArchiveConfig(
        seed=5, start=START, end=END, n_probes=120, missing_days=(dt.date(2023, 3, 4),), corrupt_days=1
    )
    return root, generate_archive(root, cfg)


@pytest.fixture(scope="module")
def server(archive: tuple[Path, SyntheticTruth]) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(archive[0]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_fetch_from_http_reports_missing_and_corrupt(
    archive: tuple[Path, SyntheticTruth], server: str, tmp_path: Path
) -> None:
    truth = archive[1]
    out = run(
        "fetch", START.isoformat(), END.isoformat(), "--source", server, "--cache-dir", str(tmp_path), "-q"
    )
    assert out.returncode == ExitCode.OK, out.stderr
    corrupt = truth.corrupt_days[0].isoformat()
    assert "days requested: 20" in out.stdout
    assert "days available: 18" in out.stdout
    assert "days missing:   1 (2023-03-04)" in out.stdout
    assert f"days corrupt:   1 ({corrupt})" in out.stdout
    assert f"cache: {tmp_path / 'archive'}" in out.stdout
    cached = sorted(p.name for p in (tmp_path / "archive").rglob("*.json.bz2"))
    assert len(cached) == 18
    assert not list((tmp_path / "archive").rglob("*.tmp"))


def test_fetch_nothing_available(tmp_path: Path) -> None:
    out = run("fetch", "2020-01-01", "2020-01-02", "--source", str(tmp_path))
    assert out.returncode == ExitCode.DATA_ERROR
    assert "none of the 2 days" in out.stderr


def test_fetch_end_before_start(tmp_path: Path) -> None:
    out = run("fetch", "2020-01-02", "2020-01-01", "--source", str(tmp_path))
    assert out.returncode == ExitCode.USAGE
    assert "before start" in out.stderr


def test_build_from_a_folder(archive: tuple[Path, SyntheticTruth], tmp_path: Path) -> None:
    root, truth = archive
    target = tmp_path / "gt.npz"
    csv = tmp_path / "gt.csv"
    args = ("build", START.isoformat(), END.isoformat(), "--source", str(root), "-o", str(target))
    out = run(*args, "--csv", str(csv), "--cache-dir", str(tmp_path / "cache"), "-q")
    assert out.returncode == ExitCode.OK, out.stderr
    assert out.stdout.startswith("Filter funnel (IPv4)")
    for step in ("status", "coordinates", "most_distant", "border", "cloud_asn"):
        assert f"\n{step} " in out.stdout
    assert "archive days: 18 used, 1 missing, 1 corrupt" in out.stdout
    gt = GroundTruth.load(target)
    assert f"ground truth: {len(gt):,} rows written to {target}" in out.stdout
    assert len(gt) > 100
    assert gt.provenance is not None
    assert {d.day for d in gt.provenance.corrupt} == set(truth.corrupt_days)
    assert csv.read_text(encoding="utf-8").splitlines()[0].startswith("ip,cntr,id,date,latlon")
    # the reference preset and another policy run as well
    ref = run(*args[:-1], str(tmp_path / "ref.npz"), "--preset", "reference", "--policy", "per-run", "-q")
    assert ref.returncode == ExitCode.OK, ref.stderr
    assert GroundTruth.load(tmp_path / "ref.npz").parameters["dedup"] == "per-run"
