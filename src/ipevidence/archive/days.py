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
from typing import Any, Final, Literal

from ..errors import ArchiveCorruptError
from ..provenance import ArchiveDay
from .cache import CacheWarning, ParsedDayCache, usable_cache_dir
from .parse import (
    DEFAULT_MAX_DECODE_MEMORY,
    DEFAULT_MAX_DECOMPRESSED,
    DEFAULT_MAX_RECORDS,
    _parse_raw,
    read_day_file,
)
from .snapshot import DaySnapshot
from .source import ArchiveSource, LocalArchive, _abort, _progress_enabled, default_cache_dir, resolve_day

__all__ = [
    "WORKER_MEMORY",
    "ParseOutcome",
    "default_workers",
    "fetch_and_parse",
    "iter_days",
    "lookup_cached",
    "parse_file",
]

#: what a worker sends back: ("ok", snapshot, None) or ("corrupt", None, (reason, sha256))
ParseOutcome = tuple[str, DaySnapshot | None, tuple[str, str | None] | None]


def parse_file(
    path: str,
    day: dt.date,
    cache_dir: str | None = None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    threads: int = 1,
    max_records: int = DEFAULT_MAX_RECORDS,
    max_decode_memory: int = DEFAULT_MAX_DECODE_MEMORY,
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
    default_limits = _default_limits(max_decompressed, max_records, max_decode_memory)
    cache = ParsedDayCache(cache_dir) if cache_dir and default_limits else None
    if cache is not None:
        known = _cached(cache, sha, day, name)
        if known is not None:
            return known
    try:
        snap = _parse_raw(
            raw,
            day,
            name=name,
            path=None,
            sha=sha,
            max_decompressed=max_decompressed,
            max_records=max_records,
            max_decode_memory=max_decode_memory,
            threads=threads,
        )
    except ArchiveCorruptError as exc:
        if cache is not None and "(limit " not in exc.reason:
            # a verdict that depends on a configurable limit is not cached
            _cache_write(cache.put_corrupt, sha, exc.reason)
        return ("corrupt", None, (exc.reason, sha))
    del raw
    if cache is not None:
        _cache_write(cache.put, sha, snap)
    return ("ok", snap, None)


def _default_limits(max_decompressed: int, max_records: int, max_decode_memory: int) -> bool:
    """The parsed-day cache holds days parsed under the default limits only, so that a cached
    answer is the answer a parse would give: with any other limit, days are parsed afresh."""
    return (max_decompressed, max_records, max_decode_memory) == (
        DEFAULT_MAX_DECOMPRESSED,
        DEFAULT_MAX_RECORDS,
        DEFAULT_MAX_DECODE_MEMORY,
    )


def _cached(cache: ParsedDayCache, sha: str, day: dt.date, name: str) -> ParseOutcome | None:
    hit = cache.get(sha, day, name)
    if hit is not None:
        return ("ok", hit, None)
    reason = cache.get_corrupt(sha)
    if reason is not None:
        return ("corrupt", None, (reason, sha))
    return None


def lookup_cached(
    path: str, day: dt.date, cache_dir: str, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED
) -> ParseOutcome | None:
    """The cached outcome of one archive file (read + SHA-256 + ``.npz`` load), or None on a miss.
    Cheap and GIL-releasing (file reads, hashing, array reads): :func:`iter_days` runs it on
    threads of its own process, so a warm rebuild never starts a process pool."""
    try:
        raw = read_day_file(path, max_decompressed)
    except ArchiveCorruptError:
        return None  # the worker re-reads it and reports the same verdict
    sha = hashlib.sha256(raw).hexdigest()
    del raw
    return _cached(ParsedDayCache(cache_dir), sha, day, Path(path).name)


def fetch_and_parse(
    source: ArchiveSource,
    day: dt.date,
    cache_dir: str | None = None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    threads: int = 1,
    max_records: int = DEFAULT_MAX_RECORDS,
    max_decode_memory: int = DEFAULT_MAX_DECODE_MEMORY,
) -> tuple[ArchiveDay, ParseOutcome | None]:
    """Worker task for ``iter_days(..., fetch_on_workers=True)``: the WORKER asks the source for
    the day (downloads it into its own archive cache, or finds it on shared storage), parses it
    (through the parsed-day cache at ``cache_dir`` when given, e.g. on shared storage) and sends
    back only the day's record and its columns. A missing day comes back as ``(record, None)``."""
    rec, path = resolve_day(source, day)
    if path is None:
        return rec, None
    args = (str(path), day, cache_dir, max_decompressed, threads, max_records, max_decode_memory)
    return rec, parse_file(*args)


def _cache_write(write: Callable[[str, Any], object], sha: str, value: Any) -> None:
    try:
        write(sha, value)
    except OSError as exc:
        warnings.warn(
            f"parsed-day cache not written ({exc}); going on without it", CacheWarning, stacklevel=2
        )


class _Entry:
    __slots__ = ("day", "fetch", "final", "lookup", "parse", "resolved")

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.fetch: cf.Future[tuple[ArchiveDay, Path | None]] | None = None
        self.resolved: tuple[ArchiveDay, Path | None] | None = None
        self.lookup: cf.Future[ParseOutcome | None] | None = None
        self.parse: cf.Future[Any] | None = None
        self.final: tuple[ArchiveDay, DaySnapshot | None] | None = None

    def futures(self) -> list[cf.Future[Any]]:
        return [f for f in (self.fetch, self.lookup, self.parse) if f is not None]


def _finish(rec: ArchiveDay, outcome: ParseOutcome) -> tuple[ArchiveDay, DaySnapshot | None]:
    status, snap, bad = outcome
    if status == "ok" and snap is not None:
        sha = snap.source.sha256 if snap.source else None
        return ArchiveDay(day=rec.day, status="ok", name=rec.name, sha256=sha), snap
    reason, sha = bad if bad is not None else ("unreadable", None)
    return ArchiveDay(day=rec.day, status="corrupt", name=rec.name, sha256=sha, reason=reason), None


#: what one pool worker parsing a real day (30,000 records, 20 MB of JSON) peaks at, with margin
#: (measured ~90 MiB: ``benchmarks/ingest.py`` (d)); :func:`default_workers` divides the
#: available memory by it
WORKER_MEMORY: Final = 128 * 2**20


def _available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers(memory_per_worker: int = WORKER_MEMORY) -> int:
    """Parsing processes by default: every core this process may use, but no more than the
    available memory holds at ``memory_per_worker`` each (at least 1)."""
    cores = _usable_cores()
    avail = _available_memory()
    if avail is None:
        return cores
    return max(1, min(cores, avail // max(1, memory_per_worker)))


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
    max_decode_memory: int = DEFAULT_MAX_DECODE_MEMORY,
    fetch_on_workers: bool = False,
    cache_hits: Literal["local", "executor"] = "local",
) -> Iterator[tuple[ArchiveDay, DaySnapshot | None]]:
    """Yield ``(ArchiveDay, DaySnapshot | None)`` for every requested day, in date order.

    Days are made local by the source (parallel downloads for an :class:`HttpArchive`) and parsed
    by ``executor`` (default: a process pool of ``workers`` processes, by default one per usable
    core bounded by available memory (:func:`default_workers`); in this process when
    ``workers=1`` or at most 2 days are asked for; any ``concurrent.futures`` Executor works,
    e.g. a ``ThreadPoolExecutor`` or ``distributed.Client.get_executor()``). The default pool is
    started only when a day is not in the parsed-day cache, with ``spawn``, so a script that
    uses it needs the usual ``if __name__ == "__main__":`` guard.

    With a cache, each day is first looked up on threads of this process (read, SHA-256,
    ``.npz`` load: ``cache_hits="local"``, the default), so a warm rebuild starts no process and
    ships no columns between processes; ``cache_hits="executor"`` leaves the lookup to the
    executor's workers (for a cluster whose cache this process cannot see).

    ``fetch_on_workers=True`` (needs an executor whose workers can reach the source, e.g. a Dask
    cluster; the source must be picklable, as :class:`LocalArchive` and :class:`HttpArchive`
    are): each worker fetches its own days (downloads, or reads shared storage), parses them and
    sends back only the columns (:func:`fetch_and_parse`); this process never touches the files.
    ``cache`` is then a directory the WORKERS can write (shared storage), or None.

    At most ``lookahead`` days (default 2 x workers + 2) are in flight, so memory stays bounded
    however many days are asked for. Missing days come back with status ``missing``, unreadable
    ones with ``corrupt`` (their SHA-256 and reason kept), both with no snapshot.
    A download that fails after every retry raises :class:`ArchiveDownloadError`: a day is never
    silently dropped. ``cache="default"`` uses ``<cache dir>/parsed``; ``None`` disables it; a
    cache directory that cannot be written is skipped with a :class:`CacheWarning`.
    ``max_decompressed``, ``max_records`` and ``max_decode_memory`` bound each day (see
    :func:`parse_day`); with any of them not at its default the parsed-day cache is not used
    (it holds days parsed under the defaults, so that a cached answer is always the answer a
    parse would give). The snapshots are the same whatever the executor.

    Stopping early (an exception such as KeyboardInterrupt in the caller, or closing the
    generator) cancels the queued days and does not wait for running ones: the pool's worker
    processes are terminated, so Ctrl-C returns within about a second.
    """
    from tqdm.auto import tqdm

    if cache_hits not in ("local", "executor"):
        raise ValueError(f"cache_hits must be 'local' or 'executor', not {cache_hits!r}")
    ordered = sorted(set(days))
    n = len(ordered)
    if not _default_limits(max_decompressed, max_records, max_decode_memory):
        cache = None  # see _default_limits
    if fetch_on_workers:
        if cache == "default":
            cache = None  # this process's default cache directory means nothing on a cluster
        cache_dir = str(cache.directory) if cache is not None else None
    else:
        cache_obj = usable_cache_dir(
            ParsedDayCache(default_cache_dir() / "parsed") if cache == "default" else cache
        )
        cache_dir = str(cache_obj.directory) if cache_obj is not None else None
    workers = default_workers() if workers is None else max(1, int(workers))
    own_exec: cf.Executor | None = None
    parallel = executor is not None or (n > 2 and workers > 1)
    if executor is not None:
        workers = max(workers, 2)
    if fetch_on_workers and executor is None:
        raise ValueError("fetch_on_workers needs an executor (e.g. distributed.Client.get_executor())")
    needs_fetch = not isinstance(source, LocalArchive) and not fetch_on_workers
    dl_pool = (
        cf.ThreadPoolExecutor(max_workers=max(1, int(getattr(source, "workers", 4) or 4)))
        if needs_fetch
        else None
    )
    hit_pool = (
        cf.ThreadPoolExecutor(max_workers=2)
        if parallel and cache_dir is not None and cache_hits == "local" and not fetch_on_workers
        else None
    )
    window = max(1, lookahead if lookahead is not None else 2 * workers + 2)
    limits = (max_decompressed, 1, max_records, max_decode_memory)

    def parse_pool() -> cf.Executor:
        nonlocal executor, own_exec
        if executor is None:
            own_exec = cf.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
            executor = own_exec
        return executor

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
        if not parallel:
            e.final = _finish(rec, parse_file(str(path), e.day, cache_dir, *limits))
            return
        if hit_pool is not None and cache_dir is not None:
            if e.lookup is None:
                e.lookup = hit_pool.submit(lookup_cached, str(path), e.day, cache_dir, max_decompressed)
            if not e.lookup.done():
                return
            hit = e.lookup.result()
            if hit is not None:
                e.final = _finish(rec, hit)
                return
        e.parse = parse_pool().submit(parse_file, str(path), e.day, cache_dir, *limits)

    def collect(e: _Entry) -> None:
        assert e.parse is not None
        result = e.parse.result()
        if fetch_on_workers:
            rec, outcome = result
            e.final = (rec, None) if outcome is None else _finish(rec, outcome)
        else:
            assert e.resolved is not None
            e.final = _finish(e.resolved[0], result)

    pending: collections.deque[_Entry] = collections.deque()
    i = 0
    bar = tqdm(total=n, unit="day", desc="archive", disable=not _progress_enabled(progress))
    finished = False
    try:
        while pending or i < n:
            while i < n and len(pending) < window:
                e = _Entry(ordered[i])
                i += 1
                if fetch_on_workers:
                    e.parse = parse_pool().submit(fetch_and_parse, source, e.day, cache_dir, *limits)
                elif dl_pool is not None:
                    e.fetch = dl_pool.submit(resolve_day, source, e.day)
                else:
                    e.resolved = resolve_day(source, e.day)
                pending.append(e)
                if parallel:
                    advance(e)
            head = pending[0]
            while head.final is None:
                for e in pending:
                    if parallel or e is head:
                        advance(e)
                if head.final is not None:
                    break
                if head.parse is not None and head.parse.done():
                    collect(head)
                    break
                waiting = [f for x in pending for f in x.futures() if not f.done()]
                if waiting:
                    cf.wait(waiting, return_when=cf.FIRST_COMPLETED)
            pending.popleft()
            bar.update(1)
            assert head.final is not None
            yield head.final
        finished = True
    finally:
        bar.close()
        for e in pending:
            for f in e.futures():
                f.cancel()
        # stopped early (Ctrl-C, an error, the caller closed us): do not wait for running work
        if not finished and needs_fetch:
            _abort(source)
        for pool in (dl_pool, hit_pool):
            if pool is not None:
                pool.shutdown(wait=finished, cancel_futures=True)
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
