"""A business rule task binds its decisionRef when it runs, as Camunda 7's decisionRefBinding: the latest version
by default, the one deployed with the process, a numbered version or the newest carrying a version tag."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import DefinitionError, ScriptError
from tests.helpers import bpmn, chain


def rating(threshold: int, tag: str | None = None) -> bytes:
    """A decision `rating`: 'high' from `threshold` up, 'low' below."""
    version_tag = f' camunda:versionTag="{tag}"' if tag else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:camunda="http://camunda.org/schema/1.0/dmn"
    id="d" name="d" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="rating" name="Rating"{version_tag}>
    <decisionTable id="t" hitPolicy="UNIQUE">
      <input id="i1"><inputExpression id="ie1" typeRef="number"><text>amount</text></inputExpression></input>
      <output id="o1" name="rating" typeRef="string"/>
      <rule id="r1"><inputEntry id="a1"><text>&gt;= {threshold}</text></inputEntry><outputEntry id="b1"><text>"high"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="a2"><text>&lt; {threshold}</text></inputEntry><outputEntry id="b2"><text>"low"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>""".encode()


def claim(binding: str = "") -> bytes:
    return bpmn(f"""<bpmn:startEvent id="s"/>
        <bpmn:businessRuleTask id="rate" camunda:decisionRef="rating" camunda:resultVariable="rating"
            camunda:mapDecisionResult="singleEntry" {binding}/>
        <bpmn:userTask id="review"/><bpmn:endEvent id="e"/>""" + chain("s", "rate", "review", "e"), process_id="claim")


def rated(engine: Engine, amount: int) -> str:
    instance = engine.instances.start("claim", variables={"amount": amount})
    return engine.instances.variables(instance.id)["rating"]


def test_a_decision_deployed_later_is_the_one_a_process_uses(engine: Engine, deploy) -> None:
    deploy(claim(), "claim.bpmn", ("rating.dmn", rating(1000)))
    assert rated(engine, 500) == "low"
    deploy(rating(100), "rating.dmn")  # a corrected table, deployed alone
    assert rated(engine, 500) == "high"


def test_the_deployment_binding_keeps_the_version_deployed_with_the_process(engine: Engine, deploy) -> None:
    deploy(claim('camunda:decisionRefBinding="deployment"'), "claim.bpmn", ("rating.dmn", rating(1000)))
    deploy(rating(100), "rating.dmn")
    assert rated(engine, 500) == "low"


def test_a_version_or_a_version_tag_names_the_decision_version(engine: Engine, deploy) -> None:
    deploy(rating(1000, tag="2026-q1"), "rating.dmn")
    deploy(rating(100, tag="2026-q2"), "rating.dmn")
    deploy(rating(10), "rating.dmn")
    deploy(claim('camunda:decisionRefBinding="version" camunda:decisionRefVersion="1"'), "claim.bpmn")
    assert rated(engine, 500) == "low"
    deploy(claim('camunda:decisionRefBinding="versionTag" camunda:decisionRefVersionTag="2026-q2"'), "claim.bpmn")
    assert rated(engine, 50) == "low" and rated(engine, 500) == "high"
    deploy(claim('camunda:decisionRefBinding="version" camunda:decisionRefVersion="9"'), "claim.bpmn")
    with pytest.raises(ScriptError, match="no decision 'rating' version 9 is deployed") as failed:
        rated(engine, 500)
    assert failed.value.element_id == "rate"


def test_a_version_binding_without_a_version_is_refused_at_deploy(engine: Engine, deploy) -> None:
    with pytest.raises(DefinitionError, match="decisionRefVersion") as refused:
        deploy(claim('camunda:decisionRefBinding="version"'), "claim.bpmn", ("rating.dmn", rating(1000)))
    assert refused.value.element_id == "rate"


def test_a_version_that_is_no_ascii_number_is_an_error_naming_the_element(engine: Engine, deploy) -> None:
    """"²" passes `str.isdigit()` but `int()` refuses it: the run-time error names the decision and the element."""
    deploy(rating(1000), "rating.dmn")
    deploy(claim('camunda:decisionRefBinding="version" camunda:decisionRefVersion="²"'), "claim.bpmn")
    with pytest.raises(ScriptError, match="decisionRefVersion '²' of decision 'rating' is not a version number") \
            as failed:
        rated(engine, 500)
    assert failed.value.element_id == "rate"


def _by_expression(attrs: str) -> bytes:
    return bpmn(f"""<bpmn:startEvent id="s"/>
        <bpmn:businessRuleTask id="rate" camunda:resultVariable="rating" camunda:mapDecisionResult="singleEntry"
            {attrs}/>
        <bpmn:userTask id="review"/><bpmn:endEvent id="e"/>""" + chain("s", "rate", "review", "e"), process_id="claim")


def test_decision_ref_and_its_version_may_be_expressions_evaluated_when_the_task_runs(engine: Engine,
                                                                                        deploy) -> None:
    """Camunda: "camunda:decisionRef, camunda:decisionRefVersion and camunda:decisionRefVersionTag can be specified
    as an expression". It was refused at deploy ("names no deployed decision") or at run ("not a version number");
    the decision may be deployed after the process."""
    deploy(_by_expression('camunda:decisionRef="${table}"'), "claim.bpmn")
    with pytest.raises(ScriptError) as missing:
        engine.instances.start("claim", variables={"table": "rating", "amount": 500})
    assert missing.value.element_id == "rate" and "no decision 'rating' is deployed" in missing.value.reason
    deploy(rating(1000), "rating.dmn")
    deploy(rating(100), "rating.dmn")
    instance = engine.instances.start("claim", variables={"table": "rating", "amount": 500})
    assert engine.instances.variables(instance.id)["rating"] == "high"  # the latest version
    deploy(_by_expression('camunda:decisionRef="rating" camunda:decisionRefBinding="version" '
                          'camunda:decisionRefVersion="${v}"'), "claim.bpmn")
    for version, expected in ((1, "low"), ("2", "high")):
        instance = engine.instances.start("claim", variables={"v": version, "amount": 500})
        assert engine.instances.variables(instance.id)["rating"] == expected


def test_a_decision_ref_expression_that_does_not_compile_is_refused_at_deploy(engine: Engine, deploy) -> None:
    with pytest.raises(DefinitionError) as refused:
        deploy(_by_expression('camunda:decisionRef="${table +}"'), "claim.bpmn")
    assert refused.value.element_id == "rate" and "camunda:decisionRef" in refused.value.reason
