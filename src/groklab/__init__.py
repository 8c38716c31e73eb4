"""groklab: batched-ensemble grokking experiments, from config matrix to paper."""

__version__ = "0.1.0"


def open(root="results"):   # noqa: A001 (groklab.open("results"), like io.open)
    """The pipeline's results as tidy pandas frames (groklab.explore.Results)."""
    from groklab.explore import Results

    return Results(root)
