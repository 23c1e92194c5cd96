"""The cost of a real archive, said before ``fetch`` and ``build`` start, and resuming after an
interruption (issue 15, finding 9): days already downloaded are neither counted nor fetched again."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipevidence.cli import ExitCode
from ipevidence.estimate import estimate_archive
from ipevidence.synthetic.archive import SyntheticArchiveConfig, generate_archive
from test_cli import run

START, END = dt.date(2023, 3, 1), dt.date(2023, 3, 12)


def test_eight_years_cost_what_was_measured() -> None:
    days = (dt.date(2022, 12, 31) - dt.date(2015, 1, 1)).days + 1
    est = estimate_archive(days, cores=2)
    assert days == 2922
    assert round(est.archive_bytes / 1e9, 1) == 2.7
    assert round(est.parsed_bytes / 1e9, 1) == 4.2
    assert 8 * 60 <= est.cold_seconds <= 11 * 60  # "about 10 minutes cold on 2 cores"
    assert est.warm_seconds < 60  # "under a minute warm"
    assert "2,922 days (0 already in the cache), about 2.7 GB to download" in est.fetch_text()
    assert "parsing about 9 min on 2 cores the first time, 4.2 GB of parsed cache" in est.build_text()
    half = estimate_archive(days, cached=1461, cores=2)
    assert half.download_bytes == est.download_bytes - 1461 * (est.archive_bytes // days)
    with pytest.raises(ValueError, match="negative"):
        estimate_archive(-1)


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    root = tmp_path_factory.mktemp("archive")
    generate_archive(root, SyntheticArchiveConfig(seed=9, start=START, end=END, n_probes=60, corrupt_days=0))
    requests: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", requests
    httpd.shutdown()
    httpd.server_close()


def test_fetch_prints_the_estimate_and_resumes(served: tuple[str, list[str]], tmp_path: Path) -> None:
    url, requests = served
    cache = tmp_path / "cache"
    first = run("fetch", START.isoformat(), "2023-03-06", "--source", url, "--cache-dir", str(cache))
    assert first.returncode == ExitCode.OK, first.stderr
    assert "estimate: 6 days (0 already in the cache), about 5.5 MB to download" in first.stderr
    assert len(requests) == 6
    # an interruption: one finished day lost, a half-written download left behind
    day = cache / "archive" / "2023" / "03" / "20230306.json.bz2"
    assert day.is_file()
    day.unlink()
    (day.parent / "20230306.json.bz2.part").write_bytes(b"BZh9 half")
    requests.clear()
    again = run("fetch", START.isoformat(), END.isoformat(), "--source", url, "--cache-dir", str(cache))
    assert again.returncode == ExitCode.OK, again.stderr
    assert "estimate: 12 days (5 already in the cache), about 6.5 MB to download" in again.stderr
    assert "days available: 12" in again.stdout
    # only the 7 days not finished before were fetched
    assert sorted(requests) == [f"/2023/03/202303{d:02d}.json.bz2" for d in range(6, 13)]


def test_build_prints_the_estimate_first(served: tuple[str, list[str]], tmp_path: Path) -> None:
    url, _requests = served
    out = run(
        "build",
        START.isoformat(),
        END.isoformat(),
        "--source",
        url,
        "--cache-dir",
        str(tmp_path),
        "--every",
        "3",
        "-o",
        str(tmp_path / "gt.npz"),
    )
    assert out.returncode == ExitCode.OK, out.stderr
    first = out.stderr.splitlines()[0]
    assert first.startswith(
        "estimate: 4 days (0 already downloaded, 3.7 MB still to download); parsing about"
    )
    assert (tmp_path / "gt.npz").is_file()
