"""LPGNAS: quantisation-aware training modules, fixed-architecture training and the architecture search.

The quantised layer is ``quant_layer.py`` (training-time twins of the golden model's operators in
``attentions.py``, ``aggregations.py``, ``activations.py``); ``train.py`` trains a fixed architecture and
exports the IR; ``run.py`` runs a search, ``cli.py`` is its command line. docs/search.md lists every module.
"""
