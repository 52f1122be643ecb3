"""A call activity calls the version of the called process Camunda would (`camunda:calledElementBinding`): by
default the latest one deployed when an instance starts, not the one that was latest when the caller was deployed;
`version` and `versionTag` that version; `deployment` the one deployed with the caller. An instance keeps the
versions it bound through every later load."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import BadRequest
from tests.engine.test_bpmn_features import complete, open_tasks, state
from tests.helpers import bpmn, chain


def _callee(task: str, tag: str) -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="s"/><bpmn:userTask id="{task}"/>
        <bpmn:scriptTask id="mark"><bpmn:script>handled_by = "{task}"</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", task, "mark", "e"), process_id="check").replace(
        b'<bpmn:process id="check"', f'<bpmn:process id="check" camunda:versionTag="{tag}"'.encode())


def _caller(process_id: str, binding: str = "") -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="check" {binding}>
          <bpmn:extensionElements><camunda:out variables="all"/></bpmn:extensionElements>
        </bpmn:callActivity>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "call", "after", "e"),
        process_id=process_id)


def test_new_instances_call_the_latest_version_and_keep_it(engine: Engine, deploy) -> None:
    deploy(_callee("review_v1", "one"), "check.bpmn")
    deploy(_caller("order"), "order.bpmn")
    first = engine.instances.start("order")
    assert open_tasks(engine, first.id) == ["review_v1"]
    deploy(_callee("review_v2", "two"), "check.bpmn")  # a new version of the called process only
    second = engine.instances.start("order")
    assert open_tasks(engine, second.id) == ["review_v2"]  # before: review_v1, until the caller was redeployed
    engine.executor.runs.clear()  # every later change loads the instances from the database
    complete(engine, second.id, "review_v2")
    complete(engine, first.id, "review_v1")  # the first keeps the version it started with
    assert engine.instances.variables(second.id)["handled_by"] == "review_v2"
    assert engine.instances.variables(first.id)["handled_by"] == "review_v1"
    for instance in (first, second):
        complete(engine, instance.id, "after")
        assert state(engine, instance.id) == "COMPLETED"


def test_a_version_a_tag_or_the_callers_deployment_is_bound_as_named(engine: Engine, deploy) -> None:
    deploy(_callee("review_v1", "one"), "check.bpmn")
    deploy(_caller("pinned", 'camunda:calledElementBinding="version" camunda:calledElementVersion="1"'),
           "pinned.bpmn")
    deploy(_caller("tagged", 'camunda:calledElementBinding="versionTag" camunda:calledElementVersionTag="two"'),
           "tagged.bpmn")
    deploy(_caller("as_deployed", 'camunda:calledElementBinding="deployment"'), "as_deployed.bpmn")
    deploy(_callee("review_v2", "two"), "check.bpmn")
    deploy(_callee("review_v3", "three"), "check.bpmn")
    runs = {key: engine.instances.start(key) for key in ("pinned", "tagged", "as_deployed")}
    assert {key: open_tasks(engine, i.id) for key, i in runs.items()} == {
        "pinned": ["review_v1"], "tagged": ["review_v2"], "as_deployed": ["review_v1"]}
    engine.executor.runs.clear()
    complete(engine, runs["tagged"].id, "review_v2")
    assert open_tasks(engine, runs["tagged"].id) == ["after"]


def test_a_bound_version_that_is_not_deployed_is_a_clear_error(engine: Engine, deploy) -> None:
    deploy(_callee("review_v1", "one"), "check.bpmn")
    deploy(_caller("pinned", 'camunda:calledElementBinding="version" camunda:calledElementVersion="7"'),
           "pinned.bpmn")
    with pytest.raises(BadRequest, match="process 'check' version 7, which definition 'pinned:1:.*' calls, is not "
                                         "deployed"):
        engine.instances.start("pinned")
    assert engine.instances.list(definition_key="pinned") == []
