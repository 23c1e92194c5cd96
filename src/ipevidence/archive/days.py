"""Many archive days: fetched, parsed in parallel and yielded in date order with bounded memory."""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import datetime as dt
import hashlib
import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from ..errors import ArchiveCorruptError
from ..provenance import ArchiveDay
from .cache import CacheWarning, ParsedDayCache, usable_cache_dir
from .parse import DEFAULT_MAX_DECOMPRESSED, DEFAULT_MAX_RECORDS, parse_day, read_day_file
from .snapshot import DaySnapshot
from .source import ArchiveSource, LocalArchive, _abort, _progress_enabled, default_cache_dir, resolve_day

__all__ = ["ParseOutcome", "iter_days", "parse_file"]

#: what a worker sends back: ("ok", snapshot, None) or ("corrupt", None, (reason, sha256))
ParseOutcome = tuple[str, DaySnapshot | None, tuple[str, str | None] | None]


def parse_file(
    path: str,
    day: dt.date,
    cache_dir: str | None = None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    threads: int = 1,
    max_records: int = DEFAULT_MAX_RECORDS,
) -> ParseOutcome:
    """Worker task (top-level so that process pools and Dask can ship it): read one archive file,
    answer from the parsed-day cache when its SHA-256 is there, else parse it and store it.
    ``threads`` is passed to :func:`parse_day`; 1 by default, so that a pool of N workers uses N
    cores, not 2N. A cache that cannot be written is skipped with a warning (caches are optional)."""
    name = Path(path).name
    try:
        raw = read_day_file(path, max_decompressed)
    except ArchiveCorruptError as exc:  # larger than any day within the caps: not read at all
        return ("corrupt", None, (exc.reason, exc.sha256))
    sha = hashlib.sha256(raw).hexdigest()
    cache = ParsedDayCache(cache_dir) if cache_dir else None
    if cache is not None:
        hit = cache.get(sha, day, name)
        if hit is not None:
            return ("ok", hit, None)
        known = cache.get_corrupt(sha)
        if known is not None:
            return ("corrupt", None, (known, sha))
    try:
        snap = parse_day(
            raw, day, max_decompressed=max_decompressed, max_records=max_records, threads=threads
        )
    except ArchiveCorruptError as exc:
        if cache is not None and "(limit max_" not in exc.reason:
            # a verdict that depends on a configurable limit is not cached
            _cache_write(cache.put_corrupt, sha, exc.reason)
        return ("corrupt", None, (exc.reason, sha))
    del raw
    src = ArchiveDay(day=day, status="ok", name=name, sha256=sha)
    snap = DaySnapshot(day=day, counts=snap.counts, source=src, **snap.columns())  # type: ignore[arg-type]
    if cache is not None:
        _cache_write(cache.put, sha, snap)
    return ("ok", snap, None)


def _cache_write(write: Callable[[str, Any], object], sha: str, value: Any) -> None:
    try:
        write(sha, value)
    except OSError as exc:
        warnings.warn(
            f"parsed-day cache not written ({exc}); going on without it", CacheWarning, stacklevel=2
        )


class _Entry:
    __slots__ = ("day", "fetch", "final", "parse", "resolved")

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.fetch: cf.Future[tuple[ArchiveDay, Path | None]] | None = None
        self.resolved: tuple[ArchiveDay, Path | None] | None = None
        self.parse: cf.Future[ParseOutcome] | None = None
        self.final: tuple[ArchiveDay, DaySnapshot | None] | None = None


def _finish(rec: ArchiveDay, outcome: ParseOutcome) -> tuple[ArchiveDay, DaySnapshot | None]:
    status, snap, bad = outcome
    if status == "ok" and snap is not None:
        sha = snap.source.sha256 if snap.source else None
        return ArchiveDay(day=rec.day, status="ok", name=rec.name, sha256=sha), snap
    reason, sha = bad if bad is not None else ("unreadable", None)
    return ArchiveDay(day=rec.day, status="corrupt", name=rec.name, sha256=sha, reason=reason), None


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def iter_days(
    source: ArchiveSource,
    days: Sequence[dt.date],
    *,
    executor: cf.Executor | None = None,
    cache: ParsedDayCache | Literal["default"] | None = "default",
    progress: bool | None = None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    lookahead: int | None = None,
    workers: int | None = None,
    max_records: int = DEFAULT_MAX_RECORDS,
) -> Iterator[tuple[ArchiveDay, DaySnapshot | None]]:
    """Yield ``(ArchiveDay, DaySnapshot | None)`` for every requested day, in date order.

    Days are made local by the source (parallel downloads for an :class:`HttpArchive`) and parsed
    by ``executor`` (default: a process pool of ``workers`` processes, up to 4 by default, or
    in this process when ``workers=1`` or at most 2 days are asked for; any
    ``concurrent.futures`` Executor works, e.g. ``distributed.Client.get_executor()``, whose
    workers must see the same files). The default pool starts its workers with ``forkserver``
    (``spawn`` where that does not exist), so a script that uses it needs the usual
    ``if __name__ == "__main__":`` guard. At most ``lookahead`` days (default 2 x workers + 2)
    are in flight, so memory stays bounded however many days are asked for. Missing days come
    back with status ``missing``, unreadable ones with ``corrupt`` (their SHA-256 and reason
    kept), both with no snapshot.
    A download that fails after every retry raises :class:`ArchiveDownloadError`: a day is never
    silently dropped. ``cache="default"`` uses ``<cache dir>/parsed``; ``None`` disables it; a
    cache directory that cannot be written is skipped with a :class:`CacheWarning`.
    ``max_decompressed`` and ``max_records`` bound each day (see :func:`parse_day`).

    Stopping early (an exception such as KeyboardInterrupt in the caller, or closing the
    generator) cancels the queued days and does not wait for running ones: the pool's worker
    processes are terminated, so Ctrl-C returns within about a second.
    """
    from tqdm.auto import tqdm

    ordered = sorted(set(days))
    n = len(ordered)
    cache_obj = usable_cache_dir(
        ParsedDayCache(default_cache_dir() / "parsed") if cache == "default" else cache
    )
    cache_dir = str(cache_obj.directory) if cache_obj is not None else None
    own_exec: cf.Executor | None = None
    workers = default_workers() if workers is None else max(1, int(workers))
    if executor is None and n > 2 and workers > 1:
        own_exec = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init
        )
        executor = own_exec
    elif executor is not None:
        workers = max(workers, 2)
    needs_fetch = not isinstance(source, LocalArchive)
    dl_pool = (
        cf.ThreadPoolExecutor(max_workers=max(1, int(getattr(source, "workers", 4) or 4)))
        if needs_fetch
        else None
    )
    window = max(1, lookahead if lookahead is not None else 2 * workers + 2)

    def advance(e: _Entry) -> None:
        if e.final is not None or e.parse is not None:
            return
        if e.resolved is None:
            if e.fetch is None or not e.fetch.done():
                return
            e.resolved = e.fetch.result()
        rec, path = e.resolved
        if path is None:
            e.final = (rec, None)
            return
        args = (str(path), e.day, cache_dir, max_decompressed, 1, max_records)
        if executor is None:
            e.final = _finish(rec, parse_file(*args))
        else:
            e.parse = executor.submit(parse_file, *args)

    pending: collections.deque[_Entry] = collections.deque()
    i = 0
    bar = tqdm(total=n, unit="day", desc="archive", disable=not _progress_enabled(progress))
    finished = False
    try:
        while pending or i < n:
            while i < n and len(pending) < window:
                e = _Entry(ordered[i])
                i += 1
                if dl_pool is not None:
                    e.fetch = dl_pool.submit(resolve_day, source, e.day)
                else:
                    e.resolved = resolve_day(source, e.day)
                pending.append(e)
                if executor is not None:
                    advance(e)
            head = pending[0]
            while head.final is None:
                for e in pending:
                    if executor is not None or e is head:
                        advance(e)
                if head.final is not None:
                    break
                if head.parse is not None and head.parse.done():
                    assert head.resolved is not None
                    head.final = _finish(head.resolved[0], head.parse.result())
                    break
                waiting: list[cf.Future[object]] = [
                    f  # type: ignore[misc]
                    for f in (x.fetch if x.resolved is None else x.parse for x in pending)
                    if f is not None and not f.done()
                ]
                if waiting:
                    cf.wait(waiting, return_when=cf.FIRST_COMPLETED)
            pending.popleft()
            bar.update(1)
            yield head.final
        finished = True
    finally:
        bar.close()
        for e in pending:
            for f in (e.fetch, e.parse):
                if f is not None:
                    f.cancel()
        # stopped early (Ctrl-C, an error, the caller closed us): do not wait for running work
        if not finished and needs_fetch:
            _abort(source)
        if dl_pool is not None:
            dl_pool.shutdown(wait=finished, cancel_futures=True)
        if own_exec is not None:
            if not finished:
                _terminate_workers(own_exec)
            own_exec.shutdown(wait=finished, cancel_futures=True)


def _worker_init() -> None:
    """Pool workers leave Ctrl-C to the main process, which stops them (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminate_workers(pool: cf.Executor) -> None:
    """Stop a process pool's workers now (a running parse is abandoned, not awaited)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(timeout=1.0)
