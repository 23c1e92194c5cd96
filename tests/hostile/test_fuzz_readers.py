"""Hypothesis fuzzing of the bytes of every reader of archive days, parsed-day caches and
databases (issue 12, "hypothesis fuzzing of every reader's bytes with a time and memory bound").

Each reader is fuzzed in a child interpreter under the 1.5 GiB address-space limit (the memory
bound) with a per-example deadline and a wall-clock timeout for the whole run (the time bounds).
The child fails on anything but the reader's typed error or a valid result: a crash, a
MemoryError, a bare exception or a hang all fail the test. Runs are derandomized (the same
examples each time) and kept small, a few seconds per reader."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from limits import run_limited

_SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

#: mutations of a seed file: byte overwrites (biased to the first 64 bytes, where headers are),
#: a truncation, an insertion of random bytes
_MUTATE = """
import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings


def mutations(size):
    pos = st.one_of(st.integers(0, min(63, size - 1)), st.integers(0, size - 1))
    return st.tuples(
        st.lists(st.tuples(pos, st.integers(0, 255)), max_size=6),
        st.one_of(st.none(), st.integers(0, size)),
        st.one_of(st.none(), st.tuples(st.integers(0, size), st.binary(min_size=1, max_size=32))),
    )


def mutate(seed, plan):
    edits, cut, insert = plan
    data = bytearray(seed)
    for i, b in edits:
        data[i] = b
    if insert is not None:
        data[insert[0]:insert[0]] = insert[1]
    if cut is not None:
        del data[cut:]
    return bytes(data)


FUZZ = settings(
    max_examples={examples},
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
"""


def _fuzz(body: str, examples: int = 200, timeout: float = 60.0) -> None:
    code = _MUTATE.format(examples=examples) + textwrap.dedent(body) + "\nrun()\nprint('fuzzed')\n"
    res = run_limited(code, timeout=timeout)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().endswith("fuzzed"), res.stdout + res.stderr


def _shared(relative: str) -> Path:
    path = _SHARED / relative
    if not path.exists():
        pytest.fail(f"missing test data {path} (see ../shared/data/README.md)", pytrace=False)
    return path


def test_fuzz_archive_day_json_and_bzip2() -> None:
    _fuzz(
        """
        import bz2, datetime as dt, json
        from ipevidence.archive import parse_day
        from ipevidence.errors import ArchiveCorruptError

        recs = [
            {"id": i, "status_name": "Connected", "country_code": "DE", "latitude": 50.1,
             "longitude": 8.6, "address_v4": f"81.2.3.{i}", "asn_v4": 3320,
             "geometry": {"type": "Point", "coordinates": [8.6, 50.1]}, "tags": ["a", "b"]}
            for i in range(1, 9)
        ]
        TEXT = json.dumps({"objects": recs}).encode()
        BZ = bz2.compress(TEXT)
        DAY = dt.date(2020, 1, 1)

        def check(data):
            try:
                snap = parse_day(data, DAY, threads=1)
            except ArchiveCorruptError as exc:
                assert exc.sha256 and exc.reason
                return
            c = snap.counts
            dropped = sum(v for k, v in c.items() if k.startswith("dropped_"))
            assert c["rows"] + dropped == c["records"] == len(snap.probe_id) + dropped

        @FUZZ
        @given(mutations(len(TEXT)))
        def fuzz_text(plan):
            check(mutate(TEXT, plan))

        import os, tempfile
        from ipevidence.archive import verify_bzip2
        SCRATCH = os.path.join(tempfile.mkdtemp(), "20200101.json.bz2")

        def outcome(data, threads):
            try:
                return sorted(parse_day(data, DAY, threads=threads).counts.items())
            except ArchiveCorruptError as exc:
                return exc.reason

        @FUZZ
        @given(mutations(len(BZ)))
        def fuzz_bzip2(plan):
            data = mutate(BZ, plan)
            check(data)
            # the block-parallel path gives exactly the sequential path's result or error
            assert outcome(data, 1) == outcome(data, 2)
            # the download verifier never raises, and never passes a stream parse_day finds broken
            with open(SCRATCH, "wb") as fh:
                fh.write(data)
            verdict = verify_bzip2(SCRATCH)
            assert verdict is None or isinstance(verdict, str)
            if verdict is None and isinstance(outcome(data, 1), str):
                assert "bzip2" not in outcome(data, 1)

        # several bzip2 blocks (level 1: 100 kB blocks), so the block-parallel path is taken
        BIG = bz2.compress(json.dumps({"objects": recs * 1200}).encode(), 1)

        @FUZZ
        @given(mutations(len(BIG)))
        def fuzz_blocks(plan):
            data = mutate(BIG, plan)
            assert outcome(data, 1) == outcome(data, 2)

        def run():
            fuzz_text()
            fuzz_bzip2()
            fuzz_blocks()
        """,
        examples=200,
    )


def test_fuzz_parsed_day_cache(tmp_path: Path) -> None:
    _fuzz(
        f"""
        import datetime as dt, json, os
        from ipevidence.archive import load_snapshot, parse_day, save_snapshot

        recs = [{{"id": i, "status_name": "Connected", "country_code": "DE", "address_v4": f"81.2.3.{{i}}"}}
                for i in range(1, 6)]
        path = os.path.join({str(tmp_path)!r}, "seed.npz")
        save_snapshot(path, parse_day(json.dumps(recs).encode(), dt.date(2020, 1, 1)))
        SEED = open(path, "rb").read()
        target = os.path.join({str(tmp_path)!r}, "case.npz")

        @FUZZ
        @given(mutations(len(SEED)))
        def fuzz(plan):
            with open(target, "wb") as fh:
                fh.write(mutate(SEED, plan))
            try:
                load_snapshot(target)
            except ValueError:
                pass

        def run():
            fuzz()
        """
    )


def test_fuzz_ip2location_bin(tmp_path: Path) -> None:
    _fuzz(
        f"""
        import os
        import numpy as np
        from ipevidence.backends import open_database
        from ipevidence.backends.writers import write_ip2location_bin
        from ipevidence.errors import DatabaseFormatError

        seed_path = os.path.join({str(tmp_path)!r}, "seed.BIN")
        write_ip2location_bin(seed_path, v4=[(0x01000000, 0x01FFFFFF, "AU"), (0x51024500, 0x510245FF, "GB")],
                              v6=[(1 << 125, (1 << 126) - 1, "DE")])
        SEED = open(seed_path, "rb").read()
        target = os.path.join({str(tmp_path)!r}, "case.BIN")
        probe = np.array([0, 0x01020304, 0x51024501, 0xFFFFFFFF], dtype=np.uint32)

        @FUZZ
        @given(mutations(len(SEED)))
        def fuzz(plan):
            with open(target, "wb") as fh:
                fh.write(mutate(SEED, plan))
            try:
                db = open_database(target)
            except DatabaseFormatError:
                return
            assert len(db.lookup(probe)) == 4

        def run():
            fuzz()
        """
    )


def test_fuzz_mmdb(tmp_path: Path) -> None:
    seed = _shared("mmdb/GeoIP2-Country-Test.mmdb")
    _fuzz(
        f"""
        import os
        from ipevidence.backends import open_database
        from ipevidence.errors import DatabaseFormatError

        SEED = open({str(seed)!r}, "rb").read()
        target = os.path.join({str(tmp_path)!r}, "case.mmdb")

        @FUZZ
        @given(st.one_of(mutations(len(SEED)), st.tuples(
            st.lists(st.tuples(st.integers(len(SEED) - 400, len(SEED) - 1), st.integers(0, 255)), max_size=6),
            st.none(), st.none())))
        def fuzz(plan):
            with open(target, "wb") as fh:
                fh.write(mutate(SEED, plan))
            try:
                db = open_database(target)
            except DatabaseFormatError:
                return
            db.country("81.2.69.160")
            db.country("2001:218::1")

        def run():
            fuzz()
        """,
        examples=150,
    )


def test_fuzz_csv_ranges_and_gzip(tmp_path: Path) -> None:
    _fuzz(
        f"""
        import gzip, os
        from ipevidence.backends import open_database
        from ipevidence.errors import DatabaseFormatError

        CSV = (b"# build_date: 2024-01-01\\n"
               b'"16777216","16777471","AU","Australia"\\n'
               b'"16777472","16778239","CN","China"\\n'
               b"1.0.4.0,1.0.7.255,AU\\n")
        GZ = gzip.compress(CSV)
        target = os.path.join({str(tmp_path)!r}, "case.csv")

        def check(data, name):
            path = target + name
            with open(path, "wb") as fh:
                fh.write(data)
            try:
                db = open_database(path)
            except DatabaseFormatError:
                return
            db.country("1.0.0.1")

        @FUZZ
        @given(mutations(len(CSV)))
        def fuzz_csv(plan):
            check(mutate(CSV, plan), "")

        @FUZZ
        @given(mutations(len(GZ)))
        def fuzz_gz(plan):
            check(mutate(GZ, plan), ".gz")

        def run():
            fuzz_csv()
            fuzz_gz()
        """
    )
