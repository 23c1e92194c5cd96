"""The private shared helpers: atomic writes (ipevidence._io) and small column helpers (_util)."""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path

import attrs
import numpy as np
import pytest

from ipevidence._io import atomic_binary, atomic_text, atomic_write_bytes, atomic_write_text
from ipevidence._util import address_column, address_dtype, check_lengths, families_present


def test_atomic_write_replaces_and_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    atomic_write_text(tmp_path / "t.txt", "a\nb\n", newline="\r\n")
    assert (tmp_path / "t.txt").read_bytes() == b"a\r\nb\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "t.txt"]


def test_atomic_write_failure_keeps_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def fail_binary() -> None:
        with atomic_binary(target, suffix=".part") as f:
            f.write(b"half")
            raise RuntimeError("boom")

    def fail_text() -> None:
        with atomic_text(tmp_path / "new.txt") as t:
            t.write("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_binary()
    with pytest.raises(RuntimeError, match="boom"):
        fail_text()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_parents(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c.txt"
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(deep, b"x")
    atomic_write_bytes(deep, b"x", make_parents=True)
    assert deep.read_bytes() == b"x"


def test_address_helpers() -> None:
    assert address_dtype(4) == np.dtype(np.uint32)
    assert address_dtype(6) == np.dtype("S16")
    with pytest.raises(ValueError, match="family"):
        address_dtype(5)
    v4 = address_column(ipaddress.ip_address("1.2.3.4"))
    assert v4.dtype == np.uint32
    assert v4.tolist() == [0x01020304]
    v6 = address_column(ipaddress.ip_address("2001:db8::1"))
    assert v6.dtype == np.dtype("S16")
    assert v6[0] == ipaddress.ip_address("2001:db8::1").packed
    v6[0] = b"\x00" * 16  # a writable copy, not a view of the address's bytes
    assert families_present(3, 0) == frozenset({4})
    assert families_present(0, 0) == frozenset()
    assert families_present(1, 2) == frozenset({4, 6})


@attrs.frozen
class _Cols:
    a: np.ndarray
    b: np.ndarray


def test_check_lengths() -> None:
    assert check_lengths(_Cols(np.zeros(3), np.ones(3)), ("a", "b")) == 3
    with pytest.raises(ValueError, match=r"column b has shape \(2,\), expected \(3,\)"):
        check_lengths(_Cols(np.zeros(3), np.ones(2)), ("a", "b"))
    with pytest.raises(ValueError, match="column a"):
        check_lengths(_Cols(np.zeros((3, 2)), np.ones(3)), ("a", "b"))
