"""The daily filter's table look-ups give exactly the answers of the reference masks they replace."""

from __future__ import annotations

import numpy as np

import ipevidence.addresses as addresses
from ipevidence.addresses import global_mask_v4
from ipevidence.countries import COUNTRY_DTYPE, known_mask
from ipevidence.history.daily import global_v4_mask, known_country_mask


def test_known_country_mask_is_known_mask_for_every_two_bytes() -> None:
    every = np.arange(1 << 16, dtype=np.uint16).view(COUNTRY_DTYPE)
    assert np.array_equal(known_country_mask(every), known_mask(every))
    sample = np.array([b"DE", b"de", b"", b"X", b"ZZ", b"FR", b"\x00A", b"A\x00"], dtype=COUNTRY_DTYPE)
    assert known_country_mask(sample).tolist() == [True, False, False, False, False, True, False, False]
    # a strided (non-contiguous) column is answered too
    assert np.array_equal(known_country_mask(every[::3]), known_mask(every[::3]))


def test_global_v4_mask_is_global_mask_v4() -> None:
    rng = np.random.default_rng(16)
    random = rng.integers(0, 1 << 32, 2_000_000, dtype=np.uint64).astype(np.uint32)
    tables = (*addresses._V4_BAD, *addresses._V4_EXC)
    edges = np.concatenate([np.asarray(t, dtype=np.int64) for t in tables])
    near = np.concatenate([edges - 1, edges, edges + 1, edges + 255, edges + 256])
    near = near[(near >= 0) & (near < (1 << 32))].astype(np.uint32)
    every_slash16 = (np.arange(1 << 16, dtype=np.uint32) << np.uint32(16)) | np.uint32(0xFFFF)
    for column in (random, near, every_slash16, np.zeros(0, np.uint32)):
        assert np.array_equal(global_v4_mask(column), global_mask_v4(column))
    named = np.array([0x08080808, 0x0A000001, 0xC0000201, 0xC0000009, 0x64400001, 0xFFFFFFFF], np.uint32)
    assert global_v4_mask(named).tolist() == [True, False, False, True, False, False]
