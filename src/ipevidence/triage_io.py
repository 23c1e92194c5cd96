"""The ``ipevidence triage`` command's files: moved to :mod:`ipevidence.triage.files`, re-exported here."""

from __future__ import annotations

from .triage.files import (
    DEFAULT_CHUNK,
    RESULT_FORMATS,
    CaseChunk,
    CaseMapping,
    CaseReading,
    TriageFiles,
    cases_figure,
    read_cases,
    triage_file,
    write_results,
)

__all__ = [
    "DEFAULT_CHUNK",
    "RESULT_FORMATS",
    "CaseChunk",
    "CaseMapping",
    "CaseReading",
    "TriageFiles",
    "cases_figure",
    "read_cases",
    "triage_file",
    "write_results",
]
