"""Analytical cost model of the lpgnas accelerator (see docs/cost_model.md).

Entry points: :func:`hw_model.model.estimate` (fixed design), :class:`hw_model.expected.ExpectedHardwareCost`
(search), :func:`hw_model.dse.explore` (parallelism), :func:`lpgnas.devices.load_device` (budgets),
``lpgnas estimate`` (:mod:`hw_model.cli`). Kept import-free so that the CLI's parser stays cheap.
"""
