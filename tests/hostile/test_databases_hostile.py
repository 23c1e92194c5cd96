"""Hostile geolocation databases and database caches (issue 12, items 21, 22 and the database
readers of "one test per reader"). Each case runs in a child interpreter under the 1.5 GiB
limit; CLI cases check exit code 3 (a typed error of the library) and the one-line reason."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest
from limits import run_cli_limited, run_limited

#: ../shared/data beside the checkout (tests/conftest.py's ``shared_file`` is out of reach here:
#: the module name ``conftest`` is tests/hostile/conftest.py in this folder)
_SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_file(relative: str) -> Path:
    """A file of the real data set, failing (never skipping) the test when it is missing."""
    path = _SHARED / relative
    if not path.exists():
        pytest.fail(f"missing test data {path} (see ../shared/data/README.md)", pytrace=False)
    return path


BIN = "ip2location/IP2LOCATION-LITE-DB1-2024-10-01.BIN"
MMDB = "mmdb/GeoIP2-Country-Test.mmdb"


def _assess_with(database: Path, tmp_path: Path) -> tuple[int, str]:
    """``ipevidence assess`` with ``database`` (the database is opened before the ground truth
    is read, so a placeholder ground-truth file is enough to reach it)."""
    gt = tmp_path / "placeholder-gt.npz"
    gt.write_bytes(b"unused")
    res = run_cli_limited(
        [
            "assess",
            "81.2.69.160",
            "--date",
            "2024-06-01",
            "--database",
            str(database),
            "--ground-truth",
            str(gt),
        ]
    )
    return res.returncode, res.stderr


def _leftovers(d: Path) -> list[Path]:
    return [p for p in d.rglob(".*") if p.is_file()]


# --------------------------------------------------------------------------- item 22


def test_truncated_bin_says_why(tmp_path: Path) -> None:
    data = shared_file(BIN).read_bytes()
    trunc = tmp_path / "db.BIN"
    trunc.write_bytes(data[: len(data) // 2])
    code, err = _assess_with(trunc, tmp_path)
    assert code == 3, err
    assert "db.BIN: an IP2Location BIN file that cannot be read" in err
    assert "runs past the end of the file" in err


def test_gz_with_a_second_member_is_refused(tmp_path: Path) -> None:
    data = shared_file(BIN).read_bytes()
    two = tmp_path / "db.BIN.gz"
    two.write_bytes(gzip.compress(data) + gzip.compress(b"a second file"))
    code, err = _assess_with(two, tmp_path)
    assert code == 3, err
    assert "a second gzip member" in err


def test_gz_with_trailing_garbage_is_refused(tmp_path: Path) -> None:
    data = shared_file(BIN).read_bytes()
    trail = tmp_path / "db.BIN.gz"
    trail.write_bytes(gzip.compress(data) + b"\x00garbage after the member")
    code, err = _assess_with(trail, tmp_path)
    assert code == 3, err
    assert "bytes of trailing garbage after the gzip data" in err


def test_gzip_bomb_database_is_refused_within_the_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "db.mmdb.gz"
    bomb.write_bytes(gzip.compress(bytes(64 * 2**20), compresslevel=1))
    code, err = _assess_with(bomb, tmp_path)
    assert code == 3, err
    assert "expands more than 200x" in err


@pytest.mark.parametrize(
    "relative", ["mmdb/GeoIP2-City-Test-Broken-Double-Format.mmdb", "mmdb/GeoLite2-ASN-Test.mmdb"]
)
def test_broken_and_wrong_mmdb_files_are_typed_errors(relative: str, tmp_path: Path) -> None:
    code, err = _assess_with(shared_file(relative), tmp_path)
    assert code == 3, err
    assert "ipevidence: error:" in err
    assert "internal error" not in err


# --------------------------------------------------------------------------- mmdb table cache


def _declare_huge(npz: Path) -> None:
    """Rewrite the first range column so that it declares 2**40 rows over its real bytes."""
    with zipfile.ZipFile(npz) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    name = next(n for n in members if n.endswith("_starts.npy"))
    arr = np.lib.format.read_array(__import__("io").BytesIO(members[name]))
    header = {"descr": arr.dtype.str, "fortran_order": False, "shape": (2**40,)}
    text = repr(header).encode("latin-1")
    pad = 64 - (10 + len(text) + 1) % 64
    members[name] = (
        b"\x93NUMPY\x01\x00" + (len(text) + pad + 1).to_bytes(2, "little") + text + b" " * pad + b"\n"
    ) + arr.tobytes()
    with zipfile.ZipFile(npz, "w", zipfile.ZIP_STORED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)


def test_mmdb_cache_with_a_huge_declared_array_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    code = f"""
        from ipevidence.backends import open_database
        db = open_database({str(shared_file(MMDB))!r}, cache_dir={str(cache)!r})
        print(db.country("81.2.69.160"))
        """
    first = run_limited(code)
    assert first.returncode == 0, first.stderr
    (npz,) = list(cache.glob("mmdb-*.npz"))
    _declare_huge(npz)
    again = run_limited(code)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert _leftovers(cache) == []


# --------------------------------------------------------------------------- item 21


def test_read_only_mmdb_cache_warns_and_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = run_limited(
        f"""
        import warnings
        from ipevidence.backends import open_database
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            db = open_database({str(shared_file(MMDB))!r}, cache_dir={str(blocker / "cache")!r})
        print(db.country("81.2.69.160"))
        print([type(w.message).__name__ for w in caught])
        """
    )
    assert res.returncode == 0, res.stderr
    lookup, kinds = res.stdout.splitlines()
    assert lookup == "GB"
    assert kinds == "['CacheWarning']"


def test_read_only_gz_cache_decompresses_to_memory(tmp_path: Path) -> None:
    gz = tmp_path / "db.BIN.gz"
    gz.write_bytes(gzip.compress(shared_file(BIN).read_bytes()))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = run_limited(
        f"""
        import warnings
        from ipevidence.backends import open_database
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            db = open_database({str(gz)!r}, cache_dir={str(blocker / "cache")!r})
        print(db.country("8.8.8.8"), [type(w.message).__name__ for w in caught])
        """
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "US ['CacheWarning']"


def test_stale_cache_temporaries_are_removed(tmp_path: Path) -> None:
    import os
    import time

    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / ".mmdb-abc-country-v2.npz.a1b2c3d4.npz"
    stale.write_bytes(b"PK half")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    res = run_limited(
        f"""
        from ipevidence.backends import open_database
        open_database({str(shared_file(MMDB))!r}, cache_dir={str(cache)!r})
        """
    )
    assert res.returncode == 0, res.stderr
    assert not stale.exists()
