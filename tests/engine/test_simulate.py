"""`simulate`: a process on a virtual clock, answered from a plan, as a timeline (no database fixture needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.errors import BadRequest, DefinitionError
from engine.simulate import Timeline, elapsed, load_answers, simulate
from tests.helpers import bpmn, chain, flow

DEAL = bpmn("""
    <bpmn:startEvent id="lead_in" name="Lead in"/>
    <bpmn:userTask id="qualify_lead" name="Qualify lead" camunda:assignee="mary" camunda:dueDate="P1D"/>
    <bpmn:boundaryEvent id="remind" name="One day passed" attachedToRef="qualify_lead" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="too_late" name="Three days passed" attachedToRef="qualify_lead">
      <bpmn:timerEventDefinition><bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="send_reminder" name="Send reminder"><bpmn:script>reminded = True</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="head_takes_over" name="Head of sales takes the deal" camunda:candidateGroups="sales-heads"/>
    <bpmn:exclusiveGateway id="qualified" name="Qualified?" default="f_lost"/>
    <bpmn:endEvent id="won"/><bpmn:endEvent id="lost"/><bpmn:endEvent id="reminded_end"/><bpmn:endEvent id="taken_over"/>
    """ + chain("lead_in", "qualify_lead", "qualified") + flow("qualified", "won", "${qualified}")
    + flow("qualified", "lost", flow_id="f_lost") + chain("remind", "send_reminder", "reminded_end")
    + chain("too_late", "head_takes_over", "taken_over"), process_id="deal", name="Deal")

PAYMENT = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:userTask id="send_invoice" name="Send invoice"/>
    <bpmn:intermediateCatchEvent id="paid" name="Payment received"><bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="e"/>""" + chain("s", "send_invoice", "paid", "e"),
    process_id="invoice", extra='<bpmn:message id="m_paid" name="payment-received"/>')


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def events(timeline: Timeline) -> list[tuple[str, str, str]]:
    return [(elapsed(e.at - timeline.start), e.element_id, e.event) for e in timeline.entries]


@pytest.fixture
def deal(tmp_path: Path) -> Path:
    return write(tmp_path, "deal.bpmn", DEAL)


def test_a_late_answer_shows_the_reminder_first(deal: Path) -> None:
    tl = simulate([deal], answers={"tasks": {"qualify_lead": {"qualified": True, "after": "P2D"}}})
    assert tl.status == "completed" and tl.outcome == "completed"
    seen = events(tl)
    assert seen == [
        ("+0:00", "deal", "process started"),
        ("+0:00", "lead_in", "completed"),
        ("+0:00", "qualify_lead", "task created"),
        ("+1d 00:00", "remind", "timer fired"),
        ("+1d 00:00", "send_reminder", "completed"),
        ("+1d 00:00", "reminded_end", "completed"),
        ("+2d 00:00", "qualify_lead", "task completed"),
        ("+2d 00:00", "qualified", "completed"),
        ("+2d 00:00", "won", "completed"),
        ("+2d 00:00", "deal", "process ended"),
    ]
    created = tl.entries[2]
    assert created.element_name == "Qualify lead"
    assert created.details == "(assignee mary; due 2026-01-06 09:00 (+1d 00:00))"
    done = next(e for e in tl.entries if e.event == "task completed")
    assert done.details == 'by simulation with {"qualified": true}'
    assert tl.end == datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
    assert tl.variables == {"qualified": True, "reminded": True}


def test_an_answer_within_the_day_sends_no_reminder(deal: Path) -> None:
    tl = simulate([deal], answers={"tasks": {"qualify_lead": {"qualified": False, "after": "PT2H"}}})
    assert tl.status == "completed"
    assert not [e for e in tl.entries if e.event == "timer fired"]
    assert ("+2:00", "qualify_lead", "task completed") in events(tl)
    assert ("+2:00", "lost", "completed") in events(tl)
    assert tl.steps == 1


def test_an_unanswered_task_is_taken_by_the_deadline_timer(deal: Path) -> None:
    tl = simulate([deal], answers={"tasks": {"unrelated": {}}})
    seen = events(tl)
    assert seen.index(("+1d 00:00", "remind", "timer fired")) < seen.index(("+3d 00:00", "too_late", "timer fired"))
    assert ("+3d 00:00", "qualify_lead", "task cancelled") in seen
    assert seen[-1] == ("+3d 00:00", "head_takes_over", "task created")
    assert tl.entries[-1].details == "(groups sales-heads; no answer)"
    assert tl.status == "stuck"
    assert tl.outcome == "stuck at task 'head_takes_over' (no answer)"
    # the head of sales answers: the deal ends at the deadline
    tl = simulate([deal], answers={"tasks": {"head_takes_over": {}}})
    assert tl.status == "completed" and tl.end == datetime(2026, 1, 8, 9, 0, tzinfo=UTC)


def test_a_message_wait_without_and_with_a_message(tmp_path: Path) -> None:
    path = write(tmp_path, "invoice.bpmn", PAYMENT)
    tl = simulate([path], answers={"tasks": {"send_invoice": {}}})
    assert tl.status == "waiting"
    assert tl.outcome == "waits for message 'payment-received'"
    assert tl.end == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    tl = simulate([path], answers={"tasks": {"send_invoice": {"after": "PT1H"}},
                                   "messages": [{"name": "payment-received", "after": "P1D",
                                                 "variables": {"paidAmount": 1200}}]})
    assert tl.status == "completed"
    received = next(e for e in tl.entries if e.element_id == "paid")
    assert (elapsed(received.at - tl.start), received.event) == ("+1d 00:00", "message received")
    assert received.details == "'payment-received' with {\"paidAmount\": 1200}"
    assert tl.variables["paidAmount"] == 1200

    # no "after": sent as soon as the instance waits for it
    tl = simulate([path], answers={"tasks": {"send_invoice": {"after": "PT3H"}},
                                   "messages": [{"name": "payment-received"}]})
    assert ("+3:00", "paid", "message received") in events(tl) and tl.status == "completed"

    # sent before anything waits for it: lost, as in the engine
    tl = simulate([path], answers={"tasks": {"send_invoice": {"after": "P1D"}},
                                   "messages": [{"name": "payment-received", "after": "PT1H"}]})
    assert ("+1:00", "", "message sent") in events(tl)
    assert tl.status == "waiting"


def test_a_list_answers_each_visit_and_its_last_entry_repeats(tmp_path: Path) -> None:
    path = write(tmp_path, "loop.bpmn", bpmn("""
        <bpmn:startEvent id="s"/><bpmn:scriptTask id="init"><bpmn:script>round = 0</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="review"/><bpmn:scriptTask id="count"><bpmn:script>round = round + 1</bpmn:script></bpmn:scriptTask>
        <bpmn:exclusiveGateway id="ok" default="f_again"/><bpmn:endEvent id="e"/>
        """ + chain("s", "init", "review", "count", "ok") + flow("ok", "e", "${approved or round >= 4}")
        + flow("ok", "review", flow_id="f_again"), process_id="loop"))
    tl = simulate([path], answers={"tasks": {"review": [{"approved": False, "after": "PT1H"}, {"approved": False}]}})
    done = [elapsed(e.at - tl.start) for e in tl.entries if e.event == "task completed"]
    assert done == ["+1:00", "+1:00", "+1:00", "+1:00"]
    assert tl.status == "completed" and tl.variables["round"] == 4
    tl = simulate([path], answers={"tasks": {"review": {"approved": False}}}, max_steps=2)
    assert tl.status == "max_steps" and "max steps" in tl.outcome and tl.steps == 2


def test_text_and_json_renderings(deal: Path) -> None:
    tl = simulate([deal], answers={"tasks": {"qualify_lead": {"qualified": True, "after": "P2D"}}})
    text = tl.to_text()
    lines = text.splitlines()
    assert lines[0] == "simulation of process 'deal' from 2026-01-05 09:00 (Monday)"
    assert lines[2].split() == ["time", "elapsed", "element", "name", "event"]
    assert any(line.startswith("2026-01-05 09:00  +0:00 ") and "qualify_lead" in line and "Qualify lead" in line
               and line.rstrip().endswith("task created (assignee mary; due 2026-01-06 09:00 (+1d 00:00))")
               for line in lines)
    assert any(line.startswith("2026-01-06 09:00  +1d 00:00") and "remind" in line and "timer fired" in line
               for line in lines)
    assert lines[-1] == "outcome: completed (2026-01-07 09:00, +2d 00:00, 2 steps)"
    assert [line for line in lines if line.endswith("process ended")][0].split()[5] == "Deal"
    body = json.loads(json.dumps(tl.to_json()))
    assert body["status"] == "completed" and body["elapsed"] == "+2d 00:00"
    assert body["entries"][3] == {"time": "2026-01-06T09:00:00+00:00", "elapsed": "+1d 00:00",
                                  "elapsedSeconds": 86400, "elementId": "remind", "elementName": "One day passed",
                                  "event": "timer fired", "details": None}


def test_start_variables_start_time_and_process_choice(tmp_path: Path, deal: Path) -> None:
    other = write(tmp_path, "invoice.bpmn", PAYMENT)
    with pytest.raises(BadRequest, match=r"several executable processes \(deal, invoice\)"):
        simulate([deal, other])
    answers_file = tmp_path / "answers.json"
    answers_file.write_text(json.dumps({"variables": {"amount": 5}, "tasks": {"qualify_lead": {}}}))
    tl = simulate([deal, other], answers=load_answers(answers_file), process_key="deal", variables={"qualified": True},
                  start=datetime(2026, 3, 2, 8, 30, tzinfo=UTC))
    assert tl.process_key == "deal" and tl.status == "completed"
    assert tl.variables == {"amount": 5, "qualified": True}
    assert tl.entries[0].at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def test_a_failing_script_stops_the_simulation_and_names_the_element(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.bpmn", bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="enter"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:scriptTask id="divide"><bpmn:script>share = total / parts</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "enter", "wait", "divide", "e")))
    tl = simulate([path], answers={"tasks": {"enter": {"total": 10, "parts": 0}}})
    assert tl.status == "error"
    assert "'divide'" in tl.outcome and "division by zero" in tl.outcome
    tl = simulate([path], answers={"tasks": {"enter": {"total": 10, "parts": 2}}})
    assert ("+1:00", "wait", "timer fired") in events(tl) and tl.variables["share"] == 5


def test_a_script_right_after_a_task_and_an_answer_that_misses_a_form_field(tmp_path: Path) -> None:
    path = write(tmp_path, "form.bpmn", bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="enter"><bpmn:extensionElements><camunda:formData>
          <camunda:formField id="total" type="long"><camunda:validation><camunda:constraint name="required"/></camunda:validation></camunda:formField>
        </camunda:formData></bpmn:extensionElements></bpmn:userTask>
        <bpmn:scriptTask id="check"><bpmn:script>assert total &lt; 100, "too much"</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "enter", "check", "e")))
    tl = simulate([path], answers={"tasks": {"enter": {"after": "PT5M"}}})
    assert tl.status == "error" and "'enter'" in tl.outcome and "total" in tl.outcome
    tl = simulate([path], answers={"tasks": {"enter": {"total": 500}}})
    assert tl.status == "error" and "'check'" in tl.outcome
    assert [e.event for e in tl.entries if e.element_id == "enter"] == ["task created"]  # rolled back


def test_bad_files_and_bad_answers_are_refused(tmp_path: Path, deal: Path) -> None:
    with pytest.raises(DefinitionError):
        simulate([write(tmp_path, "bad.bpmn", b"<not-bpmn/>")])
    with pytest.raises(BadRequest, match="unknown key 'task'"):
        simulate([deal], answers={"task": {}})
    with pytest.raises(BadRequest, match="tasks.qualify_lead.after"):
        simulate([deal], answers={"tasks": {"qualify_lead": {"after": "two days"}}})


def test_a_cycle_reminder_fires_every_period_until_max_steps(tmp_path: Path) -> None:
    path = write(tmp_path, "nag.bpmn", bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/>
        <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:endEvent id="e"/><bpmn:endEvent id="nagged"/>""" + chain("s", "work", "e") + chain("nag", "nagged")))
    tl = simulate([path], max_steps=3)
    assert [when for when, element, event in events(tl) if event == "timer fired" and element == "nag"] == [
        "+1:00", "+2:00", "+3:00"]
    assert tl.status == "max_steps"


def test_the_timer_behind_an_event_based_gateway_and_a_start_in_another_time_zone(tmp_path: Path) -> None:
    path = write(tmp_path, "offer.bpmn", bpmn("""
        <bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="wait"/>
        <bpmn:intermediateCatchEvent id="accepted"><bpmn:messageEventDefinition messageRef="m_acc"/></bpmn:intermediateCatchEvent>
        <bpmn:intermediateCatchEvent id="expired"><bpmn:timerEventDefinition><bpmn:timeDuration>P14D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>""" + chain("s", "wait") + flow("wait", "accepted")
        + flow("wait", "expired") + chain("accepted", "e1") + chain("expired", "e2"),
        extra='<bpmn:message id="m_acc" name="proposal-accepted"/>'))
    berlin = timezone(timedelta(hours=1))
    tl = simulate([path], start=datetime(2026, 1, 5, 9, 0, tzinfo=berlin))
    assert ("+14d 00:00", "expired", "timer fired") in events(tl)
    assert "2026-01-19 09:00  +14d 00:00" in tl.to_text()
    assert tl.to_json()["end"] == "2026-01-19T09:00:00+01:00"
    tl = simulate([path], answers={"messages": [{"name": "proposal-accepted", "after": "P2D"}]})
    assert ("+2d 00:00", "accepted", "message received") in events(tl)
