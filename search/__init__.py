"""LPGNAS: quantisation-aware training modules, fixed-architecture training and the architecture search.

Training-time twins of the golden model's operators live in ``layers.py``; ``train.py`` trains a fixed
architecture and exports the IR.
"""
