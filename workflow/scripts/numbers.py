"""Snakemake adapter: evaluate every number of the paper and write the generated LaTeX inputs
and provenance.json."""

import os
import socket
import sys
from datetime import datetime, timezone

from groklab.paper.build import build
from groklab.paper.numbers import Context
from groklab.paper.provenance import git_commit

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params
tables = {name: snakemake.input[name] for name in ("speedups", "claims", "ladder", "ladder_trend", "leadlag", "forecast")}
ctx = Context(results=p.results, cells=p.cells, studies={k: tuple(v) for k, v in p.studies.items()}, paper=p.paper,
              hmm=p.hmm, tables=tables, ladder=p.ladder, robustness=p.robustness)
job = {"rule": snakemake.rule, "git_commit": git_commit(p.repo), "host": socket.gethostname(),
       "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
numbers = build(ctx, p.generated, p.study_figures, p.global_figures, job)
print(f"{len(numbers)} numbers with provenance", file=sys.stderr)
