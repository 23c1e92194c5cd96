"""The public face: every name in ``ipevidence.__all__`` resolves, and importing the package
does not pull in the heavy stages."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ipevidence


def test_every_public_name_resolves() -> None:
    for name in ipevidence.__all__:
        assert getattr(ipevidence, name) is not None, name
    assert set(ipevidence.__all__) <= set(dir(ipevidence))


def test_lazy_names_come_from_their_modules() -> None:
    from ipevidence.assessment import assess
    from ipevidence.backends import open_database
    from ipevidence.history import build_ground_truth

    assert ipevidence.assess is assess
    assert ipevidence.open_database is open_database
    assert ipevidence.build_ground_truth is build_ground_truth


def test_import_is_light() -> None:
    heavy = "('scipy', 'matplotlib', 'shapely')"
    code = f"import sys, ipevidence; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = ipevidence.no_such_thing
