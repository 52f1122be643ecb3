"""Instructions and cache misses an instance of the benchmark flow costs, in the engine and in plain SpiffWorkflow.

    python bench/instruction_counts.py [--instances 300]

Runs the flow of `engine_throughput.py` (start -> user task -> complete -> script -> end) under valgrind's
cachegrind twice, with 100 and with 100 + `--instances` instances after the same warm-up, and prints the
difference per instance: instructions executed, first-level instruction and data cache misses, last-level misses.
The same for plain in-memory SpiffWorkflow (`spiff_baseline.py`). Unlike a wall-clock rate these counts do not move
with the machine's load (the same tree gave the same counts within 0.3% on one machine and within 1.5% on another:
the ids' random bits change the b-trees' splits; compare two trees in runs side by side), so a change of a few
microseconds shows; they do not count the kernel's work (the commits' writes) and say nothing of how long a miss takes.
Needs `valgrind` (Debian's package); a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EVENTS = {"I refs": "instructions", "I1 misses": "L1 instruction misses", "D1 misses": "L1 data misses",
          "LL misses": "last-level misses"}
WARM_UP, BASE = 200, 100

ENGINE_RUN = f"""
import sys, tempfile
sys.path[:0] = [{str(ROOT)!r}, {str(HERE)!r}]
from engine_throughput import FLOW, _engine_seconds
from engine.api import Engine
from engine.clock import VirtualClock
from engine.config import Settings
eng = Engine(Settings(database_url=f"sqlite:///{{tempfile.mkdtemp()}}/counts.db"), clock=VirtualClock())
eng.upgrade()
eng.definitions.deploy([("bench.bpmn", FLOW)])
_engine_seconds(eng, {WARM_UP})
_engine_seconds(eng, int(sys.argv[1]))
"""

REFERENCE_RUN = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
import spiff_baseline
specs = spiff_baseline.specs()
spiff_baseline.seconds(specs, {WARM_UP})
spiff_baseline.seconds(specs, int(sys.argv[1]))
"""


def counts(script: str, instances: int) -> dict[str, int]:
    """cachegrind's totals for one run of `script` with `instances` timed instances."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    try:
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--cachegrind-out-file=/dev/null",
             sys.executable, f.name, str(instances)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    finally:
        os.unlink(f.name)
    found = {}
    for line in done.stderr.splitlines():
        match = re.search(r"== (I +refs|I1 +misses|D1 +misses|LL +misses):\s+([\d,]+)", line)
        if match:
            found[re.sub(r" +", " ", match[1])] = int(match[2].replace(",", ""))
    return found


def per_instance(script: str, instances: int) -> dict[str, float]:
    """What one more instance costs: the difference of two runs, divided by the instances between them."""
    few, many = counts(script, BASE), counts(script, BASE + instances)
    return {event: (many[event] - few[event]) / instances for event in EVENTS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=300)
    n = ap.parse_args().instances
    engine, reference = per_instance(ENGINE_RUN, n), per_instance(REFERENCE_RUN, n)
    print(f"{'an instance of the flow':24s} {'Stageflow (SQLite)':>18s} {'plain SpiffWorkflow':>20s} {'ratio':>6s}")
    for event, label in EVENTS.items():
        ratio = f"{reference[event] / engine[event]:6.2f}" if engine[event] else ""
        print(f"{label:24s} {engine[event]:18,.0f} {reference[event]:20,.0f} {ratio}")


if __name__ == "__main__":
    main()
