"""bz2par: block-parallel bzip2 gives exactly the bytes and the errors of the sequential path."""

from __future__ import annotations

import bz2
import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_same_columns
from ipevidence.archive import bz2par, parse_day, parse_file
from ipevidence.archive import parse as parse_mod
from ipevidence.errors import ArchiveCorruptError
from ipevidence.synthetic.archive import SyntheticArchiveConfig, day_payload

DAY = dt.date(2023, 6, 1)
_SEQUENTIAL = bz2par.bunzip  # the reference, captured before any test replaces it with a spy


def _outcome(fn: Callable[[], bytes]) -> tuple[str, object]:
    try:
        return ("ok", fn())
    except Exception as exc:  # the error type and message are what is compared
        return (type(exc).__name__, str(exc))


@pytest.fixture
def fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of the sequential path made by :func:`bz2par.decompress`."""
    calls: list[int] = []
    real = bz2par.bunzip

    def spy(raw: bytes, max_decompressed: int = bz2par.DEFAULT_MAX_DECOMPRESSED) -> bytes:
        calls.append(len(raw))
        return real(raw, max_decompressed)

    monkeypatch.setattr(bz2par, "bunzip", spy)
    return calls


@pytest.fixture(scope="module")
def days() -> dict[int, bytes]:
    """One generated day (3,000 records, both shapes) compressed at level 1 (20 blocks) and 9 (3)."""
    out = {}
    for level in (1, 9):
        cfg = SyntheticArchiveConfig(
            seed=11,
            start=DAY,
            end=DAY,
            n_probes=3000,
            record_shape="mixed",
            verbose_records=True,
            compresslevel=level,
        )
        out[level] = day_payload(cfg)[0]
    return out


def _random_payload(seed: int, size: int, kind: str) -> bytes:
    rng = np.random.default_rng(seed)
    if kind == "random":  # incompressible
        return rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    if kind == "runs":  # long runs: the RLE stage packs far more than the block size into a block
        lengths = rng.integers(1, 60, size // 20 + 1)
        values = rng.integers(0, 4, len(lengths), dtype=np.uint8)
        return np.repeat(values, lengths).tobytes()[:size]
    if kind == "mixed":  # incompressible stretches, runs and text in one file
        third = size // 3
        return (
            _random_payload(seed, third, "random")
            + _random_payload(seed + 1, third, "runs")
            + (_random_payload(seed + 2, size - 2 * third, "text"))
        )
    words = np.array([b"probe", b"address_v4", b"Connected", b"null", b'"DE"', b"3320", b"{", b"},"])
    return b" ".join(words[rng.integers(0, len(words), size // 6 + 1)].tolist())[:size]


# ---------------------------------------------------------------------------------------------
# the layout


def test_blocks_found_at_any_bit_offset(days: dict[int, bytes]) -> None:
    data = days[1]
    layout = bz2par.find_blocks(data)
    assert len(layout) == 20
    assert layout.level == b"1"
    assert layout.starts[0] == 32
    assert {s % 8 for s in layout.starts} != {0}  # blocks are not byte-aligned
    assert layout.end + 80 <= 8 * len(data) < layout.end + 88
    # every cut re-wraps into a valid stream whose output is the block's share of the text
    text = bz2.decompress(data)
    bounds = [*layout.starts, layout.end]
    parts = [
        bz2.decompress(bz2par._piece(data, layout.level, a, b, c))
        for a, b, c in zip(bounds, bounds[1:], layout.crcs, strict=False)
    ]
    assert b"".join(parts) == text
    assert all(parts)


def test_single_block_and_empty_streams_use_the_sequential_path(fallbacks: list[int]) -> None:
    for payload in (b"", b"x", b"[]" * 1000):
        data = bz2.compress(payload)
        assert bz2par.decompress(data, threads=2) == payload
    assert len(fallbacks) == 3
    with pytest.raises(ValueError, match="no block"):
        bz2par.find_blocks(bz2.compress(b""))  # no block at all


# ---------------------------------------------------------------------------------------------
# same bytes


@pytest.mark.parametrize("level", [1, 9])
def test_generated_day_takes_the_parallel_path(
    days: dict[int, bytes], level: int, fallbacks: list[int]
) -> None:
    data = days[level]
    assert bz2par.decompress(data, threads=2) == bz2.decompress(data)
    assert bz2par.decompress(data, threads=3, max_decompressed=len(bz2.decompress(data))) == bz2.decompress(
        data
    )
    assert fallbacks == []  # really decompressed block by block, not rescued by the fallback
    assert bz2par.decompress(data, threads=1) == bz2.decompress(data)
    assert len(fallbacks) == 1


def test_parse_day_threads_give_the_same_snapshot(days: dict[int, bytes], fallbacks: list[int]) -> None:
    one = parse_day(days[1], DAY, threads=1)
    two = parse_day(days[1], DAY, threads=2)
    default = parse_day(days[1], DAY)
    assert fallbacks == []
    for snap in (two, default):
        assert dict(snap.counts) == dict(one.counts)
        assert snap.source == one.source
        assert_same_columns(one, snap)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.one_of(st.integers(0, 2000), st.integers(90_000, 700_000)),
    kind=st.sampled_from(["random", "runs", "text", "mixed"]),
    level=st.integers(1, 9),
    threads=st.integers(2, 4),
)
def test_random_data_round_trips(seed: int, size: int, kind: str, level: int, threads: int) -> None:
    payload = _random_payload(seed, size, kind)
    data = bz2.compress(payload, level)
    assert bz2par.decompress(data, threads=threads) == payload


def test_random_data_really_splits(fallbacks: list[int]) -> None:
    for level, kind in ((1, "random"), (2, "text"), (1, "runs")):
        payload = _random_payload(level, 2_500_000 if kind == "runs" else 400_000, kind)
        data = bz2.compress(payload, level)
        assert len(bz2par.find_blocks(data)) >= 2
        assert bz2par.decompress(data, threads=2) == payload
    assert fallbacks == []


# ---------------------------------------------------------------------------------------------
# irregular files: the sequential path's result or error, exactly


def test_multi_stream_files_fall_back(days: dict[int, bytes], fallbacks: list[int]) -> None:
    a = bz2.compress(_random_payload(1, 300_000, "text"), 1)
    for data in (a + a, days[1] + days[9], a + bz2.compress(b""), bz2.compress(b"") + a):
        assert bz2par.decompress(data, threads=2) == _SEQUENTIAL(data) == bz2.decompress(data)
    assert len(fallbacks) == 4


@pytest.mark.parametrize("tail", [b"\0", b"\0" * 7, b"garbage", b"BZh9"])
def test_trailing_bytes_fall_back(days: dict[int, bytes], tail: bytes, fallbacks: list[int]) -> None:
    data = days[1] + tail
    assert _outcome(lambda: bz2par.decompress(data, threads=2)) == _outcome(lambda: _SEQUENTIAL(data))
    assert fallbacks


def test_truncated_files_fail_like_before(days: dict[int, bytes]) -> None:
    data = days[1]
    rng = np.random.default_rng(3)
    cuts = [5, 10, 100, len(data) // 2, len(data) - 11, len(data) - 5, len(data) - 1]
    cuts += rng.integers(4, len(data), 8).tolist()
    for cut in cuts:
        bad = data[:cut]
        expected = _outcome(partial(_SEQUENTIAL, bad))
        assert expected[0] == "ValueError"
        assert _outcome(partial(bz2par.decompress, bad, threads=2)) == expected
        with pytest.raises(ArchiveCorruptError) as one:
            parse_day(bad, DAY, threads=1)
        with pytest.raises(ArchiveCorruptError) as two:
            parse_day(bad, DAY, threads=2)
        assert one.value.reason == two.value.reason


def test_flipped_bytes_fail_like_before(days: dict[int, bytes]) -> None:
    data = days[1]
    rng = np.random.default_rng(5)
    positions = [*rng.integers(4, len(data), 20).tolist(), 4, 5, 9, 10, len(data) - 6, len(data) - 2]
    for pos in positions:
        for bit in (1, 0x80):
            bad = bytearray(data)
            bad[pos] ^= bit
            raw = bytes(bad)
            expected = _outcome(partial(_SEQUENTIAL, raw))
            assert _outcome(partial(bz2par.decompress, raw, threads=2)) == expected
            try:
                parse_day(raw, DAY, threads=1)
                want = "ok"
            except ArchiveCorruptError as exc:
                want = exc.reason
            try:
                parse_day(raw, DAY, threads=2)
                got = "ok"
            except ArchiveCorruptError as exc:
                got = exc.reason
            assert got == want


def test_false_block_magic_is_caught_by_the_crc_check(
    days: dict[int, bytes], monkeypatch: pytest.MonkeyPatch, fallbacks: list[int]
) -> None:
    data = days[1]
    real = bz2par._magic_bits

    def with_false_magic(raw: bytes) -> tuple[list[int], list[int]]:
        blocks, eos = real(raw)
        mid = (blocks[3] + blocks[4]) // 2  # as if the magic occurred inside block 3's data
        return sorted([*blocks, mid]), eos

    monkeypatch.setattr(bz2par, "_magic_bits", with_false_magic)
    with pytest.raises(ValueError, match="stream CRC"):
        bz2par.find_blocks(data)
    assert bz2par.decompress(data, threads=2) == bz2.decompress(data)
    assert len(fallbacks) == 1


def test_a_wrong_cut_is_rejected_by_libbzip2(
    days: dict[int, bytes], monkeypatch: pytest.MonkeyPatch, fallbacks: list[int]
) -> None:
    """Even past the CRC check (here: disabled), a wrong cut cannot produce wrong bytes."""
    data = days[1]
    good = bz2par.find_blocks(data)
    for shift in (-1, 1, 8):
        starts = list(good.starts)
        starts[5] += shift
        bad = bz2par.BlockLayout(good.level, starts, good.end, good.crcs, good.stream_crc)
        monkeypatch.setattr(bz2par, "find_blocks", lambda raw, bad=bad: bad)
        assert bz2par.decompress(data, threads=2) == bz2.decompress(data)
    assert len(fallbacks) == 3


def test_decompressed_size_cap(days: dict[int, bytes], fallbacks: list[int]) -> None:
    data = days[1]
    size = len(bz2.decompress(data))
    assert bz2par.decompress(data, threads=2, max_decompressed=size) == bz2.decompress(data)
    assert fallbacks == []
    for cap in (0, 10, size // 2, size - 1):
        expected = _outcome(partial(_SEQUENTIAL, data, cap))
        assert expected[0] == "ValueError"
        assert "max_decompressed" in str(expected[1])
        assert _outcome(partial(bz2par.decompress, data, threads=2, max_decompressed=cap)) == expected
        with pytest.raises(ArchiveCorruptError, match="max_decompressed"):
            parse_day(data, DAY, threads=2, max_decompressed=cap)
    # a bomb of many blocks (runs pack ~45 MB into a level-9 block): stopped early, same error
    bomb = bz2.compress(b"\0" * 60_000_000, 1)
    assert len(bz2par.find_blocks(bomb)) >= 2
    assert _outcome(lambda: bz2par.decompress(bomb, threads=2, max_decompressed=5_000_000)) == _outcome(
        lambda: _SEQUENTIAL(bomb, 5_000_000)
    )


def test_workers_of_multi_day_runs_use_one_thread(
    days: dict[int, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("block-parallel decompression inside a pool worker")

    monkeypatch.setattr(bz2par, "decompress", boom)
    path = tmp_path / f"{DAY:%Y%m%d}.json.bz2"
    path.write_bytes(days[1])
    status, snap, _ = parse_file(str(path), DAY)
    assert status == "ok"
    assert snap is not None
    assert len(snap) > 0
    with pytest.raises(AssertionError, match="pool worker"):
        parse_day(path, threads=2)
    assert parse_mod.bunzip is bz2par.bunzip  # parse.bunzip stays importable


def test_parse_day_leaves_the_garbage_collector_as_found(days: dict[int, bytes]) -> None:
    import gc

    assert gc.isenabled()
    try:
        assert len(parse_day(days[9], DAY)) > 0
        assert gc.isenabled()
        with pytest.raises(ArchiveCorruptError):
            parse_day(b'{"objects": [', DAY)
        assert gc.isenabled()
        gc.disable()
        parse_day(days[9], DAY)
        assert not gc.isenabled()
    finally:
        gc.enable()
