"""Optional dependencies, imported only where they are used, with an error that names the extra."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["import_pandas"]


def import_pandas(what: str = "this") -> Any:
    """pandas, or a ``ModuleNotFoundError`` (an ``ImportError``) saying which extra installs it."""
    try:
        return importlib.import_module("pandas")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{what} needs pandas, which is not installed: pip install 'ipevidence[pandas]'",
            name="pandas",
        ) from exc
