"""Hostile archive servers (issue 12, items 9, 10, 11, 12, 21): a local HTTP server on
127.0.0.1 plays the archive; the downloader runs in a child interpreter under the 1.5 GiB limit.
Each case checks the typed error or exit code, the time it took and that nothing partial is
left in the cache."""

from __future__ import annotations

import bz2
import gzip
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from limits import run_cli_limited, run_limited

DAY_PATH = "/archive/2020/01/20200101.json.bz2"


def _good_day() -> bytes:
    recs = [
        {"id": i, "status_name": "Connected", "country_code": "DE", "latitude": 50.1, "longitude": 8.6}
        for i in range(1, 20)
    ]
    return bz2.compress(json.dumps({"objects": recs}).encode())


Behaviour = Callable[[http.server.BaseHTTPRequestHandler], None]


class _Server:
    """path -> behaviour (a function writing the whole response); anything else is a 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Behaviour] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                behaviour = server.routes.get(self.path)
                try:
                    if behaviour is None:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        behaviour(self)
                except OSError:
                    pass  # the client hung up: that is the point of most cases

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/archive/"


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _endless(
    first: bytes, chunk: bytes, headers: dict[str, str] | None = None, pause: float = 0.0
) -> Behaviour:
    def behave(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(first)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            h.wfile.write(chunk)
            h.wfile.flush()
            if pause:
                time.sleep(pause)

    return behave


def _body(data: bytes, headers: dict[str, str] | None = None) -> Behaviour:
    def behave(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    return behave


def _fetch_one(base: str, cache: Path, **kw: object) -> str:
    """Child code: download 2020-01-01 and print the outcome (error type and reason) and time."""
    extra = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    return f"""
        import datetime as dt, time
        from ipevidence.archive import HttpArchive
        from ipevidence.errors import ArchiveCorruptError, ArchiveDownloadError
        src = HttpArchive({base!r}, {str(cache)!r}, retries=0, backoff=0.0, timeout=(2, 2), {extra})
        t0 = time.monotonic()
        try:
            print("ok", src.local_file(dt.date(2020, 1, 1)))
        except ArchiveCorruptError as exc:
            print("corrupt", exc.reason)
        except ArchiveDownloadError as exc:
            print("download", exc)
        print(round(time.monotonic() - t0, 1))
        """


def _files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


# --------------------------------------------------------------------------- item 9


def test_endless_html_body_is_refused_at_its_first_bytes(server: _Server, tmp_path: Path) -> None:
    server.routes[DAY_PATH] = _endless(b"<!doctype html><html>", b"<p>error</p>" * 5000)
    res = run_limited(_fetch_one(server.base, tmp_path))
    assert res.returncode == 0, res.stderr
    outcome, took = res.stdout.splitlines()
    assert outcome.startswith("corrupt not a bzip2 file: the body starts with b'<!d'")
    assert float(took) < 5
    assert _files(tmp_path) == []


def test_gzip_encoded_body_is_never_decompressed_into_the_cache(server: _Server, tmp_path: Path) -> None:
    bomb = gzip.compress(bytes(64 * 2**20), compresslevel=1)  # 64 MiB of zeros in ~64 KB
    server.routes[DAY_PATH] = _body(bomb, {"Content-Encoding": "gzip"})
    res = run_limited(_fetch_one(server.base, tmp_path))
    assert res.returncode == 0, res.stderr
    outcome = res.stdout.splitlines()[0]
    assert outcome == (
        "corrupt not a bzip2 file: the body starts with b'\\x1f\\x8b\\x08' (Content-Encoding gzip); "
        "nothing was kept"
    )
    assert _files(tmp_path) == []


def test_endless_bzip2_body_stops_at_max_download(server: _Server, tmp_path: Path) -> None:
    unit = bz2.compress(os.urandom(1 << 20))  # incompressible: stays under max_decompressed
    server.routes[DAY_PATH] = _endless(b"", unit)
    res = run_limited(_fetch_one(server.base, tmp_path, max_download=8 * 2**20))
    assert res.returncode == 0, res.stderr
    outcome, took = res.stdout.splitlines()
    assert outcome == "corrupt more than 8,388,608 bytes (limit max_download); nothing was kept"
    assert float(took) < 10
    assert _files(tmp_path) == []


def test_announced_length_beyond_max_download_is_refused_before_reading(
    server: _Server, tmp_path: Path
) -> None:
    def behave(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(10 * 2**30))
        h.end_headers()
        h.wfile.write(b"BZh9")

    server.routes[DAY_PATH] = behave
    res = run_limited(_fetch_one(server.base, tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].startswith("corrupt the server announces 10,737,418,240 bytes")
    assert _files(tmp_path) == []


# --------------------------------------------------------------------------- item 10


def test_dripping_body_ends_at_the_deadline(server: _Server, tmp_path: Path) -> None:
    data = _good_day()

    def drip(h: http.server.BaseHTTPRequestHandler) -> None:  # one valid byte per 0.5 s
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        for i in range(len(data)):
            h.wfile.write(data[i : i + 1])
            h.wfile.flush()
            time.sleep(0.5)

    server.routes[DAY_PATH] = drip
    res = run_limited(_fetch_one(server.base, tmp_path, deadline=2.0))
    assert res.returncode == 0, res.stderr
    outcome, took = res.stdout.splitlines()
    assert outcome.startswith("download ")
    assert "(limit deadline)" in outcome
    assert float(took) < 6
    assert _files(tmp_path) == []


# --------------------------------------------------------------------------- item 11


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens there once it is closed


def test_fetch_with_no_archive_reachable_stops_within_seconds(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/archive/"
    t0 = time.monotonic()
    res = run_cli_limited(
        ["fetch", "2015-01-01", "2015-01-16", "--source", base, "--cache-dir", str(tmp_path), "--quiet"]
    )
    took = time.monotonic() - t0
    assert res.returncode == 3, res.stderr
    assert "unreachable" in res.stderr
    assert "none succeeded" in res.stderr
    assert took < 10, f"took {took:.1f} s"
    assert [p for p in _files(tmp_path) if p.suffix == ".part"] == []


# --------------------------------------------------------------------------- items 12 and 21


def test_stale_part_files_are_removed_on_the_next_run(server: _Server, tmp_path: Path) -> None:
    server.routes[DAY_PATH] = _body(_good_day())
    folder = tmp_path / "archive" / "2020" / "01"
    folder.mkdir(parents=True)
    stale = folder / ".20200105.json.bz2.a1b2c3d4.part"
    fresh = folder / ".20200106.json.bz2.e5f6g7h8.part"
    for p in (stale, fresh):
        p.write_bytes(b"BZh9 half")
    old = time.time() - 3 * 3600
    os.utime(stale, (old, old))
    res = run_limited(_fetch_one(server.base, tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok ")
    assert not stale.exists()
    assert fresh.exists()


def test_read_only_archive_cache_warns_and_downloads_elsewhere(server: _Server, tmp_path: Path) -> None:
    server.routes[DAY_PATH] = _body(_good_day())
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = run_cli_limited(
        ["fetch", "2020-01-01", "2020-01-01", "--source", server.base, "--cache-dir", str(blocker / "c")]
    )
    assert res.returncode == 0, res.stderr
    assert "days available: 1" in res.stdout
    assert "cannot be written" in res.stderr
    assert "temporary directory" in res.stderr


# --------------------------------------------------------------------------- item 24


def test_ctrl_c_during_a_stalled_download_stops_within_two_seconds(server: _Server, tmp_path: Path) -> None:
    """A server that sends the headers and the magic, then nothing: the download thread blocks in
    a read (up to the read timeout, 60 s by default). Ctrl-C shuts its connection down."""

    def stall(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000000")
        h.end_headers()
        h.wfile.write(b"BZh9")
        h.wfile.flush()
        time.sleep(30)

    for day in range(1, 4):
        server.routes[f"/archive/2020/01/2020010{day}.json.bz2"] = stall
    code = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
        from ipevidence.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    argv = [
        "fetch",
        "2020-01-01",
        "2020-01-03",
        "--source",
        server.base,
        "--cache-dir",
        str(tmp_path),
        "--quiet",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        time.sleep(3.0)  # three downloads are blocked in their reads
        assert proc.poll() is None
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert took < 2.0, f"Ctrl-C took {took:.1f} s"
    assert "interrupted" in err
    assert _files(tmp_path) == []
