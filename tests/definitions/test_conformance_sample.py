"""The conformance runner (`stageflow conformance`) on a fixed sample of the Camunda 7 engine test models.

The sample is every 29th model file of the corpus in path order (40 files), run as their Camunda tests run them:
with the variables the tests pass at start and set at tasks (camunda7_start_variables.json), deployed with the
files the tests deploy with them (camunda7_deployments.json), and with the refusals and errors the tests expect
(camunda7_expected_refusals.json). The shares of its no-Java files that end or wait for a message or signal (and
that, in addition, fail as Camunda's test expects) were measured when the runner was last improved; the test fails
when one falls by more than a small margin, so a regression in the engine cannot pass unnoticed. The corpus is
read from ../shared next to the repository (skipped outside CI when missing, a failure in CI).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.cli import main as cli_main
from engine.conformance import (
    AS_CAMUNDA,
    ENDED,
    ERROR_AS_CAMUNDA,
    OUTCOMES,
    REFUSED,
    REFUSED_AS_CAMUNDA,
    RUNTIME_ERROR,
    STEP_LIMIT,
    STUCK,
    WAITS,
    Summary,
    read_deployments,
    read_expected_failures,
    read_model,
    read_start_variables,
    run_conformance,
)
from engine.errors import BadRequest
from tests.helpers import bpmn, chain, flow

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "bpmn" / "camunda7-engine"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START_VARIABLES = Path(__file__).with_name("camunda7_start_variables.json")  # what the Camunda tests give
DEPLOYMENTS = Path(__file__).with_name("camunda7_deployments.json")  # the files they deploy together
EXPECTED = Path(__file__).with_name("camunda7_expected_refusals.json")  # the failures they expect

SAMPLE = [
    "StartToEndTest.testStartToEnd.bpmn20.xml",
    "async/AsyncCallActivityTest.testCallSubProcess.bpmn20.xml",
    "async/AsyncTaskTest.testAsyncServiceListeners.bpmn20.xml",
    "async/FoxJobRetryCmdTest.testFailedSubProcess.bpmn20.xml",
    "callactivity/CallActivity.testSubProcessAllDataInputOutputWithAdditionalInputMapping.bpmn20.xml",
    "callactivity/CallActivityDelegateMappingTest.testCallSimpleSubProcessDelegateVarMappingThrowExceptionOutput.bpmn20.xml",
    "callactivity/CaseCallActivityTest.testVariablesRoundtrip.bpmn20.xml",
    "el/ExpressionManagerTest.testMethodExpressions.bpmn20.xml",
    "event/compensate/CompensateEventTest.testCompensateSubprocessInsideSubprocess.bpmn20.xml",
    "event/compensate/CompensationEventParseInvalidProcessTest.multipleCompensationCatchEventsCompensationAttributeMissingFails.bpmn20.xml",
    "event/conditional/EventSubProcessStartConditionalEventTest.testSetVariableInDelegate.bpmn20.xml",
    "event/end/TerminateEndEventTest.testTerminateInSubProcessConcurrent.bpmn",
    "event/error/BoundaryErrorEventTest.testCatchErrorThrownByDelegateExpressionOnServiceTask.bpmn20.xml",
    "event/error/BoundaryErrorEventTest.testUncaughtRuntimeException.bpmn20.xml",
    "event/error/UnhandledBpmnErrorTest.testUncaughtErrorSimpleProcess.bpmn20.xml",
    "event/escalation/EscalationEventSubprocessTest.testInterruptingRetrieveEscalationCodeInSuperProcess.bpmn20.xml",
    "event/escalation/EscalationEventTest.testInterruptingEscalationBoundaryEventOnMultiInstanceSubprocess.bpmn20.xml",
    "event/message/MessageBoundaryEventTest.testBoundaryMessageEventOnSubprocessAndInsideSubprocessMultiInstance.bpmn20.xml",
    "event/message/MessageEventSubprocessTest.testTwoInterruptingUnderProcessDefinition.bpmn20.xml",
    "event/signal/InvalidProcessWithMultipleSignalStartEvents.bpmn20.xml",
    "event/signal/SignalEventTest.testSignalBoundaryOnSubProcess.bpmn20.xml",
    "event/timer/BoundaryTimerEventTest.testRepeatingTimerWithCancelActivity.bpmn20.xml",
    "event/timer/StartTimerEventTest.testFixedDateStartTimerEvent.bpmn20.xml",
    "exclusive/ExclusiveCatchEventTest.testExclusiveCatchEvent.bpmn",
    "external/ExternalTaskParseTest.testParseExternalTaskWithoutTopic.bpmn20.xml",
    "gateway/InclusiveGatewayTest.testInvalidMethodExpression.bpmn20.xml",
    "gateway/ParallelGatewayTest.testNestedForksFollowedByEndEvents.bpmn20.xml",
    "iomapping/InputOutputTest.testInputListElValues.bpmn",
    "iomapping/InputOutputTest.testOutputListNestedValues.bpmn",
    "job/intermediateSignalCatchJobPrioProcess.bpmn20.xml",
    "multiinstance/MultiInstanceTest.testCatchErrorThrownByParallelDelegateExpression.bpmn20.xml",
    "multiinstance/MultiInstanceTest.testParallelUserTasksCustomExtensions.bpmn20.xml",
    "parse/BpmnParseTest.testInvalidSubProcessWithConditionalStartEvent.bpmn",
    "parse/BpmnParseTest.testParseDiagramInterchangeElements.bpmn20.xml",
    "parse/CamundaFailedJobParseListenerTest.testUserTask.bpmn20.xml",
    "scripttask/ExternalScriptTaskTest.testScriptInClasspath.bpmn20.xml",
    "servicetask/JavaServiceTaskTest.testExpressionFieldInjection.bpmn20.xml",
    "subprocess/SubProcessTest.testSimpleParallelSubProcess.bpmn20.xml",
    "tasklistener/TaskListenerErrorThrowTest.testThrowErrorOnCreateScriptListenerAndCatchOnUserTask.bpmn20.xml",
    "usertask/UserTaskBpmnModelExecutionContextTest.shouldGetBpmnModelElementInstanceOnTimeout.bpmn20.xml",
]

# Measured: 20 of the sample's 27 no-Java files end or wait for a message/signal, run as their Camunda tests run
# them, and 3 more are refused as Camunda's own test expects (21 and 2 before two signal start events of the same
# name were refused, as Camunda refuses them: InvalidProcessWithMultipleSignalStartEvents moved from the first
# count to the second; 20 with start variables only; 17 before cron timer cycles, message/signal start events
# counted as waits and start variables; 14 before uncontrolled flow, implicit ends and errorRefs naming no
# <error>; 10 before sequence flows without an id were followed). Raise them when the engine passes more; the
# test fails if one falls.
MEASURED_NO_JAVA_SHARE = 20 / 27
MEASURED_WITH_AS_CAMUNDA = 23 / 27
MARGIN = 0.05


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    if not CORPUS.is_dir():
        if IN_CI:
            pytest.fail(f"the Camunda 7 engine test models are required in CI but {CORPUS} does not exist")
        pytest.skip(f"the Camunda 7 engine test models are not here ({CORPUS} does not exist)")
    missing = [name for name in SAMPLE if not (CORPUS / name).is_file()]
    assert not missing, f"sample files missing from {CORPUS}: {missing}"
    out = tmp_path_factory.mktemp("conformance") / "results.jsonl"
    return run_conformance(CORPUS, files=[CORPUS / name for name in SAMPLE], out=out, time_limit=20,
                           start_variables=read_start_variables(START_VARIABLES),
                           deployments=read_deployments(DEPLOYMENTS), expected=read_expected_failures(EXPECTED))


def test_every_sample_file_gets_an_outcome_and_a_line(summary: Summary) -> None:
    assert [r.file for r in summary.results] == SAMPLE
    for r in summary.results:
        assert r.outcome in OUTCOMES, r
        assert r.outcome in (ENDED, WAITS) or r.reason, f"{r.file}: {r.outcome} without a reason"
    assert summary.out is not None
    lines = [json.loads(line) for line in Path(summary.out).read_text(encoding="utf-8").splitlines()]
    assert [line["file"] for line in lines] == SAMPLE
    assert all({"outcome", "reason", "needsJava", "elements"} <= set(line) for line in lines)


def test_every_refusal_names_the_file_or_an_element(summary: Summary) -> None:
    refused = [r for r in summary.results if r.outcome == REFUSED]
    assert refused, "the sample holds refused files"
    for r in refused:
        assert r.error_file or r.error_element, f"{r.file}: the refusal names neither file nor element: {r.message}"
        if r.error_file:
            assert r.error_file in (Path(r.file).name, *r.deployed_with), r


def test_the_no_java_share_that_ends_or_waits_does_not_fall(summary: Summary) -> None:
    no_java = [r for r in summary.results if not r.needs_java]
    good = [r for r in no_java if r.outcome in (ENDED, WAITS)]
    share = len(good) / len(no_java)
    others = "\n".join(f"  {r.outcome}: {r.file} ({r.reason})" for r in no_java if r not in good)
    assert share >= MEASURED_NO_JAVA_SHARE - MARGIN, (
        f"{len(good)}/{len(no_java)} no-Java files end or wait ({share:.1%}), measured "
        f"{MEASURED_NO_JAVA_SHARE:.1%}:\n{others}")
    as_camunda = [r for r in no_java if r.outcome in AS_CAMUNDA]
    assert all(r.expected for r in as_camunda), "an as-camunda outcome names the Camunda test that expects it"
    with_as_camunda = (len(good) + len(as_camunda)) / len(no_java)
    assert with_as_camunda >= MEASURED_WITH_AS_CAMUNDA - MARGIN, (
        f"{len(good) + len(as_camunda)}/{len(no_java)} no-Java files end, wait or fail as Camunda's test expects "
        f"({with_as_camunda:.1%}), measured {MEASURED_WITH_AS_CAMUNDA:.1%}:\n{others}")


def test_java_markers_are_found_under_any_prefix() -> None:
    java = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
        xmlns:cb="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
      <process id="p" isExecutable="true">
        <extensionElements><cb:executionListener event="start" class="x.Y"/></extensionElements>
        <startEvent id="s"/>
        <serviceTask id="a" cb:expression="${bean.go()}"/>
        <scriptTask id="b" scriptFormat="Groovy"><script>x = 1</script></scriptTask>
        <scriptTask id="c" scriptFormat="python"><script>x = 1</script></scriptTask>
        <userTask id="d" cb:assignee="${expression}"/>
      </process>
    </definitions>"""
    info = read_model(java)
    assert info.java == ["camunda:executionListener", "camunda:expression", "groovy script"]
    assert info.none_start == ["p"] and info.executable == ["p"]
    assert read_model(bpmn(chain("s", "e") + '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>')).java == []


def test_a_method_call_on_a_java_bean_marks_the_file_as_needing_java() -> None:
    timer = bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>' + chain("s", "t", "e")
                 + '<bpmn:boundaryEvent id="b" attachedToRef="t" cancelActivity="false"><bpmn:timerEventDefinition>'
                 "<bpmn:timeCycle>#{myCycleTimerBean.getCycle()}</bpmn:timeCycle></bpmn:timerEventDefinition>"
                 "</bpmn:boundaryEvent>")
    assert read_model(timer).java == ["java bean myCycleTimerBean"]
    plain = bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t" camunda:assignee="${order.getOwner()}"/>'
                 + chain("s", "t"))
    assert read_model(plain).java == []  # a bean getter on a map variable runs without Java


def test_the_command_classifies_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "ends.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:endEvent id="e"/>' + chain("s", "review", "e"),
        "ends"))
    (models / "waits.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition '
        'messageRef="m"/></bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + chain("s", "paid", "e"),
        "waits", extra='<bpmn:message id="m" name="payment"/>'))
    (models / "loops.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="again"/><bpmn:exclusiveGateway id="g" default="back"/>'
        '<bpmn:endEvent id="e"/>' + chain("s", "again", "g") + flow("g", "again", flow_id="back")
        + flow("g", "e", "${false}"), "loops"))
    (models / "java.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"/><bpmn:serviceTask id="call" camunda:class="x.Y"/><bpmn:endEvent id="e"/>'
        + chain("s", "call", "e"), "java"))
    out = tmp_path / "results.jsonl"
    assert cli_main(["conformance", str(models), "--out", str(out), "--max-steps", "5", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["files"] == 4 and body["noJavaFiles"] == 3
    assert body["counts"]["all"] == {"refused": 1, "refused-as-camunda": 0, "ended": 1,
                                     "waits-message-or-signal": 1, "stuck": 0, "runtime-error": 0,
                                     "error-as-camunda": 0, "step-limit": 1, "not-started": 0}
    rows = {row["file"]: row for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert rows["java.bpmn"]["reason"] == "java delegate (camunda:class)" and rows["java.bpmn"]["needsJava"]
    assert rows["java.bpmn"]["errorElement"] == "call"
    assert rows["waits.bpmn"]["elements"] == ["message payment"]
    assert rows["loops.bpmn"]["outcome"] == STEP_LIMIT and rows["loops.bpmn"]["steps"] == 5


def test_the_runner_says_what_a_file_waits_for_and_why_one_is_stuck(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "order_start.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>'
        '<bpmn:userTask id="handle"/><bpmn:endEvent id="e"/>' + chain("s", "handle", "e"), "order_start",
        extra='<bpmn:message id="m" name="order-received"/>'))
    (models / "condition.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="approved"><bpmn:conditionalEventDefinition>'
        '<bpmn:condition xsi:type="bpmn:tFormalExpression">${approved}</bpmn:condition>'
        '</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>'
        + chain("s", "approved", "e"), "condition"))
    (models / "reminders.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"/><bpmn:receiveTask id="wait"/><bpmn:boundaryEvent id="nag" attachedToRef="wait" '
        'cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle>'
        '</bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        + chain("s", "wait", "e") + chain("nag", "e2"), "reminders"))
    (models / "join.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x" default="fa"/><bpmn:userTask id="a"/>'
        '<bpmn:userTask id="b"/><bpmn:parallelGateway id="j"/><bpmn:endEvent id="e"/>'
        + chain("s", "x") + flow("x", "a", flow_id="fa") + flow("x", "b", "${false}") + chain("a", "j")
        + chain("b", "j") + chain("j", "e"), "join"))
    (models / "needs_input.bpmn").write_bytes(bpmn(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x"/><bpmn:userTask id="small"/>'
        '<bpmn:userTask id="big"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
        + chain("s", "x") + flow("x", "small", "${input < 3}") + flow("x", "big", "${input >= 3}")
        + chain("small", "e1") + chain("big", "e2"), "needs_input"))
    variables = tmp_path / "start.json"
    variables.write_text(json.dumps({"files": {"needs_input.bpmn": {"input": 5}}}), encoding="utf-8")
    without = {r.file: r for r in run_conformance(models).results}
    assert without["needs_input.bpmn"].outcome == "runtime-error"  # `input` is not set: Camunda throws too
    results = {r.file: r for r in run_conformance(models, start_variables=read_start_variables(variables)).results}
    assert results["needs_input.bpmn"].outcome == ENDED and results["needs_input.bpmn"].start_variables == ["input"]
    assert (results["order_start.bpmn"].outcome, results["order_start.bpmn"].elements) == (
        WAITS, ["message order-received (start)"])
    assert (results["condition.bpmn"].outcome, results["condition.bpmn"].elements) == (WAITS, ["condition approved"])
    assert (results["reminders.bpmn"].outcome, results["reminders.bpmn"].elements) == (
        WAITS, ["message wait", "timer nag (a cycle, repeating meanwhile)"])
    assert results["join.bpmn"].outcome == "stuck"
    assert results["join.bpmn"].reason == "waits at parallelGateway j: a join waiting for a branch that never arrives"


def test_the_camunda_test_files_name_corpus_files_and_their_tests() -> None:
    variables = read_start_variables(START_VARIABLES)
    deployments = read_deployments(DEPLOYMENTS)
    expected = read_expected_failures(EXPECTED)
    assert variables and deployments and expected
    assert all(v.test for v in variables.values()), "every start variables entry names the test it comes from"
    assert all(d.test for d in deployments.values()), "every deployment names the test it comes from"
    assert all(e.test and e.evidence for e in expected.values())
    if not CORPUS.is_dir():
        pytest.skip(f"the Camunda 7 engine test models are not here ({CORPUS} does not exist)")
    named = [*variables, *deployments, *expected] + [f for d in deployments.values() for f in d.files]
    assert [name for name in named if not (CORPUS / name).is_file()] == []


def _write(folder: Path, name: str, data: bytes | str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def _json(path: Path, files: dict[str, object]) -> Path:
    path.write_text(json.dumps({"files": files}), encoding="utf-8")
    return path


def test_task_variables_and_timers_first_drive_a_model_as_its_test_does(tmp_path: Path) -> None:
    models = tmp_path / "models"
    _write(models, "approve.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:exclusiveGateway id="x"/>'
        '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>' + chain("s", "review", "x")
        + flow("x", "yes", "${approved}") + flow("x", "no", "${not approved}"), "approve"))
    _write(models, "again.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="try"/><bpmn:exclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        + chain("s", "try", "x") + flow("x", "try", "${not done}", flow_id="back") + flow("x", "e", "${done}"),
        "again"))
    _write(models, "join.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="main"/><bpmn:boundaryEvent id="t" attachedToRef="main" '
        'cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>'
        '</bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:userTask id="escalate"/>'
        '<bpmn:parallelGateway id="j"/><bpmn:endEvent id="e"/>'
        + chain("s", "main", "j", "e") + chain("t", "escalate", "j"), "join"))
    without = {r.file: r for r in run_conformance(models).results}
    assert without["approve.bpmn"].outcome == RUNTIME_ERROR  # `approved` is unknown: Camunda throws too
    assert without["join.bpmn"].outcome == STUCK  # main completed first: the join waits for ever, in Camunda too
    setup = read_start_variables(_json(tmp_path / "setup.json", {
        "approve.bpmn": {"test": "T.approve", "tasks": {"review": {"approved": True}}},
        "again.bpmn": {"test": "T.again", "tasks": {"try": [{"done": False}, {"done": False}, {"done": True}]}},
        "join.bpmn": {"test": "T.join", "timersFirst": True}}))
    results = {r.file: r for r in run_conformance(models, start_variables=setup).results}
    assert (results["approve.bpmn"].outcome, results["approve.bpmn"].task_variables) == (ENDED, ["review: approved"])
    assert results["approve.bpmn"].test == "T.approve"
    assert (results["again.bpmn"].outcome, results["again.bpmn"].steps) == (ENDED, 3)
    assert results["join.bpmn"].outcome == ENDED
    with pytest.raises(BadRequest, match="tasks"):
        read_start_variables(_json(tmp_path / "bad.json", {"x.bpmn": {"tasks": {"review": 5}}}))


def test_a_deployments_file_deploys_a_model_with_the_files_its_test_deploys(tmp_path: Path) -> None:
    models = tmp_path / "models"
    _write(models, "parent/caller.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:callActivity id="call" calledElement="child"/><bpmn:endEvent id="e"/>'
        + chain("s", "call", "e"), "caller"))
    _write(models, "lib/child.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>' + chain("s", "work", "e"),
        "child"))
    alone = {r.file: r for r in run_conformance(models, files=[models / "parent/caller.bpmn"]).results}
    assert alone["parent/caller.bpmn"].outcome == REFUSED  # its own folder holds no process 'child'
    together = read_deployments(_json(tmp_path / "deploy.json", {
        "parent/caller.bpmn": {"test": "T.call", "with": ["lib/child.bpmn"]}}))
    result = run_conformance(models, files=[models / "parent/caller.bpmn"], deployments=together).results[0]
    assert (result.outcome, result.deployed_with, result.test) == (ENDED, ["child.bpmn"], "T.call")
    missing = read_deployments(_json(tmp_path / "missing.json", {
        "parent/caller.bpmn": {"test": "T.call", "with": [], "missing": ["api/child.bpmn20.xml"]}}))
    result = run_conformance(models, files=[models / "parent/caller.bpmn"], deployments=missing).results[0]
    assert result.outcome == REFUSED and "api/child.bpmn20.xml: not in the corpus" in (result.reason or "")


def test_a_failure_counts_as_camunda_only_when_camunda_fails_the_same_way(tmp_path: Path) -> None:
    models = tmp_path / "models"
    _write(models, "broken.bpmn", "<definitions><process id='p'></definitions>")
    _write(models, "other.bpmn", "<definitions><process id='p'></definitions>")
    _write(models, "fine.bpmn", bpmn('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e"), "fine"))
    _write(models, "no_flow.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        + chain("s", "x") + flow("x", "e", "${false}"), "no_flow"))

    def entry(kind: str, match: str) -> dict[str, str]:
        return {"kind": kind, "match": match, "testClass": "T", "testMethod": "m", "evidence": "the test says so"}

    expected = read_expected_failures(_json(tmp_path / "expected.json", {
        "broken.bpmn": entry("refusal", "malformed XML"), "other.bpmn": entry("refusal", "a message without name"),
        "fine.bpmn": entry("refusal", "anything"), "no_flow.bpmn": entry("runtime-error", "condition holds")}))
    summary = run_conformance(models, expected=expected)
    results = {r.file: r for r in summary.results}
    assert (results["broken.bpmn"].outcome, results["broken.bpmn"].expected) == (REFUSED_AS_CAMUNDA, "T.m")
    assert results["other.bpmn"].outcome == REFUSED
    assert "Camunda's T.m expects a refusal, not this one" in (results["other.bpmn"].reason or "")
    assert (results["fine.bpmn"].outcome, results["fine.bpmn"].camunda_refuses) == (ENDED, "T.m")
    assert results["no_flow.bpmn"].outcome == ERROR_AS_CAMUNDA
    assert summary.counts()[REFUSED_AS_CAMUNDA] == 1 and summary.share() == 0.25
    assert summary.share(also=AS_CAMUNDA) == 0.75
    assert "  + refused-as-camunda" in summary.to_text()
    with pytest.raises(BadRequest, match="evidence"):
        read_expected_failures(_json(tmp_path / "bad.json", {"x.bpmn": {"kind": "refusal", "match": "x"}}))
