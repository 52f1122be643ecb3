"""Plain in-memory SpiffWorkflow running the benchmark flow: the reference `engine_throughput.py` compares with.

Run as a separate process (`python bench/spiff_baseline.py`, one round size per line on stdin, the seconds it took
on stdout), so that nothing Stageflow does to SpiffWorkflow when imported (hooks for Camunda's input/output
mappings, the skipped log-record work of `engine/spiff/speedups.py`) reaches the reference: it is SpiffWorkflow as
a user of the library has it.
"""

from __future__ import annotations

import sys
import time

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.util.task import TaskState

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x"')

# start -> user task -> script -> end
FLOW = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}>
  <bpmn:process id="bench" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="task" name="Do it"/>
    <bpmn:scriptTask id="script"><bpmn:script>y = x * 2</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="script"/>
    <bpmn:sequenceFlow id="f3" sourceRef="script" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def specs() -> tuple:
    parser = CamundaParser()
    parser.add_bpmn_str(FLOW)
    return parser.get_spec("bench"), parser.get_subprocess_specs("bench")


def seconds(compiled: tuple, n: int) -> float:
    """Seconds to run `n` instances of the flow to their end, completing the user task in between."""
    spec, subs = compiled
    started = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(spec, subs)
        wf.task_tree.data["x"] = 21
        wf.do_engine_steps()
        task = wf.get_next_task(state=TaskState.READY, manual=True)
        task.run()
        wf.do_engine_steps()
        assert wf.completed
    return time.perf_counter() - started


def main() -> None:
    compiled = specs()
    for line in sys.stdin:
        print(seconds(compiled, int(line)), flush=True)


if __name__ == "__main__":
    main()
