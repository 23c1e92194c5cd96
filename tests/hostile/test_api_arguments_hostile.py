"""Hostile arguments to the Python API (issue 12, items 8 and 19): an evidence date that is not a
date and an AS number that is not one are typed errors of the library's tree (``ValueError`` too),
never a bare ``ValueError``/``TypeError`` and never silently "no ASN"; each case runs in a child
process under the memory limit."""

from __future__ import annotations

import pytest
from limits import run_limited

_CASE = """
from ipevidence.assessment import EvidentialAssessor
from ipevidence.errors import IpEvidenceError, InvalidParameterError
from ipevidence.synthetic.errormodel import Cell, build_case
case = build_case([Cell("DE", y, 200) for y in range(2019, 2023)], seed=1)
a = EvidentialAssessor(case.ground_truth, case.backend)
try:
    a.assess("11.0.0.1", {date}, asn={asn})
except InvalidParameterError as exc:
    assert isinstance(exc, IpEvidenceError) and isinstance(exc, ValueError)
    print("typed:", type(exc).__name__)
else:
    print("accepted")
"""


@pytest.mark.parametrize(
    ("date", "asn", "error"),
    [
        ('"garbage"', "None", "InvalidEvidenceDateError"),
        ("None", "None", "InvalidEvidenceDateError"),
        ("12345", "None", "InvalidEvidenceDateError"),
        ('"2022-02-30"', "None", "InvalidEvidenceDateError"),
        ('"2022-06-01"', "99999999999999", "InvalidParameterError"),
        ('"2022-06-01"', "-1", "InvalidParameterError"),
        ('"2022-06-01"', "0", "InvalidParameterError"),
        ('"2022-06-01"', "True", "InvalidParameterError"),
        ('"2022-06-01"', "1.5", "InvalidParameterError"),
    ],
)
def test_bad_dates_and_asns_are_typed_errors(date: str, asn: str, error: str) -> None:
    out = run_limited(_CASE.format(date=date, asn=asn))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"typed: {error}"


def test_a_valid_asn_is_accepted() -> None:
    out = run_limited(_CASE.format(date='"2022-06-01"', asn="3320"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "accepted"
