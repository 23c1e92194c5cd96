from __future__ import annotations

from conftest import shared_file


def test_shared_data_is_present() -> None:
    assert shared_file("README.md").stat().st_size > 0
