"""groklab: batched-ensemble grokking experiments, from config matrix to paper."""

__version__ = "0.1.0"
