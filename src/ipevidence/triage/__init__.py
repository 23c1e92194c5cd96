"""Triage: many cases at once, each with how far its country location can be trusted.

:func:`assess_many` judges every case exactly as :meth:`EvidentialAssessor.assess
<ipevidence.assessment.EvidentialAssessor.assess>` would, but over columns; docs/triage.md explains
the method and the reason codes. This package re-exports the public names of its modules:

* :mod:`ipevidence.triage.engine`: :func:`assess_many` and the engine :class:`Triage` (ground
  truths, databases, caches; one batch after another in :meth:`Triage.run`);
* :mod:`ipevidence.triage.inputs`: the bulk parsing of the input columns (addresses, dates,
  claimed countries, AS numbers);
* :mod:`ipevidence.triage.networks`: the network checks in bulk;
* :mod:`ipevidence.triage.parts`: the verdict's parts, once per distinct input;
* :mod:`ipevidence.triage.result`: the columnar :class:`TriageResult` and :class:`TriageRecord`;
* :mod:`ipevidence.triage.reasons`: the reason codes (:data:`REASONS`);
* :mod:`ipevidence.triage.summary`: the per-country :class:`TriageSummary`;
* :mod:`ipevidence.triage.files`: the ``ipevidence triage`` command's files: a case list in,
  sorted per-case results and the summary out (imported on demand, not by this package);
* :mod:`ipevidence.triage.read` and :mod:`ipevidence.triage.write`: reading case lists and
  writing results, for :mod:`ipevidence.triage.files`.

``ipevidence.triage_result`` and ``ipevidence.triage_io`` remain as aliases of
:mod:`ipevidence.triage.result` and :mod:`ipevidence.triage.files`.
"""

from __future__ import annotations

from .engine import Triage, assess_many
from .reasons import CANNOT_ASSESS, OUTCOMES, REASONS, Reason, decisive_criterion, reason_code
from .result import COLUMNS, TriageRecord, TriageResult
from .summary import TriageSummary

__all__ = [
    "CANNOT_ASSESS",
    "COLUMNS",
    "OUTCOMES",
    "REASONS",
    "Reason",
    "Triage",
    "TriageRecord",
    "TriageResult",
    "TriageSummary",
    "assess_many",
    "decisive_criterion",
    "reason_code",
]
