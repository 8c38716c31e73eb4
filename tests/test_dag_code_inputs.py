"""The code inputs the workflow gives its cheap steps (groklab.dag): the modules a paper number or
a figure depends on are inputs of its job, so editing one reruns it. (Fast check on the import
closures; the dry run on a finished tiny config is still to be added.)"""

from pathlib import Path

import pytest

from conftest import ROOT
from groklab.dag import code_inputs, module_inputs
from groklab.paper.figures import FIGURES

SRC = ROOT / "src" / "groklab"


def rel(paths):
    return {str(Path(p).relative_to(SRC)) for p in paths}


def test_numbers_job_depends_on_the_modules_its_numbers_come_from():
    closure = rel(code_inputs(ROOT / "workflow" / "scripts" / "numbers.py"))
    assert {"analysis/aggregate.py", "paper/provenance.py", "paper/figures.py", "seeding.py", "paper/build.py",
            "paper/targets.py"} <= closure


@pytest.mark.parametrize("figure, module", [("leadlag-runs", "analysis/mechanics.py"),
                                            ("phase-diagram", "analysis/speedup.py"),
                                            ("accuracy", "analysis/figure_data.py")])
def test_figure_job_depends_on_its_compute_and_plotting_modules(figure, module):
    """What figures.smk lists as a figure job's code: the adapter's closure and the plotting module's."""
    plot = f"groklab.paper.plots.{FIGURES[figure].module}"
    code = rel(code_inputs(ROOT / "workflow" / "scripts" / "figure.py")) | rel(module_inputs(plot))
    assert module in code and f"paper/plots/{FIGURES[figure].module}.py" in code
    others = {f"paper/plots/{f.module}.py" for f in FIGURES.values()} - {f"paper/plots/{FIGURES[figure].module}.py"}
    assert not (others & code), "a figure job must not rerun when another figure's plotting module changes"
