"""More of Camunda 7's dialect, run as Camunda runs it: mail tasks, JUEL method calls, call activity mappings."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import DefinitionError, ScriptError
from tests.engine.test_mailer import mailing, smtp  # noqa: F401 - fixtures: an engine mailing through a local server
from tests.helpers import bpmn, chain, flow


def state(engine: Engine, instance_id: str) -> str:
    return engine.instances.get(instance_id).state


# -- mail tasks (camunda:type="mail") ---------------------------------------------------------------------------
MAIL = bpmn("""
<bpmn:startEvent id="s"/>
<bpmn:sendTask id="tell" camunda:type="mail">
  <bpmn:extensionElements>
    <camunda:field name="from"><camunda:expression>${sender}</camunda:expression></camunda:field>
    <camunda:field name="to" stringValue="ann@example.test, bob@example.test"/>
    <camunda:field name="cc"><camunda:string>carl@example.test</camunda:string></camunda:field>
    <camunda:field name="bcc" expression="${auditor}"/>
    <camunda:field name="subject"><camunda:expression>Order ${orderNo} shipped</camunda:expression></camunda:field>
    <camunda:field name="text"><camunda:expression>Hello ${name}, your order is on its way.</camunda:expression>
    </camunda:field>
    <camunda:field name="html"><camunda:expression><![CDATA[
      <p>Hello ${gender.equals('male') ? 'Mr.' : 'Mrs.'} <b>${name}</b></p>]]></camunda:expression>
    </camunda:field>
  </bpmn:extensionElements>
</bpmn:sendTask>
<bpmn:endEvent id="e"/>
""" + chain("s", "tell", "e"), "shipping")


def test_a_mail_task_writes_its_letter_to_the_outbox_and_the_mailer_sends_it(mailing: Engine, smtp) -> None:  # noqa: F811
    inbox, _ = smtp
    mailing.definitions.deploy([("shipping.bpmn", MAIL)])
    instance = mailing.instances.start("shipping", variables={
        "sender": "shop@example.test", "auditor": "audit@example.test", "orderNo": "O-7", "name": "Kermit",
        "gender": "male"})
    assert state(mailing, instance.id) == "COMPLETED"
    [letter] = mailing.handlers.outbox(instance.id)
    assert (letter["activityId"], letter["topic"], letter["recipient"], letter["subject"]) == (
        "tell", "mail", "ann@example.test, bob@example.test", "Order O-7 shipped")
    assert letter["body"] == "Hello Kermit, your order is on its way."
    assert mailing.mailer.deliver() == 1
    [(recipients, _)] = inbox.received
    assert sorted(recipients) == ["ann@example.test", "audit@example.test", "bob@example.test", "carl@example.test"]
    [mail] = inbox.messages()
    assert (mail["From"], mail["To"], mail["Cc"], mail["Bcc"]) == (
        "shop@example.test", "ann@example.test, bob@example.test", "carl@example.test", None)
    text, html = mail.get_payload()
    assert text.get_payload().strip() == "Hello Kermit, your order is on its way."
    assert html.get_content_type() == "text/html" and "Hello Mr. <b>Kermit</b>" in html.get_payload()


def test_a_mail_task_without_an_smtp_server_still_completes_and_its_letter_waits(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:serviceTask id="tell" camunda:type="mail">
          <bpmn:extensionElements>
            <camunda:field name="to"><camunda:expression>${email}</camunda:expression></camunda:field>
            <camunda:field name="subject"><camunda:string>Welcome</camunda:string></camunda:field>
            <camunda:field name="html"><camunda:string>&lt;b&gt;Hi&lt;/b&gt;</camunda:string></camunda:field>
          </bpmn:extensionElements>
        </bpmn:serviceTask>
        <bpmn:userTask id="next"/><bpmn:endEvent id="e"/>""" + chain("s", "tell", "next", "e")))
    instance = engine.instances.start("p", variables={"email": "ann@example.test"})
    [task] = engine.tasks.list(instance_id=instance.id)
    assert task.task_definition_key == "next"
    [letter] = engine.handlers.outbox(instance.id)
    assert (letter["recipient"], letter["subject"], letter["body"], letter["sentAt"]) == (
        "ann@example.test", "Welcome", "<b>Hi</b>", None)
    engine.tasks.complete(task.id, {})
    assert len(engine.handlers.outbox(instance.id)) == 1  # written once, with the step that ran the mail task


def test_a_mail_task_to_something_that_is_no_address_fails_and_writes_nothing(engine: Engine, deploy) -> None:
    # FoxJobRetryCmdTest.testFailedSendTask: Camunda's mail task fails on it too (its job is retried).
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:sendTask id="tell" camunda:type="mail">
          <bpmn:extensionElements>
            <camunda:field name="to"><camunda:string>Hello Kermit!</camunda:string></camunda:field>
            <camunda:field name="text"><camunda:string>Hi</camunda:string></camunda:field>
          </bpmn:extensionElements>
        </bpmn:sendTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "tell", "e")))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("p")
    assert "mail task field 'to': 'Hello Kermit!' is not an e-mail address" in err.value.message
    assert engine.instances.list(definition_key="p") == [] or all(
        engine.handlers.outbox(i.id) == [] for i in engine.instances.list(definition_key="p"))


@pytest.mark.parametrize(("fields", "problem"), [
    ('<camunda:field name="text" stringValue="Hi"/>', "No recipient is defined on the mail activity"),
    ('<camunda:field name="to" stringValue="a@b.test"/>', "Text or html field should be provided"),
    ('<camunda:field name="to" stringValue="a@b.test"/><camunda:field name="body" stringValue="x"/>',
     "mail task field 'body' is unknown"),
])
def test_a_mail_task_camunda_would_refuse_is_refused_at_deploy(engine: Engine, deploy, fields: str,
                                                               problem: str) -> None:
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn(f"""
            <bpmn:startEvent id="s"/>
            <bpmn:serviceTask id="tell" camunda:type="mail"><bpmn:extensionElements>{fields}</bpmn:extensionElements>
            </bpmn:serviceTask>
            <bpmn:endEvent id="e"/>""" + chain("s", "tell", "e")))
    assert err.value.element_id == "tell" and problem in err.value.reason


def test_a_shell_task_is_refused_naming_the_element(engine: Engine, deploy) -> None:
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn("""
            <bpmn:startEvent id="s"/>
            <bpmn:serviceTask id="echo" camunda:type="shell"/>
            <bpmn:endEvent id="e"/>""" + chain("s", "echo", "e")))
    assert err.value.element_id == "echo" and "external task worker" in err.value.reason


# -- call activity mappings -------------------------------------------------------------------------------------
CALLED = bpmn("""
<bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>""" + chain("s", "work", "e"), "called")


def test_local_mappings_pass_only_the_call_activitys_own_variables(engine: Engine, deploy) -> None:
    # CallActivity.testSubProcessLocalInputAllVariables / testSubProcessLocalOutputAllVariables, in one diagram.
    deploy(CALLED, "called.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="called">
          <bpmn:extensionElements>
            <camunda:inputOutput>
              <camunda:inputParameter name="inputParameter">${"val2"}</camunda:inputParameter>
              <camunda:outputParameter name="outputParameter">${calledVar + 1}</camunda:outputParameter>
            </camunda:inputOutput>
            <camunda:in variables="all" local="true"/>
            <camunda:in sourceExpression="${inputParameter}" target="mapped" local="true"/>
            <camunda:out variables="all" local="true"/>
          </bpmn:extensionElements>
        </bpmn:callActivity>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "call", "after", "e"), "caller"))
    i = engine.instances.start("caller", variables={"callingVar": "val1"})
    [work] = engine.tasks.list(instance_id=i.id)
    assert engine.tasks.variables(work.id) == {"inputParameter": "val2", "mapped": "val2"}  # not callingVar
    engine.tasks.complete(work.id, {"calledVar": 42})
    # the called process's variables were the call activity's own: only its output parameter comes out
    assert engine.instances.variables(i.id) == {"callingVar": "val1", "outputParameter": 43}


def test_a_local_input_expression_cannot_read_the_callers_other_variables(engine: Engine, deploy) -> None:
    # CallActivity.testSubProcessLocalInputSingleVariableExpression: Camunda cannot resolve 'globalVariable' either.
    deploy(CALLED, "called.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="called">
          <bpmn:extensionElements>
            <camunda:in sourceExpression="${globalVariable + 1}" target="mapped" local="true"/>
          </bpmn:extensionElements>
        </bpmn:callActivity>
        <bpmn:endEvent id="e"/>""" + chain("s", "call", "e"), "caller"))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("caller", variables={"globalVariable": 1})
    assert "globalVariable" in err.value.message


@pytest.mark.parametrize(("mapping", "problem"), [
    ('<camunda:in/>', "Missing parameter 'source' or 'sourceExpression' when passing variables"),
    ('<camunda:in source=""/>', "Empty attribute 'source' when passing variables"),
    ('<camunda:out source="a"/>', "Missing attribute 'target' when attribute 'source' or 'sourceExpression' is set"),
    ('<camunda:out source="a" target=""/>', "Empty attribute 'target'"),
])
def test_a_mapping_camunda_refuses_is_refused_in_its_words(engine: Engine, deploy, mapping: str,
                                                           problem: str) -> None:
    # BpmnParseTest.testNoCamundaInSourceThrowsError and its siblings
    deploy(CALLED, "called.bpmn")
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn(f"""
            <bpmn:startEvent id="s"/>
            <bpmn:callActivity id="call" calledElement="called">
              <bpmn:extensionElements>{mapping}</bpmn:extensionElements></bpmn:callActivity>
            <bpmn:endEvent id="e"/>""" + chain("s", "call", "e"), "caller"))
    assert err.value.element_id == "call" and problem in err.value.reason


# -- what Camunda accepts -----------------------------------------------------------------------------------------
def test_an_event_subprocess_without_an_id_runs(engine: Engine, deploy) -> None:
    # BpmnParseTest.testParseEscalationStartEvent: Camunda deploys an event subprocess that has no id.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="sub">
          <bpmn:startEvent id="in"/>
          <bpmn:intermediateThrowEvent id="raise"><bpmn:escalationEventDefinition escalationRef="esc"/>
          </bpmn:intermediateThrowEvent>
          <bpmn:userTask id="inside"/><bpmn:endEvent id="out"/>
          """ + chain("in", "raise", "inside", "out") + """
          <bpmn:subProcess triggeredByEvent="true">
            <bpmn:startEvent id="caught" isInterrupting="false"><bpmn:escalationEventDefinition escalationRef="esc"/>
            </bpmn:startEvent>
            <bpmn:userTask id="handle"/><bpmn:endEvent id="handled"/>""" + chain("caught", "handle", "handled") + """
          </bpmn:subProcess>
        </bpmn:subProcess>
        <bpmn:endEvent id="e"/>""" + chain("s", "sub", "e"),
        extra='<bpmn:escalation id="esc" escalationCode="ESC"/>\n'))
    i = engine.instances.start("p")
    assert sorted(t.task_definition_key for t in engine.tasks.list(instance_id=i.id)) == ["handle", "inside"]


def test_a_timer_start_event_with_a_constant_expression_is_scheduled_at_deploy(engine: Engine, deploy,
                                                                                clock) -> None:
    # StartTimerEventTest.testExpressionStartTimerEvent: ${'2036-11-14T11:12:22'} needs no variable.
    deploy(bpmn("""
        <bpmn:startEvent id="s"><bpmn:timerEventDefinition>
          <bpmn:timeDate>${'2036-11-14T11:12:22Z'}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:startEvent>
        <bpmn:userTask id="t"/><bpmn:endEvent id="e"/>""" + chain("s", "t", "e")))
    [job] = engine.jobs.list()
    assert job["dueDate"].startswith("2036-11-14T11:12:22")


def test_a_timer_start_event_with_an_expression_over_variables_is_refused(engine: Engine, deploy) -> None:
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn("""
            <bpmn:startEvent id="s"><bpmn:timerEventDefinition>
              <bpmn:timeDate>${when}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:startEvent>
            <bpmn:endEvent id="e"/>""" + chain("s", "e")))
    assert err.value.element_id == "s" and "literal date, duration or cycle" in err.value.reason


def test_an_event_definition_on_a_plain_subprocess_start_is_refused_as_camunda_does(engine: Engine,
                                                                                   deploy) -> None:
    # BpmnParseTest.testInvalidSubProcessWithTimerStartEvent
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn("""
            <bpmn:startEvent id="s"/>
            <bpmn:subProcess id="sub">
              <bpmn:startEvent id="in"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>
              </bpmn:timerEventDefinition></bpmn:startEvent>
              <bpmn:endEvent id="out"/>""" + chain("in", "out") + """
            </bpmn:subProcess>
            <bpmn:endEvent id="e"/>""" + chain("s", "sub", "e")))
    assert err.value.element_id == "in"
    assert "timerEventDefinition is not allowed on a start event within a subprocess" in err.value.reason


# -- calledElement="${...}" -------------------------------------------------------------------------------------
def _dynamic_caller() -> bytes:
    return bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="${which}">
          <bpmn:extensionElements><camunda:in variables="all"/><camunda:out variables="all"/></bpmn:extensionElements>
        </bpmn:callActivity>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "call", "after", "e"), "caller")


def _called(key: str) -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work_{key}"/>
        <bpmn:scriptTask id="mark"><bpmn:script>visited = "{key}"</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", f"work_{key}", "mark", "e"), key)


def test_a_called_element_expression_calls_the_process_it_names_when_the_activity_starts(engine: Engine, deploy,
                                                                                        clock) -> None:
    # CallActivity.testCallSimpleSubProcessWithExpressions: the process to call comes from a variable.
    deploy(_dynamic_caller(), "caller.bpmn", ("a.bpmn", _called("a")), ("b.bpmn", _called("b")))
    first = engine.instances.start("caller", variables={"which": "b"})
    second = engine.instances.start("caller", variables={"which": "a"})
    [work_b] = engine.tasks.list(instance_id=first.id)
    [work_a] = engine.tasks.list(instance_id=second.id)
    assert (work_b.task_definition_key, work_a.task_definition_key) == ("work_b", "work_a")
    # another engine on the same database loads the waiting instance from its saved state
    other = Engine(engine.settings, clock=clock)
    try:
        other.tasks.complete(work_b.id, {})
    finally:
        other.close()
    [after] = engine.tasks.list(instance_id=first.id)
    assert after.task_definition_key == "after"
    assert engine.instances.variables(first.id)["visited"] == "b"


def test_a_called_element_expression_naming_no_process_deployed_with_it_fails_naming_the_choice(
        engine: Engine, deploy) -> None:
    deploy(_dynamic_caller(), "caller.bpmn", ("a.bpmn", _called("a")))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("caller", variables={"which": "nothing"})
    assert "calledElement gave 'nothing', which is no process deployed with this one" in err.value.message
    assert "a, caller" in err.value.message


def test_expressions_in_a_task_name_and_documentation_are_evaluated(engine: Engine, deploy) -> None:
    """As Camunda's name and description expressions; Stageflow's own `{variable}` placeholders still work."""
    deploy(bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:userTask id="check" name="Order ${orderId} (${vip ? 'VIP' : 'standard'})">
          <bpmn:documentation>Check order ${orderId} for {customer}; total ${amount * 2}</bpmn:documentation>
        </bpmn:userTask>
        <bpmn:userTask id="plain" name="Prüfe {customer}"/><bpmn:endEvent id="e"/>""" + chain("s", "check", "plain", "e"),
        process_id="named"))
    instance = engine.instances.start("named", variables={"orderId": 4711, "customer": "ACME", "vip": True,
                                                          "amount": 21})
    [task] = engine.tasks.list(instance_id=instance.id)
    assert task.name == "Order 4711 (VIP)"
    assert task.description == "Check order 4711 for ACME; total 42"
    engine.tasks.complete(task.id, {})
    [plain] = engine.tasks.list(instance_id=instance.id)
    assert plain.name == "Prüfe {customer}"  # a name without ${...} is shown as written


def test_a_task_name_expression_that_fails_names_the_element(engine: Engine, deploy) -> None:
    deploy(bpmn("""<bpmn:startEvent id="s"/><bpmn:userTask id="check" name="Order ${order.id}"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "check", "e"), process_id="badname"))
    with pytest.raises(ScriptError) as failed:
        engine.instances.start("badname", variables={})
    assert failed.value.element_id == "check" and "name" in str(failed.value)


def test_a_form_key_is_kept_on_the_task_as_camunda_has_it(engine: Engine, deploy) -> None:
    deploy(bpmn("""<bpmn:startEvent id="s" camunda:formKey="embedded:app:forms/start.html"/>
        <bpmn:userTask id="prepare" camunda:formKey="embedded:app:forms/prepare.html"/>
        <bpmn:userTask id="review" camunda:formKey="app:forms/${kind}.html"/>
        <bpmn:userTask id="plain"/><bpmn:endEvent id="e"/>""" + chain("s", "prepare", "review", "plain", "e"),
        process_id="keyed"))
    instance = engine.instances.start("keyed", variables={"kind": "claim"})
    assert engine.definitions.start_form_key(instance.definition_id) == "embedded:app:forms/start.html"
    keys = []
    for _ in range(3):
        [task] = engine.tasks.list(instance_id=instance.id)
        keys.append((task.task_definition_key, task.form_key, task.to_json()["formKey"]))
        engine.tasks.complete(task.id, {})
    assert keys == [("prepare", "embedded:app:forms/prepare.html", "embedded:app:forms/prepare.html"),
                    ("review", "app:forms/claim.html", "app:forms/claim.html"), ("plain", None, None)]


# -- a BPMN error or escalation out of a called process -----------------------------------------------------------
def _throwing_callee(kind: str) -> bytes:
    """A called process whose task, completed with `fail=true`, ends in an error (or throws an escalation)."""
    thrown = ('<bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>' if kind == "error"
              else '<bpmn:endEvent id="boom"><bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:endEvent>')
    return bpmn(f"""
        <bpmn:startEvent id="cs"/><bpmn:userTask id="work"/>
        <bpmn:exclusiveGateway id="gw" default="f_ok"/><bpmn:endEvent id="ce"/>{thrown}
        {chain("cs", "work", "gw")}
        <bpmn:sequenceFlow id="f_ok" sourceRef="gw" targetRef="ce"/>
        {flow("gw", "boom", "${fail}")}""", "callee",
                extra='<bpmn:error id="err" errorCode="REJ"/><bpmn:escalation id="esc" escalationCode="ESC"/>\n')


@pytest.mark.parametrize("kind", ["error", "escalation"])
@pytest.mark.parametrize(("mappings", "passed"), [
    ('<camunda:out source="calledVar" target="fromCallee"/>', {"fromCallee": "set in callee"}),
    ('<camunda:out variables="all"/>', {"calledVar": "set in callee", "fail": True, "given": 1}),
    ("", {}),
])
def test_a_bpmn_event_out_of_a_called_process_brings_what_its_out_mappings_give(
        engine: Engine, deploy, kind: str, mappings: str, passed: dict) -> None:
    # CallActivityTest.testTwoSubProcessesLimitedDataOutputOnError, testSubProcessDataOutputOnError and
    # EscalationEventTest.testPropagateOutputVariablesWhileCatchEscalationOnCallActivity: the called instance's
    # variables reach the caller through its camunda:out mappings only, as when it ends; before, all of them did.
    deploy(_throwing_callee(kind), "callee.bpmn")
    definition = ('<bpmn:errorEventDefinition errorRef="err"/>' if kind == "error"
                  else '<bpmn:escalationEventDefinition escalationRef="esc"/>')
    deploy(bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="callee">
          <bpmn:extensionElements><camunda:in source="given" target="given"/>{mappings}</bpmn:extensionElements>
        </bpmn:callActivity>
        <bpmn:boundaryEvent id="caught" attachedToRef="call">{definition}</bpmn:boundaryEvent>
        <bpmn:userTask id="handle"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>
        {chain("s", "call", "e")}{chain("caught", "handle", "e2")}""", "caller",
                extra='<bpmn:error id="err" errorCode="REJ"/><bpmn:escalation id="esc" escalationCode="ESC"/>\n'))
    i = engine.instances.start("caller", variables={"given": 1, "own": "caller's"})
    [work] = engine.tasks.list(instance_id=i.id)
    engine.tasks.complete(work.id, {"calledVar": "set in callee", "fail": True})
    [handle] = engine.tasks.list(instance_id=i.id)
    assert handle.task_definition_key == "handle"
    assert engine.instances.variables(i.id) == {"given": 1, "own": "caller's", **passed}


def test_a_task_attribute_naming_a_missing_variable_fails_in_camundas_words(engine: Engine, deploy) -> None:
    # it said "assignee: NameError: name 'initiatorUser' is not defined", and named the instance a failed start
    # never made
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="first"/>
        <bpmn:userTask id="review" camunda:assignee="${initiatorUser}"/><bpmn:endEvent id="e"/>"""
                + chain("s", "first", "review", "e")))
    instance = engine.instances.start("p")
    [first] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(ScriptError) as err:
        engine.tasks.complete(first.id, {})
    assert err.value.element_id == "review" and err.value.instance_id == instance.id
    assert err.value.message.endswith("assignee: Unknown property used in expression: ${initiatorUser}. "
                                      "Cause: Cannot resolve identifier 'initiatorUser'")
    deploy(bpmn("""<bpmn:startEvent id="s"/><bpmn:userTask id="review" camunda:candidateGroups="${team}"/>"""
                + chain("s", "review"), "q"))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("q")
    assert err.value.instance_id is None and "Cannot resolve identifier 'team'" in err.value.message
    assert [i.id for i in engine.instances.list()] == [instance.id]


def test_history_lists_the_steps_of_one_change_in_the_order_they_happened(engine: Engine, deploy) -> None:
    # one change's steps were listed in the task tree's order: the called process's after the caller's end event,
    # a multi-instance body's completion before its instances'
    deploy(bpmn("""<bpmn:startEvent id="cs"/><bpmn:scriptTask id="inside" scriptFormat="python">
        <bpmn:script>y = 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="ce"/>""" + chain("cs", "inside", "ce"),
                "callee"), "callee.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="go"/>
        <bpmn:callActivity id="call" calledElement="callee"/>
        <bpmn:scriptTask id="each" scriptFormat="python"><bpmn:script>z = item</bpmn:script>
          <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${items}"
              camunda:elementVariable="item"/></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "go", "call", "each", "e"), "caller"))
    instance = engine.instances.start("caller", variables={"items": [1, 2]})
    [go] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(go.id, {})
    done = [(h.element_id, h.element_type) for h in engine.instances.history(instance.id) if h.event == "completed"]
    after_go = [element for element, _ in done[done.index(("go", "userTask")) + 1:]]
    assert after_go == ["cs", "inside", "ce", "call", "each", "each", "each", "e", "caller"], done
    assert [kind for element, kind in done if element == "each"][-1] == "multiInstanceBody"


def test_a_caller_and_the_process_it_calls_keep_their_own_variables_when_set_from_outside(engine: Engine,
                                                                                         deploy) -> None:
    # setting a variable on the caller reached the called process's task too, and one set through the called
    # process's task reached the caller: in Camunda they are two instances, each with its own variables
    deploy(bpmn('<bpmn:startEvent id="cs"/><bpmn:userTask id="inner"/><bpmn:endEvent id="ce"/>'
                + chain("cs", "inner", "ce"), "callee"), "callee.bpmn")
    deploy(bpmn("""<bpmn:startEvent id="s"/><bpmn:callActivity id="call" calledElement="callee">
        <bpmn:extensionElements><camunda:in source="given" target="given"/></bpmn:extensionElements>
        </bpmn:callActivity><bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "call", "after", "e"),
                "caller"))
    instance = engine.instances.start("caller", variables={"given": 1})
    [inner] = engine.tasks.list(instance_id=instance.id)
    engine.instances.set_variables(instance.id, {"added": "to the caller"})
    engine.instances.set_variables(instance.id, {"note": "in the callee"}, task_id=inner.id)
    assert engine.tasks.variables(inner.id) == {"given": 1, "note": "in the callee"}
    engine.tasks.complete(inner.id, {})
    [after] = engine.tasks.list(instance_id=instance.id)
    assert engine.tasks.variables(after.id) == {"given": 1, "added": "to the caller"}
