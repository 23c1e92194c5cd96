"""The triage results: the code moved to :mod:`ipevidence.triage.result`, re-exported here."""

from __future__ import annotations

from .triage.result import _FAILED as _FAILED
from .triage.result import (
    CANNOT_ASSESS,
    COLUMNS,
    OUTCOMES,
    REASONS,
    Reason,
    TriageRecord,
    TriageResult,
    TriageSummary,
    decisive_criterion,
    reason_code,
)

__all__ = [
    "CANNOT_ASSESS",
    "COLUMNS",
    "OUTCOMES",
    "REASONS",
    "Reason",
    "TriageRecord",
    "TriageResult",
    "TriageSummary",
    "decisive_criterion",
    "reason_code",
]
