"""Seeded, deterministic generators of realistic RIPE Atlas archives and service logs, with the
truth they were built from (for tests, benchmarks and the demo). Import from the submodules:
``ipevidence.synthetic.archive`` (archive trees) and ``ipevidence.synthetic.logs`` (service logs)."""
