"""docs/code.md names every module of the package, and names no module that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


def _modules() -> set[str]:
    out = set()
    for f in (SRC / "ipevidence").rglob("*.py"):
        parts = f.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.add(".".join(parts))
    return out


def test_code_map_lists_every_module_and_only_real_ones() -> None:
    text = (ROOT / "docs" / "code.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(ipevidence(?:\.[A-Za-z_][A-Za-z0-9_]*)*)`", text))
    modules = _modules()
    assert sorted(modules - named) == [], "modules missing from docs/code.md"
    assert sorted(named - modules) == [], "docs/code.md names modules that do not exist"
