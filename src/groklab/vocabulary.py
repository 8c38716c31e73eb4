"""Names every stage shares, owned here once: the metric signals an intervention can read, the
trigger that reads the training map, and the Grokfast filters whose strength can be set.

Imports nothing (the bottom layer: config validates these names, training acts on them,
analysis and the paper read the columns they name)."""

METRIC_SIGNALS = ("train_acc", "train_loss", "test_acc", "test_loss")
HMM_STATE = "hmm_state"          # `when: hmm_state`: a rule that reacts to the decoded map state
GROKFAST = ("grokfast_ema", "grokfast_ma")   # the filters whose strength (lamb) an intervention can set

# An HMM map whose chosen K is the largest K tried: said in its selection figure and the paper's
# sentence, never reported as a finding (groklab.analysis.hmm.select_k flags it)
HMM_BOUNDARY = "boundary: raise hmm.k_max"

# The events' rule: a model has memorised an operation at the first eval where its train accuracy
# is at least training.memorise_threshold, and generalised (grokked) at the first where its test
# accuracy is at least training.grok_threshold. groklab.analysis.events finds them in
# metrics.parquet; training reads the same rule for early stop and the live TensorBoard events.
EVENTS = ("memorisation_step", "grok_step")


def reached(accuracy, threshold):
    """accuracy (a float, an array or a tensor) -> where it counts as at the threshold."""
    return accuracy >= threshold
