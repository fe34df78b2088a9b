"""Analytical cost model of the lpgnas accelerator (see docs/cost_model.md).

Entry points: :func:`lpgnas.hw_model.model.estimate` (fixed design),
:class:`lpgnas.hw_model.expected.ExpectedHardwareCost` (search), :func:`lpgnas.hw_model.dse.explore`
(parallelism), :func:`lpgnas.devices.load_device` (budgets), ``lpgnas estimate`` (:mod:`lpgnas.hw_model.cli`).
Kept import-free so that the CLI's parser stays cheap.
"""
