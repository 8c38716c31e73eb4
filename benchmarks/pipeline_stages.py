"""Per-stage time of a Snakemake run, from its log: for each rule, the number of jobs, the summed
job time (CPU-slot seconds) and the wall-clock span from its first start to its last finish.

Usage: python benchmarks/pipeline_stages.py .snakemake/log/<run>.snakemake.log
(`snakemake --cores all` prints the same log to the terminal; either works.)
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from datetime import datetime

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISH = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def parse(lines: list[str]) -> dict[str, list[tuple[datetime, datetime]]]:
    """rule -> [(start, finish)] per job."""
    now, rule, starts, jobs = None, None, {}, defaultdict(list)
    for line in lines:
        line = line.rstrip("\n")
        if m := STAMP.match(line):
            now = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := START.match(line):
            rule = m.group(1)
        elif (m := JOBID.match(line)) and rule:
            starts[int(m.group(1))] = now
            rule = None
        elif m := FINISH.match(line):
            jobid, name = int(m.group(1)), m.group(2)
            if jobid in starts:
                jobs[name].append((starts.pop(jobid), now))
    return jobs


def main() -> None:
    jobs = parse(open(sys.argv[1]).readlines())
    first = min(s for spans in jobs.values() for s, _ in spans)
    last = max(f for spans in jobs.values() for _, f in spans)
    print(f"{'rule':<22}{'jobs':>5}{'job time (s)':>14}{'span (s)':>10}  from start (s)")
    for rule, spans in sorted(jobs.items(), key=lambda kv: min(s for s, _ in kv[1])):
        busy = sum((f - s).total_seconds() for s, f in spans)
        begin, end = min(s for s, _ in spans), max(f for _, f in spans)
        print(f"{rule:<22}{len(spans):>5}{busy:>14.0f}{(end - begin).total_seconds():>10.0f}  "
              f"{(begin - first).total_seconds():.0f}-{(end - first).total_seconds():.0f}")
    print(f"{'total wall':<22}{sum(map(len, jobs.values())):>5}{'':>14}{(last - first).total_seconds():>10.0f}")


if __name__ == "__main__":
    main()
