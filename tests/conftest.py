"""Shared fixtures. Real data lives in ../shared/data; a test that needs it fails (never skips)
with a message naming the missing file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_file(relative: str) -> Path:
    """Path of a file under ../shared/data, failing the test clearly when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.fail(
            f"missing test data {path}: the real data set must sit in ../shared/data beside the "
            f"project checkout (see ../shared/data/README.md)",
            pytrace=False,
        )
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"missing {SHARED_DATA}: clone the project beside shared/ (../shared/data)", pytrace=False
        )
    return SHARED_DATA


def assert_same_columns(want: Any, got: Any) -> None:
    """Two column sets (anything with ``columns()``, such as day snapshots) hold the same columns:
    same names, dtypes and values (NaN equal to NaN)."""
    cols = got.columns()
    assert list(cols) == list(want.columns())
    for name, col in want.columns().items():
        assert cols[name].dtype == col.dtype, name
        assert np.array_equal(cols[name], col, equal_nan=col.dtype.kind == "f"), name
