"""Generated forms in the engine as Camunda's FormFieldHandler works them: a completion converts each value to its
field's type and refuses readonly fields; `form_variables` types each field's value by its form type."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.api import Engine
from engine.errors import InvalidVariables
from engine.forms import form_variables
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
