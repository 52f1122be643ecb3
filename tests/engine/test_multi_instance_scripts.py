"""A script task as a multi-instance activity over `camunda:collection`, as Camunda Modeler writes it.

Stageflow's scripts write process variables by plain assignment. In a multi-instance activity each instance's
script starts from the process variables as the instances before it left them (Camunda 7 runs the instances of a
parallel activity one after the other when nothing is asynchronous), and what it assigns becomes a process
variable when the instance completes (the last write of a name wins). The element variable and the loop counters
(`loopCounter`, `nrOfInstances`, `nrOfActiveInstances`, `nrOfCompletedInstances`) are the instance's own: they
never become process variables, and assigning the element variable does not change the collection. SpiffWorkflow
alone refused the element at deploy, and once parsed it dropped everything an instance assigned.
"""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.clock import VirtualClock
from engine.config import Settings
from tests.helpers import bpmn, chain

PARALLEL_AND_SEQUENTIAL = pytest.mark.parametrize("sequential", ["false", "true"])


def script_over_items(script: str, sequential: str, completion: str = "") -> bytes:
    """A process: a script task run once per element of `items` (as `item`), then a user task `after`."""
    condition = f"<bpmn:completionCondition>{completion}</bpmn:completionCondition>" if completion else ""
    return bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="each" scriptFormat="python">
          <bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}" camunda:collection="${{items}}"
                                                 camunda:elementVariable="item">{condition}
          </bpmn:multiInstanceLoopCharacteristics>
          <bpmn:script>{script}</bpmn:script>
        </bpmn:scriptTask>
        <bpmn:userTask id="after"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "each", "after", "e"))


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))


@PARALLEL_AND_SEQUENTIAL
def test_each_instance_adds_to_what_the_instances_before_it_wrote(engine: Engine, deploy, sequential: str) -> None:
    deploy(script_over_items("total = total + item", sequential))
    instance = engine.instances.start("p", variables={"items": [1, 2, 3], "total": 0})
    assert open_tasks(engine, instance.id) == ["after"]
    assert engine.instances.variables(instance.id) == {"items": [1, 2, 3], "total": 6}


@PARALLEL_AND_SEQUENTIAL
def test_new_variables_appended_lists_and_the_last_write_all_reach_the_process(engine: Engine, deploy,
                                                                                sequential: str) -> None:
    deploy(script_over_items("visited = visited + [item]\n"
                             "log.append(loopCounter)\n"
                             "last = item", sequential))
    instance = engine.instances.start("p", variables={"items": ["ann", "bob", "cy"], "visited": [], "log": []})
    assert engine.instances.variables(instance.id) == {
        "items": ["ann", "bob", "cy"], "visited": ["ann", "bob", "cy"], "log": [0, 1, 2], "last": "cy"}


@PARALLEL_AND_SEQUENTIAL
def test_the_element_variable_and_the_counters_stay_with_the_instance(engine: Engine, deploy,
                                                                      sequential: str) -> None:
    deploy(script_over_items("item = item * 10\n"
                             "tens = tens + [item]\n"
                             "loopCounter = 99\n"
                             "nrOfInstances = 0", sequential))
    instance = engine.instances.start("p", variables={"items": [1, 2, 3], "tens": []})
    # The collection is as given (SpiffWorkflow writes the element variable back into it by itself).
    assert engine.instances.variables(instance.id) == {"items": [1, 2, 3], "tens": [10, 20, 30]}


@pytest.mark.parametrize(("sequential", "expected"), [
    ("true", [[0, 3, 1, 0], [1, 3, 1, 1], [2, 3, 1, 2]]),
    ("false", [[0, 3, 3, 0], [1, 3, 2, 1], [2, 3, 1, 2]]),  # all created first, then run one by one
])
def test_each_instance_reads_camundas_loop_counters(engine: Engine, deploy, sequential: str,
                                                    expected: list[list[int]]) -> None:
    deploy(script_over_items(
        "seen = seen + [[loopCounter, nrOfInstances, nrOfActiveInstances, nrOfCompletedInstances]]", sequential))
    instance = engine.instances.start("p", variables={"items": ["a", "b", "c"], "seen": []})
    assert engine.instances.variables(instance.id)["seen"] == expected


def test_a_completion_condition_ends_a_sequential_activity_early(engine: Engine, deploy) -> None:
    deploy(script_over_items("total = total + item\nruns = runs + 1", "true", "${total &gt;= 6}"))
    instance = engine.instances.start("p", variables={"items": [1, 2, 3, 4, 5], "total": 0, "runs": 0})
    assert open_tasks(engine, instance.id) == ["after"]
    assert engine.instances.variables(instance.id) == {"items": [1, 2, 3, 4, 5], "total": 6, "runs": 3}


def test_a_completion_condition_ends_a_parallel_activity_early(engine: Engine, deploy) -> None:
    deploy(script_over_items("total = total + item\nruns = runs + 1", "false", "${total &gt;= 6}"))
    instance = engine.instances.start("p", variables={"items": [1, 2, 3, 4, 5], "total": 0, "runs": 0})
    assert open_tasks(engine, instance.id) == ["after"]
    assert engine.instances.variables(instance.id) == {"items": [1, 2, 3, 4, 5], "total": 6, "runs": 3}


@PARALLEL_AND_SEQUENTIAL
def test_an_empty_collection_runs_no_instance(engine: Engine, deploy, sequential: str) -> None:
    deploy(script_over_items("total = total + item", sequential))
    instance = engine.instances.start("p", variables={"items": [], "total": 0})
    assert open_tasks(engine, instance.id) == ["after"]
    assert engine.instances.variables(instance.id) == {"items": [], "total": 0}


@PARALLEL_AND_SEQUENTIAL
def test_a_failing_instance_is_an_error_naming_the_activity(engine: Engine, deploy, sequential: str) -> None:
    from engine.errors import ScriptError

    deploy(script_over_items("total = total + 10 // (item - 2)", sequential))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("p", variables={"items": [1, 2, 3], "total": 0})
    assert err.value.element_id == "each" and "ZeroDivisionError" in err.value.reason


@pytest.mark.parametrize("loop", [
    '<bpmn:multiInstanceLoopCharacteristics isSequential="false" camunda:collection="${approvers}" '
    'camunda:elementVariable="approver"/>',
    '<bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${approvers}" '
    'camunda:elementVariable="approver"/>',
    '<bpmn:standardLoopCharacteristics loopMaximum="2"/>',
], ids=["parallel", "sequential", "standard-loop"])
def test_instances_created_by_one_engine_process_complete_in_another(database_url: str, clock: VirtualClock,
                                                                     loop: str) -> None:
    # SpiffWorkflow counts an instance as done through a callback it attaches when it creates an instance, and
    # reads a Camunda collection through references it sets as the activity starts, both in the process that
    # does it: after a restart (or on another worker) the activity waited for ever, or took its collection for
    # a list to append to.
    settings = Settings(database_url=database_url, script_time_limit=2.0)
    first = Engine(settings, clock=clock)
    first.definitions.deploy([("p.bpmn", bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="approve">{loop}</bpmn:userTask>
        <bpmn:userTask id="after"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "approve", "after", "e")))])
    instance = first.instances.start("p", variables={"approvers": ["ann", "bob"]})
    first.close()
    for n in range(2):
        other = Engine(settings, clock=clock)  # a fresh process: none of the first one's specs
        task = other.tasks.list(instance_id=instance.id)[0]
        assert task.task_definition_key == "approve"
        other.tasks.complete(task.id, {f"ok_{n}": True})
        other.close()
    last = Engine(settings, clock=clock)
    try:
        assert open_tasks(last, instance.id) == ["after"]
        assert last.instances.variables(instance.id) == {"approvers": ["ann", "bob"], "ok_0": True, "ok_1": True}
    finally:
        last.close()


def test_a_parallel_script_over_5000_items_runs_within_one_change(sqlite_engine: Engine) -> None:
    # Each instance used to make SpiffWorkflow's completion checks and the loop counters read every instance: the
    # change grew as the square of the items and a few thousand ran into the loop guard (15 s of engine steps).
    sqlite_engine.definitions.deploy([("p.bpmn", script_over_items("done = done + 1\nlast = loopCounter", "false"))])
    instance = sqlite_engine.instances.start("p", variables={"items": list(range(5000)), "done": 0})
    assert open_tasks(sqlite_engine, instance.id) == ["after"]
    variables = sqlite_engine.instances.variables(instance.id)
    assert (variables["done"], variables["last"]) == (5000, 4999)


def test_bpmns_own_loop_data_input_form_runs_the_same(engine: Engine, deploy) -> None:
    # MultiInstanceTest.testParallelScriptTasksBasedOnCollection's form (loopDataInputRef, inputDataItem).
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="each" scriptFormat="python">
          <bpmn:multiInstanceLoopCharacteristics isSequential="false">
            <bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>
            <bpmn:inputDataItem name="item"/>
          </bpmn:multiInstanceLoopCharacteristics>
          <bpmn:script>total = total + item</bpmn:script>
        </bpmn:scriptTask>
        <bpmn:userTask id="after"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "each", "after", "e")))
    instance = engine.instances.start("p", variables={"items": [1, 2, 3], "total": 0})
    assert engine.instances.variables(instance.id) == {"items": [1, 2, 3], "total": 6}


# -- instances that are subprocesses or call activities: what they change reaches the process too ----------------
def test_a_sequential_subprocess_instance_hands_on_what_its_scripts_assign(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="round">
          <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${items}"
                                                 camunda:elementVariable="item"/>
          <bpmn:startEvent id="rs"/>
          <bpmn:scriptTask id="add"><bpmn:script>total = total + item</bpmn:script></bpmn:scriptTask>
          <bpmn:endEvent id="re"/>""" + chain("rs", "add", "re") + """
        </bpmn:subProcess>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "round", "after", "e")))
    instance = engine.instances.start("p", variables={"items": [1, 2, 3], "total": 0})
    assert open_tasks(engine, instance.id) == ["after"]
    assert engine.instances.variables(instance.id) == {"items": [1, 2, 3], "total": 6}


@PARALLEL_AND_SEQUENTIAL
def test_a_call_activity_instance_hands_on_its_out_variables(engine: Engine, deploy, sequential: str) -> None:
    called = bpmn('<bpmn:startEvent id="cs"/><bpmn:scriptTask id="double"><bpmn:script>result = x * 2</bpmn:script>'
                  '</bpmn:scriptTask><bpmn:endEvent id="ce"/>' + chain("cs", "double", "ce"), process_id="child")
    deploy(bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="child">
          <bpmn:extensionElements>
            <camunda:in source="item" target="x"/>
            <camunda:out source="result" target="lastResult"/>
            <camunda:out source="result" target="mine" local="true"/>
          </bpmn:extensionElements>
          <bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}" camunda:collection="${{items}}"
                                                 camunda:elementVariable="item"/>
        </bpmn:callActivity>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "call", "after", "e")),
           "main.bpmn", ("child.bpmn", called))
    instance = engine.instances.start("p", variables={"items": [1, 2, 3]})
    assert open_tasks(engine, instance.id) == ["after"]
    # The instances complete in the order of the collection: the last one's result is the process's.
    assert engine.instances.variables(instance.id) == {"items": [1, 2, 3], "lastResult": 6}
