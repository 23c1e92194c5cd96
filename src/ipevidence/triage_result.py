"""The triage results: moved to the package :mod:`ipevidence.triage`, re-exported here."""

from __future__ import annotations

from .triage.reasons import _FAILED as _FAILED
from .triage.reasons import CANNOT_ASSESS, OUTCOMES, REASONS, Reason, decisive_criterion, reason_code
from .triage.result import COLUMNS, TriageRecord, TriageResult
from .triage.summary import TriageSummary

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
