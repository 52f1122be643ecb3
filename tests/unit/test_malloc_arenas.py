"""`stageflow serve` caps glibc's malloc pools before gunicorn forks: a worker's many threads otherwise reserve a
64 MB pool each (up to eight per core), about 1 GB of address space, which `--memory-limit` counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

THREADS = """
import sys, threading
from web.server import cap_malloc_arenas
took = cap_malloc_arenas() if sys.argv[1] == "capped" else None
barrier = threading.Barrier(32)
def work():
    barrier.wait()  # all at once: threads that contend for malloc get pools of their own
    held = [bytearray(100_000) for _ in range(20)]
    for _ in range(200):
        held.append(bytearray(100_000))
        held.pop(0)
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(32)]
for t in threads:
    t.start()
for t in threads:
    t.join()
size = next(line for line in open("/proc/self/status") if line.startswith("VmSize"))
print(took, int(size.split()[1]) // 1024)
"""


def address_space_mb(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", THREADS, mode], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_32_busy_threads_stay_within_a_few_pools_once_capped() -> None:
    took, capped = address_space_mb("capped")
    if took != "True":
        pytest.skip("not glibc's malloc")
    _, plain = address_space_mb("plain")
    assert capped < 400, (capped, plain)  # measured here: 121 MB capped, 1,047 MB plain
