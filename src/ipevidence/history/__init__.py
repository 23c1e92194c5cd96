"""From RIPE Atlas day snapshots to the ground truth (METHOD.md sections 2 to 6).

The pipeline, one family (IPv4 or IPv6) at a time, every step a pure function over columns:

1. :func:`daily_filter` - per day, per record: status Connected, coordinates valid, country a
   known ISO code, address globally routable unicast, ASN present (in that order; each rule
   counted, removed records identified);
2. :class:`Linker` / :func:`link_days` - the kept daily records of many days, linked per probe
   into a :class:`History` of *segments*: maximal runs of consecutive observations of a probe
   with identical content (address, country, coordinates, ASN), with first/last day and the
   number of daily records they stand for. Linking streams: days are compacted into segments
   as they arrive, so the raw daily rows of a whole archive are never held at once;
3. :func:`select_most_distant` - the paper's "most distant" address selection (its Table 2):
   one row per address occurrence under a de-duplication policy, ``first-seen`` (reference),
   ``per-run`` or ``last-seen``;
4. :func:`unreliable_probes` - probes whose declared country differs between any two kept
   DAILY records (default) or, as the reference notebook did, between the de-duplicated rows
   (:func:`unreliable_probes_after_dedup`, reference preset only); :func:`remove_probes`;
5. :func:`check_borders` - coordinates inside the declared country, for every country
   (:mod:`ipevidence.geography`);
6. :func:`remove_cloud` - cloud and hosting addresses by the row's own ASN, optionally by
   providers' range files (:mod:`ipevidence.networks`).

:func:`build_ground_truth` / :func:`build_ground_truths` run it all over an archive source,
:func:`ground_truths_from_snapshots` over snapshots already in memory. Every step is counted
in the :class:`~ipevidence.groundtruth.Funnel`; rows removed after linking are listed with
their reason in :class:`~ipevidence.groundtruth.Removals`.

The pipeline lives in one module a job: :mod:`.params` (parameters, presets, protocols),
:mod:`.daily` (the daily filter), :mod:`.linking` (histories, most distant selection, unreliable
probes), :mod:`.steps` (probes, borders, cloud) and :mod:`.pipeline` (whole builds); this
package re-exports their public names, so ``ipevidence.history.X`` keeps working.
"""

from __future__ import annotations

from .daily import DailyFilterResult, DailyRecords, daily_filter
from .linking import (
    History,
    Linker,
    link_days,
    select_most_distant,
    unreliable_probes,
    unreliable_probes_after_dedup,
)
from .params import (
    DAILY_RULES,
    DEDUP_POLICIES,
    PRESETS,
    AsnLookup,
    BorderChecker,
    DedupPolicy,
    GroundTruthParams,
)
from .pipeline import build_ground_truth, build_ground_truths, ground_truths_from_snapshots
from .steps import StepResult, check_borders, remove_cloud, remove_probes

__all__ = [
    "DAILY_RULES",
    "DEDUP_POLICIES",
    "PRESETS",
    "AsnLookup",
    "BorderChecker",
    "DailyFilterResult",
    "DailyRecords",
    "DedupPolicy",
    "GroundTruthParams",
    "History",
    "Linker",
    "StepResult",
    "build_ground_truth",
    "build_ground_truths",
    "check_borders",
    "daily_filter",
    "ground_truths_from_snapshots",
    "link_days",
    "remove_cloud",
    "remove_probes",
    "select_most_distant",
    "unreliable_probes",
    "unreliable_probes_after_dedup",
]
