"""Archive sources: local folders, and the HTTP downloader against a local server on 127.0.0.1."""

from __future__ import annotations

import bz2
import datetime as dt
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ipevidence.archive import (
    HttpArchive,
    LocalArchive,
    date_range,
    default_cache_dir,
    fetch_days,
    iter_days,
    relative_path,
    verify_bzip2,
)
from ipevidence.errors import ArchiveCorruptError, ArchiveDownloadError, ArchiveMissingError

D1, D2, D3, D4, D5 = date_range(dt.date(2022, 1, 19), dt.date(2022, 1, 23))


def _day_file(day: dt.date, n: int = 50) -> bytes:
    recs = [
        {
            "id": i + 1,
            "address_v4": f"81.2.{day.day}.{i + 1}",
            "asn_v4": 3320,
            "country_code": "DE",
            "latitude": 51.3,
            "longitude": 9.5,
            "status_name": "Connected",
        }
        for i in range(n)
    ]
    return bz2.compress(json.dumps({"objects": recs}).encode())


class _Server:
    """Routes: path -> list of behaviours consumed one per request (the last one repeats).

    A behaviour is (status, body) or ("truncate", body): announce the full length and send half.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int | str, bytes]]] = {}
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.lock:
                    server.hits[self.path] = server.hits.get(self.path, 0) + 1
                    plan = server.routes.get(self.path)
                    what = (plan.pop(0) if len(plan) > 1 else plan[0]) if plan else (404, b"not found")
                status, body = what
                if status == "truncate":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                assert isinstance(status, int)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/archive/"

    def serve(self, day: dt.date, *behaviours: tuple[int | str, bytes]) -> None:
        self.routes["/archive/" + relative_path(day)] = list(behaviours)

    def hits_for(self, day: dt.date) -> int:
        return self.hits.get("/archive/" + relative_path(day), 0)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def _archive(server: _Server, cache: Path, **kw: object) -> HttpArchive:
    return HttpArchive(server.base, cache, retries=3, backoff=0.0, timeout=(2, 5), **kw)  # type: ignore[arg-type]


def _no_partial_files(cache: Path) -> None:
    leftovers = [
        p for p in cache.rglob("*") if p.is_file() and (p.name.startswith(".") or p.suffix == ".part")
    ]
    assert leftovers == []


def test_download_ok_then_cached(server: _Server, tmp_path: Path) -> None:
    body = _day_file(D1)
    server.serve(D1, (200, body))
    src = _archive(server, tmp_path)
    path = src.local_file(D1)
    assert path == tmp_path / "archive" / "2022" / "01" / "20220119.json.bz2"
    assert path.read_bytes() == body
    assert src.local_file(D1) == path
    assert HttpArchive(server.base, tmp_path).local_file(D1) == path  # a new object sees the cache
    assert server.hits_for(D1) == 1  # an existing verified file is not downloaded again
    assert src.describe() == server.base


def test_404_is_a_missing_day(server: _Server, tmp_path: Path) -> None:
    src = _archive(server, tmp_path)
    with pytest.raises(ArchiveMissingError) as info:
        src.local_file(D2)
    assert info.value.day == D2
    assert isinstance(info.value, FileNotFoundError)
    assert server.hits_for(D2) == 1  # no retries for a 404
    _no_partial_files(tmp_path)


def test_500_then_200_is_retried(server: _Server, tmp_path: Path) -> None:
    body = _day_file(D3)
    server.serve(D3, (500, b"oops"), (503, b"busy"), (200, body))
    sleeps: list[float] = []
    src = HttpArchive(server.base, tmp_path, retries=3, backoff=0.5, sleep=sleeps.append)
    assert src.local_file(D3).read_bytes() == body
    assert server.hits_for(D3) == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff


def test_retries_are_bounded(server: _Server, tmp_path: Path) -> None:
    server.serve(D3, (500, b"down"))
    src = _archive(server, tmp_path)
    with pytest.raises(ArchiveDownloadError, match="after 4 attempts"):
        src.local_file(D3)
    assert server.hits_for(D3) == 4
    _no_partial_files(tmp_path)
    assert not src.cached_path(D3).exists()


def test_truncated_transfer_is_retried_and_never_cached(server: _Server, tmp_path: Path) -> None:
    body = _day_file(D4, 400)
    server.serve(D4, ("truncate", body), (200, body))
    src = _archive(server, tmp_path)
    assert src.local_file(D4).read_bytes() == body
    assert server.hits_for(D4) == 2
    server.serve(D5, ("truncate", _day_file(D5, 400)))
    with pytest.raises(ArchiveDownloadError):
        src.local_file(D5)
    assert not src.cached_path(D5).exists()
    _no_partial_files(tmp_path)


def test_corrupt_file_on_server_is_not_cached(server: _Server, tmp_path: Path) -> None:
    body = _day_file(D1)
    bad = body[: len(body) - 20]  # served whole, but the bzip2 stream is incomplete
    server.serve(D1, (200, bad))
    src = _archive(server, tmp_path)
    with pytest.raises(ArchiveCorruptError) as info:
        src.local_file(D1)
    assert info.value.sha256 == hashlib.sha256(bad).hexdigest()
    assert "truncated" in info.value.reason
    assert not src.cached_path(D1).exists()
    _no_partial_files(tmp_path)
    server.serve(D2, (200, b"<html>maintenance</html>"))
    with pytest.raises(ArchiveCorruptError, match="not a bzip2"):
        src.local_file(D2)


def test_connection_errors_are_retried(tmp_path: Path) -> None:
    src = HttpArchive("http://127.0.0.1:9/", tmp_path, retries=1, backoff=0.0, timeout=(0.5, 0.5))
    with pytest.raises(ArchiveDownloadError, match="ConnectionError"):
        src.local_file(D1)


def test_fetch_days_records_every_day(server: _Server, tmp_path: Path) -> None:
    good = {d: _day_file(d) for d in (D1, D3, D5)}
    for d, b in good.items():
        server.serve(d, (200, b))
    bad = good[D5][:-30]
    server.serve(D4, (200, bad))
    src = _archive(server, tmp_path, workers=3)
    days = fetch_days(src, [D5, D4, D3, D2, D1, D1], progress=False)
    assert [d.day for d in days] == [D1, D2, D3, D4, D5]
    assert [d.status for d in days] == ["ok", "missing", "ok", "corrupt", "ok"]
    assert days[0].sha256 == hashlib.sha256(good[D1]).hexdigest()
    assert days[3].sha256 == hashlib.sha256(bad).hexdigest()
    assert days[0].name == "20220119.json.bz2"
    _no_partial_files(tmp_path)


def test_iter_days_over_http(server: _Server, tmp_path: Path) -> None:
    for d in (D1, D2, D4):
        server.serve(d, (200, _day_file(d, 10 + d.day)))
    server.serve(D5, (200, b"BZh9garbage"))
    src = _archive(server, tmp_path / "dl")
    out = list(iter_days(src, [D1, D2, D3, D4, D5], cache=None, workers=1, progress=False))
    assert [(a.day, a.status) for a, _ in out] == [
        (D1, "ok"),
        (D2, "ok"),
        (D3, "missing"),
        (D4, "ok"),
        (D5, "corrupt"),
    ]
    assert [len(s) for _, s in out if s is not None] == [29, 30, 32]


def test_session_is_injected_and_shared(server: _Server, tmp_path: Path) -> None:
    session = requests.Session()
    for d in (D1, D2):
        server.serve(d, (200, _day_file(d)))
    src = HttpArchive(server.base, tmp_path, session=session)
    assert src.session is session
    assert [r.status for r in fetch_days(src, [D1, D2], progress=False)] == ["ok", "ok"]


def test_local_archive_layouts(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    flat = tmp_path / "flat"
    for root, layout in ((tree, "tree"), (flat, "flat")):
        p = root / relative_path(D1, layout)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_day_file(D1))
    (flat / "20220120.json").write_bytes(bz2.decompress(_day_file(D2)))
    assert LocalArchive(tree).local_file(D1) == tree / "2022" / "01" / "20220119.json.bz2"
    assert LocalArchive(flat).local_file(D1) == flat / "20220119.json.bz2"
    assert LocalArchive(flat).local_file(D2) == flat / "20220120.json"
    with pytest.raises(ArchiveMissingError):
        LocalArchive(tree).local_file(D2)
    with pytest.raises(FileNotFoundError):
        LocalArchive(tmp_path / "nope")
    assert LocalArchive(tree).describe() == "local folder"  # no path or name: same bytes in any folder
    days = fetch_days(LocalArchive(flat), [D1, D2, D3], progress=False)
    assert [d.status for d in days] == ["ok", "ok", "missing"]


def test_verify_bzip2(tmp_path: Path) -> None:
    body = _day_file(D1, 300)
    p = tmp_path / "x.bz2"
    p.write_bytes(body + _day_file(D2))  # two streams
    assert verify_bzip2(p) is None
    p.write_bytes(body[:-1])
    assert verify_bzip2(p) == "truncated bzip2 stream (no end-of-stream marker)"
    p.write_bytes(b"")
    assert verify_bzip2(p) == "empty file"
    p.write_bytes(body)
    assert verify_bzip2(p, max_decompressed=100) is not None


def test_cache_dir_default_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IPEVIDENCE_CACHE", str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    assert HttpArchive().cache_dir == tmp_path / "envcache" / "archive"
    assert HttpArchive(cache_dir=tmp_path / "arg").cache_dir == tmp_path / "arg" / "archive"
    monkeypatch.delenv("IPEVIDENCE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "ipevidence"
    assert HttpArchive().url(D1) == "https://ftp.ripe.net/ripe/atlas/probes/archive/2022/01/20220119.json.bz2"


def test_date_range() -> None:
    assert date_range(D1, D3) == [D1, D2, D3]
    assert date_range(D1, D5, 2) == [D1, D3, D5]
    assert date_range(D3, D1) == []
    with pytest.raises(ValueError, match="step"):
        date_range(D1, D2, 0)


def test_iter_days_raises_when_a_download_fails(server: _Server, tmp_path: Path) -> None:
    server.serve(D1, (200, _day_file(D1)))
    server.serve(D2, (503, b"down"))
    src = _archive(server, tmp_path, workers=2)
    with pytest.raises(ArchiveDownloadError):
        list(iter_days(src, [D1, D2, D3], cache=None, workers=1, progress=False))
    _no_partial_files(tmp_path)


def test_progress_bar_only_when_asked(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for d in (D1, D2):
        server.serve(d, (200, _day_file(d)))
    src = _archive(server, tmp_path)
    fetch_days(src, [D1, D2], progress=False)
    list(iter_days(src, [D1, D2], cache=None, workers=1))  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    fetch_days(src, [D1, D2], progress=True)
    assert "2/2" in capsys.readouterr().err
