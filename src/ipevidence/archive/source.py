"""Where archive days come from: a local folder, or RIPE's public archive (or a mirror) over HTTP.

Both sources answer :meth:`local_file` with the path of a complete local file for a day, or raise
:class:`~ipevidence.errors.ArchiveMissingError` when the source has no such day.
:class:`HttpArchive` downloads into a cache directory: one ``requests.Session``, connect/read
timeouts, bounded retries with exponential backoff on connection errors, truncated transfers and
5xx answers, HTTP 404/410 = a missing day, atomic writes, and a download enters the cache only
after it was verified to be one or more complete bzip2 streams.
"""

from __future__ import annotations

import bz2
import concurrent.futures as cf
import contextlib
import datetime as dt
import hashlib
import os
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import requests
import urllib3

from .._cachefiles import STALE_AFTER, CacheWarning, clean_stale, writable_dir
from .._io import atomic_binary
from ..errors import ArchiveCorruptError, ArchiveDownloadError, ArchiveMissingError
from ..provenance import ArchiveDay, sha256_file
from .parse import DEFAULT_MAX_DECOMPRESSED

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_DOWNLOAD",
    "DEFAULT_UNREACHABLE_AFTER",
    "ArchiveSource",
    "HttpArchive",
    "LocalArchive",
    "date_range",
    "default_cache_dir",
    "fetch_days",
    "relative_path",
    "resolve_day",
    "verify_bzip2",
]

DEFAULT_BASE_URL: Final = "https://ftp.ripe.net/ripe/atlas/probes/archive/"
#: the largest download accepted for one day: a real day is about 1 MB of bzip2 (2024)
DEFAULT_MAX_DOWNLOAD: Final = 64 * 2**20
#: seconds one file's transfer may take in all (a body dripping just under the read timeout ends)
DEFAULT_DEADLINE: Final = 600.0
#: connection failures in a row, with no answer from the server yet, that make it unreachable
DEFAULT_UNREACHABLE_AFTER: Final = 3
_CHUNK: Final = 1 << 16
_BZ_MAGIC: Final = b"BZh"


def date_range(start: dt.date, end: dt.date, step: int = 1) -> list[dt.date]:
    """Every ``step``-th day from ``start`` to ``end``, both included."""
    if step < 1:
        raise ValueError("step must be >= 1")
    if end < start:
        return []
    n = (end - start).days
    return [start + dt.timedelta(days=i) for i in range(0, n + 1, step)]


def relative_path(day: dt.date, layout: str = "tree") -> str:
    """``YYYY/MM/YYYYMMDD.json.bz2`` (``tree``, RIPE's layout) or ``YYYYMMDD.json.bz2`` (``flat``)."""
    name = f"{day:%Y%m%d}.json.bz2"
    if layout == "flat":
        return name
    if layout != "tree":
        raise ValueError(f"layout must be 'tree' or 'flat', not {layout!r}")
    return f"{day:%Y}/{day:%m}/{name}"


def default_cache_dir() -> Path:
    """``$IPEVIDENCE_CACHE`` if set, else the platform cache directory + ``ipevidence``
    (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
    ``%LOCALAPPDATA%`` on Windows)."""
    env = os.environ.get("IPEVIDENCE_CACHE")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "ipevidence"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ipevidence"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ipevidence"


class _StreamVerifier:
    """Feeds bytes through bzip2 decompression (output discarded) to prove a complete stream."""

    def __init__(self, max_decompressed: int) -> None:
        self.cap = max_decompressed
        self.total = 0
        self.dec: bz2.BZ2Decompressor | None = None
        self.started = False
        self.error: str | None = None
        self.pending = b""

    def feed(self, data: bytes) -> None:
        if self.error:
            return
        data = self.pending + data
        self.pending = b""
        while data:
            if self.dec is None:
                if len(data) < 3:
                    self.pending = data
                    return
                if not data.startswith(b"BZh"):
                    if self.started and not data.strip(b"\0"):
                        return
                    self.error = "not a bzip2 stream" if not self.started else "trailing garbage"
                    return
                self.dec = bz2.BZ2Decompressor()
                self.started = True
            try:
                out = self.dec.decompress(data, max_length=_CHUNK * 64)
                self.total += len(out)
                while not self.dec.eof and not self.dec.needs_input:
                    out = self.dec.decompress(b"", max_length=_CHUNK * 64)
                    self.total += len(out)
                    if self.total > self.cap:
                        break
            except OSError as exc:
                self.error = f"invalid bzip2 data ({exc})"
                return
            if self.total > self.cap:
                self.error = f"decompresses to more than {self.cap} bytes"
                return
            if self.dec.eof:
                data = self.dec.unused_data
                self.dec = None
            else:
                data = b""

    def finish(self) -> str | None:
        """None when the bytes seen form complete stream(s), else the reason."""
        if self.error:
            return self.error
        if not self.started:
            return "empty file" if not self.pending else "not a bzip2 stream"
        if self.dec is not None or self.pending:
            return "truncated bzip2 stream (no end-of-stream marker)"
        return None


def verify_bzip2(
    path: str | os.PathLike[str], max_decompressed: int = DEFAULT_MAX_DECOMPRESSED
) -> str | None:
    """None when the file is one or more complete bzip2 streams, else the reason it is not."""
    v = _StreamVerifier(max_decompressed)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            v.feed(block)
            if v.error:
                break
    return v.finish()


@runtime_checkable
class ArchiveSource(Protocol):
    """Anything that can hand out a complete local file for an archive day."""

    def describe(self) -> str: ...

    def local_file(self, day: dt.date) -> Path: ...


class LocalArchive:
    """A local folder holding ``YYYY/MM/YYYYMMDD.json.bz2`` (RIPE's layout) or flat
    ``YYYYMMDD.json.bz2`` files (as in the reference repository's ``atlas/`` folder).
    Uncompressed ``YYYYMMDD.json`` files are accepted too."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"archive folder {self.root} does not exist")

    def describe(self) -> str:
        """``"local folder"``: never the folder's path or name, so that the same archive in two
        folders gives byte-identical provenance (each day is identified by its SHA-256)."""
        return "local folder"

    def __repr__(self) -> str:
        return f"LocalArchive({str(self.root)!r})"

    def local_file(self, day: dt.date) -> Path:
        for rel in (relative_path(day, "tree"), relative_path(day, "flat")):
            for cand in (self.root / rel, self.root / rel.removesuffix(".bz2")):
                if cand.is_file():
                    return cand
        # the relative path only: results must not depend on where the archive folder is
        raise ArchiveMissingError(day, f"{relative_path(day, 'tree')} in the local archive folder")


class _Retryable(Exception):
    pass


class HttpArchive:
    """RIPE's public archive (or any mirror with the same layout) through a local cache."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        timeout: tuple[float, float] = (10, 60),
        retries: int = 4,
        backoff: float = 1.0,
        workers: int = 4,
        session: requests.Session | None = None,
        max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
        sleep: Callable[[float], None] = time.sleep,
        max_download: int = DEFAULT_MAX_DOWNLOAD,
        deadline: float = DEFAULT_DEADLINE,
        unreachable_after: int = DEFAULT_UNREACHABLE_AFTER,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.cache_dir = root / "archive"
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.workers = max(1, int(workers))
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "ipevidence (RIPE Atlas archive reader)")
        self.max_decompressed = max_decompressed
        self._sleep = sleep
        self.max_download = int(max_download)
        self.deadline = float(deadline)
        self.unreachable_after = max(1, int(unreachable_after))
        self._lock = threading.Lock()
        self._inflight: dict[dt.date, threading.Lock] = {}
        self._failures_in_a_row = 0
        self._reached = False
        self._unreachable: str | None = None
        self._write_dir: Path | None = None  # where downloads go (the cache, or a fallback)
        self._generation = 0  # bumped by abort(): downloads started before it stop
        self._active: set[requests.Response] = set()
        self._fallback: tempfile.TemporaryDirectory[str] | None = None

    def describe(self) -> str:
        return self.base_url

    def __getstate__(self) -> dict[str, Any]:
        """What a copy sent to another process (a Dask worker: ``iter_days(fetch_on_workers=True)``)
        keeps: the URL, cache directory, limits and retry settings. The copy opens its own HTTP
        session (a custom ``session`` and ``sleep`` are not sent) and starts with no download
        state of its own."""
        keep = ("base_url", "cache_dir", "timeout", "retries", "backoff", "workers", "max_decompressed")
        state: dict[str, Any] = {k: self.__dict__[k] for k in keep}
        state.update(
            max_download=self.max_download, deadline=self.deadline, unreachable_after=self.unreachable_after
        )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        cache_dir = Path(state["cache_dir"])
        self.__init__(  # type: ignore[misc]
            state["base_url"],
            cache_dir.parent,
            timeout=state["timeout"],
            retries=state["retries"],
            backoff=state["backoff"],
            workers=state["workers"],
            max_decompressed=state["max_decompressed"],
            max_download=state["max_download"],
            deadline=state["deadline"],
            unreachable_after=state["unreachable_after"],
        )
        self.cache_dir = cache_dir

    def __repr__(self) -> str:
        return f"HttpArchive({self.base_url!r}, cache_dir={str(self.cache_dir.parent)!r})"

    def url(self, day: dt.date) -> str:
        return self.base_url + relative_path(day, "tree")

    def cached_path(self, day: dt.date) -> Path:
        return self.cache_dir / relative_path(day, "tree")

    def local_file(self, day: dt.date) -> Path:
        """The verified cached file of ``day``, downloading it first if needed.

        Raises ArchiveMissingError (404/410), ArchiveCorruptError (the server's file is not a
        complete bzip2 stream, does not start like one, or is larger than ``max_download``;
        nothing is cached) or ArchiveDownloadError (every retry failed, or the archive is
        unreachable: ``unreachable_after`` connection failures in a row and no answer yet).
        """
        target = self.cached_path(day)
        if target.is_file():
            return target
        with self._lock:
            lock = self._inflight.setdefault(day, threading.Lock())
        with lock:
            if target.is_file():
                return target
            out = self._writable_root() / relative_path(day, "tree")
            if out != target and out.is_file():
                return out
            self._download(day, out)
        return out

    def _writable_root(self) -> Path:
        """The cache directory, or (when it cannot be written) a temporary directory for this
        object's life, with a :class:`CacheWarning`; stale ``.part`` files of killed runs are
        removed from the cache the first time."""
        with self._lock:
            if self._write_dir is not None:
                return self._write_dir
            problem = writable_dir(self.cache_dir)
            if problem is None:
                clean_stale([self.cache_dir], recursive=True, older_than=self._stale_after())
                self._write_dir = self.cache_dir
            else:
                self._fallback = tempfile.TemporaryDirectory(prefix="ipevidence-archive-")
                self._write_dir = Path(self._fallback.name)
                warnings.warn(
                    f"archive cache {self.cache_dir} cannot be written ({problem}); downloads go to a "
                    "temporary directory for this run",
                    CacheWarning,
                    stacklevel=4,
                )
            return self._write_dir

    def _stale_after(self) -> float:
        """A ``.part`` file untouched for this long has no live download (a transfer ends within
        its deadline, and writes at least once per read timeout)."""
        return max(STALE_AFTER, self.deadline + float(self.timeout[1]) + 60.0)

    def abort(self) -> None:
        """Stop the downloads in flight now (used when a run is interrupted): their connections
        are shut down, so a read blocked on a stalled server returns at once, and they fail with
        ``ArchiveDownloadError`` without retrying; nothing partial is kept. Later downloads work
        as usual."""
        with self._lock:
            self._generation += 1
            active = list(self._active)
        for resp in active:
            _shut_down(resp)

    def _download(self, day: dt.date, target: Path) -> None:
        url = self.url(day)
        generation = self._generation
        last = ""
        for attempt in range(self.retries + 1):
            self._check_reachable(url, generation)
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
                self._check_reachable(url, generation)
            try:
                self._attempt(day, url, target)
                return
            except _Retryable as exc:
                last = str(exc)
        raise ArchiveDownloadError(f"{url}: download failed after {self.retries + 1} attempts: {last}")

    def _check_reachable(self, url: str, generation: int) -> None:
        if self._unreachable is not None:
            raise ArchiveDownloadError(f"{url}: not tried: {self._unreachable}")
        if generation != self._generation:
            raise ArchiveDownloadError(f"{url}: download interrupted")

    def _connection_failed(self, reason: str) -> None:
        """Count a failure to reach the server; with no answer ever received, after
        ``unreachable_after`` in a row the archive is declared unreachable and every queued day
        fails at once instead of waiting for its own retries."""
        with self._lock:
            self._failures_in_a_row += 1
            if not self._reached and self._failures_in_a_row >= self.unreachable_after:
                self._unreachable = (
                    f"the archive at {self.base_url} is unreachable ({self._failures_in_a_row} "
                    f"connection attempts failed in a row, none succeeded; last: {reason}): check the "
                    "network connection or the archive URL (--source)"
                )

    def _answered(self) -> None:
        with self._lock:
            self._reached = True
            self._failures_in_a_row = 0

    def _attempt(self, day: dt.date, url: str, target: Path) -> None:
        try:
            # identity: the transport must never decompress a body into the cache
            resp = self.session.get(
                url, timeout=self.timeout, stream=True, headers={"Accept-Encoding": "identity"}
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, requests.ConnectionError):  # includes connect timeouts
                self._connection_failed(reason)
            raise _Retryable(reason) from None
        except requests.RequestException as exc:  # invalid URL, too many redirects, ...
            raise ArchiveDownloadError(f"{url}: {type(exc).__name__}: {exc}") from None
        self._answered()
        with resp:
            if resp.status_code in (404, 410):
                raise ArchiveMissingError(day, url)
            if resp.status_code >= 500:
                raise _Retryable(f"HTTP {resp.status_code}")
            if resp.status_code != 200:
                raise ArchiveDownloadError(f"{url}: HTTP {resp.status_code}")
            encoding = resp.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
            header = resp.headers.get("Content-Length")
            expected = int(header) if header is not None and header.strip().isdigit() else None
            if expected is not None and expected > self.max_download:
                raise ArchiveCorruptError(
                    f"the server announces {expected:,} bytes, more than {self.max_download:,} "
                    "(limit max_download)",
                    path=url,
                    day=day,
                )
            with self._lock:
                self._active.add(resp)
            try:
                self._receive(resp, day, url, target, encoding, expected)
            finally:
                with self._lock:
                    self._active.discard(resp)

    def _receive(
        self,
        resp: requests.Response,
        day: dt.date,
        url: str,
        target: Path,
        encoding: str,
        expected: int | None,
    ) -> None:
        """Stream the raw body (never decoded by the transport) into a ``.part`` file that
        replaces ``target`` only when the whole body arrived and verified; every check fails
        early: the bzip2 magic in the first bytes, ``max_download`` as bytes arrive, the
        per-file ``deadline`` between reads."""
        stop_at = time.monotonic() + self.deadline
        with atomic_binary(target, suffix=".part", make_parents=True) as out:
            h = hashlib.sha256()
            verifier = _StreamVerifier(self.max_decompressed)
            size = 0
            head = b""
            try:
                for block in _raw_blocks(resp):
                    if not block:
                        continue
                    if len(head) < 3:
                        head += block[: 3 - len(head)]
                        if not _BZ_MAGIC.startswith(head[:3]):
                            what = f" (Content-Encoding {encoding})" if encoding != "identity" else ""
                            raise ArchiveCorruptError(
                                f"not a bzip2 file: the body starts with {head[:3]!r}{what}; nothing "
                                "was kept",
                                path=url,
                                day=day,
                            )
                    size += len(block)
                    if size > self.max_download:
                        raise ArchiveCorruptError(
                            f"more than {self.max_download:,} bytes (limit max_download); nothing was kept",
                            path=url,
                            day=day,
                        )
                    out.write(block)
                    h.update(block)
                    verifier.feed(block)
                    if verifier.error:
                        raise ArchiveCorruptError(verifier.error, path=url, day=day)
                    if time.monotonic() > stop_at:
                        raise _Retryable(
                            f"transfer not finished within {self.deadline:g} s (limit deadline): "
                            f"{size:,} bytes received"
                        )
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise _Retryable(f"transfer interrupted: {type(exc).__name__}: {exc}") from None
            if expected is not None and expected != size:
                raise _Retryable(f"truncated transfer: {size} of {expected} bytes")
            problem = verifier.finish()
            if problem is not None:
                raise ArchiveCorruptError(problem, path=url, day=day, sha256=h.hexdigest())


def _shut_down(resp: requests.Response) -> None:
    """Shut down the socket under a streaming response (best effort, through urllib3's
    internals, which differ between versions): a thread blocked reading it wakes up at once."""
    raw = resp.raw
    for path in (("_connection", "sock"), ("_fp", "fp", "raw", "_sock")):
        obj: object = raw
        for attr in path:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, socket.socket):
            with contextlib.suppress(OSError):
                obj.shutdown(socket.SHUT_RDWR)
            return


def _raw_blocks(resp: requests.Response) -> Iterator[bytes]:
    """The body's bytes as they arrive, never decoded (no Content-Encoding applied): ``read1``
    returns whatever one read brought, so a body that drips a byte at a time still lets the
    caller check its deadline between reads (``stream`` would wait for a whole chunk)."""
    raw = resp.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # urllib3 1.x
        yield from raw.stream(_CHUNK, decode_content=False)
        return
    while True:
        block = read1(_CHUNK, decode_content=False)
        if not block:
            return
        yield block


def _progress_enabled(progress: bool | None) -> bool:
    if progress is None:
        return sys.stderr.isatty()
    return progress


def _abort(source: object) -> None:
    """Stop a source's downloads in flight, if it can (an :class:`HttpArchive`)."""
    abort = getattr(source, "abort", None)
    if callable(abort):
        with contextlib.suppress(Exception):
            abort()


def resolve_day(source: ArchiveSource, day: dt.date) -> tuple[ArchiveDay, Path | None]:
    """Ask a source for a day: (ArchiveDay with status ok + the file) or (missing/corrupt, None).
    Download errors after every retry propagate."""
    try:
        path = source.local_file(day)
    except ArchiveMissingError as exc:
        name = Path(relative_path(day)).name
        return ArchiveDay(day=day, status="missing", name=name, reason=str(exc)), None
    except ArchiveCorruptError as exc:
        name = Path(relative_path(day)).name
        return ArchiveDay(day=day, status="corrupt", name=name, sha256=exc.sha256, reason=exc.reason), None
    return ArchiveDay(day=day, status="ok", name=path.name), path


def fetch_days(
    source: ArchiveSource,
    days: Sequence[dt.date],
    *,
    progress: bool | None = None,
    workers: int | None = None,
) -> list[ArchiveDay]:
    """Make every day local (download with a few parallel transfers for an HttpArchive) and
    return one :class:`ArchiveDay` per day in date order: ``ok`` (with the file's SHA-256),
    ``missing`` (404/absent) or ``corrupt`` (not a complete bzip2 stream; with the SHA-256 of
    what the server sent). Files are not parsed here; a file that downloads whole but holds bad
    JSON is found by :func:`~ipevidence.archive.parse_day`."""
    from tqdm.auto import tqdm

    ordered = sorted(set(days))
    n_workers = int(workers or getattr(source, "workers", 4) or 4)

    def one(day: dt.date) -> ArchiveDay:
        rec, path = resolve_day(source, day)
        if path is not None:
            rec = ArchiveDay(day=day, status="ok", name=path.name, sha256=sha256_file(path))
        return rec

    out: dict[dt.date, ArchiveDay] = {}
    pool = cf.ThreadPoolExecutor(max_workers=max(1, n_workers))
    done = False
    try:
        with tqdm(
            total=len(ordered), unit="day", desc="fetch", disable=not _progress_enabled(progress)
        ) as bar:
            futs = {pool.submit(one, d): d for d in ordered}
            for fut in cf.as_completed(futs):
                out[futs[fut]] = fut.result()
                bar.update(1)
        done = True
    finally:
        # on an error (an unreachable archive, Ctrl-C) the queued days are cancelled, not awaited
        if not done:
            _abort(source)
        pool.shutdown(wait=done, cancel_futures=True)
    return [out[d] for d in ordered]
