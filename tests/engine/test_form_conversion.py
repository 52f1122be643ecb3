"""Generated forms in the engine as Camunda's FormFieldHandler works them: a completion converts each value to its
field's type and refuses readonly fields; `form_variables` types each field's value by its form type."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.api import Engine
from engine.errors import InvalidVariables
from engine.forms import form_variables
from engine.store import models as m
from engine.variables import Long
from tests.helpers import bpmn, chain

FORM = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review" name="Review">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="ref" type="string">
          <camunda:validation><camunda:constraint name="readonly"/></camunda:validation>
        </camunda:formField>
        <camunda:formField id="amount" type="long"/>
        <camunda:formField id="ok" type="boolean"/>
        <camunda:formField id="on" type="date"/>
        <camunda:formField id="at" type="date" datePattern="yyyy-MM-dd HH:mm"/>
        <camunda:formField id="label" type="string"/>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="after" name="After"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "review", "after", "e"), process_id="formed")


def test_a_form_completion_converts_values_and_refuses_a_readonly_field(engine: Engine, deploy) -> None:
    deploy(FORM)
    instance = engine.instances.start("formed", variables={"ref": "R-1"})
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(InvalidVariables) as refused:
        engine.tasks.complete(task.id, {"ref": "R-2", "amount": 1})
    assert refused.value.field == "ref"
    assert engine.tasks.get(task.id).ended_at is None  # still open
    values = engine.tasks.complete(task.id, {"amount": "25", "ok": "false", "on": "04/01/2027",
                                             "at": "2027-01-04 09:30", "label": 12})
    assert values["ref"] == "R-1"
    assert values["amount"] == 25 and type(values["amount"]) is Long  # as Camunda's LongFormType
    assert values["ok"] is False
    assert values["on"] == dt.datetime(2027, 1, 4)
    assert values["at"] == dt.datetime(2027, 1, 4, 9, 30)
    assert values["label"] == "12"


def test_form_variables_type_values_by_the_fields_form_types() -> None:
    fields = [
        {"id": "n", "type": "long", "defaultValue": "1"},
        {"id": "b", "type": "boolean", "defaultValue": "false"},
        {"id": "d", "type": "date", "defaultValue": None},
        {"id": "p", "type": "date", "datePattern": "yyyy-MM-dd HH:mm", "defaultValue": None},
        {"id": "e", "type": "enum", "defaultValue": None},
        {"id": "s", "type": "string", "defaultValue": None},
        {"id": "odd", "type": "long", "defaultValue": None},
    ]
    values = {"d": dt.datetime(2027, 1, 4), "p": dt.datetime(2027, 1, 4, 9, 30), "s": True, "odd": "abc"}
    out = form_variables(fields, values)
    assert out == {
        "n": {"value": 1, "type": "Long", "valueInfo": {}},
        "b": {"value": False, "type": "Boolean", "valueInfo": {}},
        "d": {"value": "04/01/2027", "type": "String", "valueInfo": {}},
        "p": {"value": "2027-01-04 09:30", "type": "String", "valueInfo": {}},
        "e": {"value": None, "type": "String", "valueInfo": {}},
        "s": {"value": "true", "type": "String", "valueInfo": {}},
        "odd": {"value": "abc", "type": "String", "valueInfo": {}},  # not a long: shown as it is
    }
    assert form_variables(fields, values, ["b", "zzz"]) == {"b": {"value": False, "type": "Boolean",
                                                                  "valueInfo": {}}}
    assert form_variables(fields, {"b": None})["b"] == {"value": None, "type": "Boolean", "valueInfo": {}}


REQUIRED = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="confirm" name="Confirm">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="amount" type="long">
          <camunda:validation><camunda:constraint name="required"/></camunda:validation>
        </camunda:formField>
        <camunda:formField id="note" type="string">
          <camunda:validation><camunda:constraint name="required"/></camunda:validation>
        </camunda:formField>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "confirm", "e"), process_id="required")


def test_a_required_field_is_satisfied_by_a_variable_that_already_holds_a_value(engine: Engine, deploy) -> None:
    """As Camunda's RequiredValidator: a required field not sent is checked against the variable in scope."""
    deploy(REQUIRED)
    instance = engine.instances.start("required", variables={"amount": 1200})
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(InvalidVariables) as refused:  # `note` has no value anywhere
        engine.tasks.complete(task.id, {})
    assert refused.value.field == "note"
    with pytest.raises(InvalidVariables) as refused:  # an empty text is no value, whatever the scope holds
        engine.tasks.complete(task.id, {"note": ""})
    assert refused.value.field == "note"
    variables = engine.tasks.complete(task.id, {"note": "checked"})  # `amount` is not sent: the variable counts
    assert variables["amount"] == 1200 and variables["note"] == "checked"
    assert engine.instances.get(instance.id).state == "COMPLETED"


def test_a_required_field_without_a_variable_is_still_refused(engine: Engine, deploy) -> None:
    deploy(REQUIRED)
    instance = engine.instances.start("required", variables={"amount": None, "note": "n"})
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(InvalidVariables) as refused:  # a variable holding null is no value
        engine.tasks.complete(task.id, {})
    assert refused.value.field == "amount"
    assert engine.tasks.list(instance_id=instance.id)  # the task stays open


def test_a_variable_set_to_an_equal_value_of_another_type_takes_the_new_type(engine: Engine, deploy) -> None:
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="a"/><bpmn:userTask id="b"/><bpmn:endEvent id="e"/>'
                + chain("s", "a", "b", "e"), process_id="retyped"))
    instance = engine.instances.start("retyped", variables={"flag": 1, "size": 5, "count": 7})
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(task.id, {"flag": True, "size": 5.0, "count": Long(7)})  # each equal to the old value
    variables = engine.instances.variables(instance.id)
    assert variables["flag"] is True
    assert type(variables["size"]) is float
    with engine.db.read() as session:  # the projection REST and the inbox read types from
        types = {row.name: row.type for row in session.query(m.Variable).filter_by(instance_id=instance.id)}
    assert types == {"flag": "Boolean", "size": "Double", "count": "Long"}
