"""Compensation beyond one activity and its handler, as Camunda 7 runs it (CompensateEventTest): a completed
subprocess undone by the handlers inside it or by its compensation event subprocess, multi-instance and
looping activities undone once per completion, and what stays refused."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import DefinitionError
from tests.helpers import bpmn, chain, flow

COMPENSATE = "<bpmn:compensateEventDefinition/>"


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))


def complete(engine: Engine, instance_id: str, element_id: str, **variables) -> None:  # type: ignore[no-untyped-def]
    task = next(t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == element_id)
    engine.tasks.complete(task.id, variables)


def complete_all(engine: Engine, instance_id: str, element_id: str) -> int:
    tasks = [t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == element_id]
    for task in tasks:
        engine.tasks.complete(task.id, {})
    return len(tasks)


def state(engine: Engine, instance_id: str) -> str:
    return engine.instances.get(instance_id).state


def completed(engine: Engine, instance_id: str) -> list[str]:
    return [h.element_id for h in engine.instances.history(instance_id) if h.event == "completed"]


def undoable(task: str, handler: str, body: str = "") -> str:
    """A user task `task` whose compensation handler is the user task `handler`."""
    return (f'<bpmn:userTask id="{task}"{body}/><bpmn:boundaryEvent id="{task}_b" attachedToRef="{task}">'
            f'{COMPENSATE}</bpmn:boundaryEvent><bpmn:userTask id="{handler}" isForCompensation="true"/>'
            f'<bpmn:association id="{task}_a" sourceRef="{task}_b" targetRef="{handler}"/>')


def subprocess(sub_id: str, body: str, *, attrs: str = "") -> str:
    return f'<bpmn:subProcess id="{sub_id}"{attrs}>{body}</bpmn:subProcess>'


def test_a_completed_subprocess_is_undone_by_the_handlers_inside_it_nested_ones_included(engine: Engine,
                                                                                         deploy) -> None:
    # CompensateEventTest.testCompensateSubprocessInsideSubprocess
    flight = subprocess("flight_scope", '<bpmn:startEvent id="fs"/>' + undoable("book_flight", "cancel_flight")
                        + '<bpmn:endEvent id="fe"/>' + chain("fs", "book_flight", "fe"))
    hotel = subprocess("hotel_scope", '<bpmn:startEvent id="hs"/>' + undoable("book_hotel", "cancel_hotel") + flight
                       + '<bpmn:endEvent id="he"/>' + chain("hs", "book_hotel", "flight_scope", "he"))
    deploy(bpmn('<bpmn:startEvent id="s"/>' + hotel + '<bpmn:userTask id="decide"/>'
                f'<bpmn:intermediateThrowEvent id="undo">{COMPENSATE}</bpmn:intermediateThrowEvent>'
                '<bpmn:userTask id="apologise"/><bpmn:endEvent id="e"/>'
                + chain("s", "hotel_scope", "decide", "undo", "apologise", "e")))
    i = engine.instances.start("p")
    complete(engine, i.id, "book_hotel")
    complete(engine, i.id, "book_flight")
    complete(engine, i.id, "decide")
    assert open_tasks(engine, i.id) == ["cancel_flight", "cancel_hotel"]  # side by side, as in Camunda
    complete(engine, i.id, "cancel_hotel", hotel_refund=80)
    assert open_tasks(engine, i.id) == ["cancel_flight"]  # the throw waits for every handler
    complete(engine, i.id, "cancel_flight", flight_refund=120)
    assert open_tasks(engine, i.id) == ["apologise"]
    assert engine.instances.variables(i.id) == {"hotel_refund": 80, "flight_refund": 120}
    complete(engine, i.id, "apologise")
    assert state(engine, i.id) == "COMPLETED"
    history = completed(engine, i.id)
    assert history.count("cancel_hotel") == 1 and history.count("cancel_flight") == 1
    assert not [e for e in history if e.startswith("sf_")]  # the hidden elements leave no trace


def test_handlers_run_the_last_completed_activity_first(engine: Engine, deploy) -> None:
    """As Camunda (the compensation subscriptions in reverse order of creation): a trip that booked the hotel,
    then the car, then the flight cancels the flight, then the car, then the hotel; it went in diagram order."""
    def booking(task: str, undo: str) -> str:
        return (f'<bpmn:scriptTask id="{task}"><bpmn:script>booked = booked + ["{task}"]</bpmn:script>'
                f'</bpmn:scriptTask><bpmn:boundaryEvent id="{task}_b" attachedToRef="{task}">{COMPENSATE}'
                f'</bpmn:boundaryEvent><bpmn:scriptTask id="{undo}" isForCompensation="true"><bpmn:script>'
                f'undone = undone + ["{task}"]</bpmn:script></bpmn:scriptTask>'
                f'<bpmn:association id="{task}_a" sourceRef="{task}_b" targetRef="{undo}"/>')

    # the diagram lists them out of flow order, as a designer's later edits leave them
    deploy(bpmn('<bpmn:startEvent id="s"/>' + booking("flight", "cancel_flight") + booking("hotel", "cancel_hotel")
                + booking("car", "cancel_car") + '<bpmn:userTask id="confirm"/>'
                f'<bpmn:endEvent id="undo">{COMPENSATE}</bpmn:endEvent>'
                + chain("s", "hotel", "car", "flight", "confirm", "undo")))
    instance = engine.instances.start("p", variables={"booked": [], "undone": []})
    complete(engine, instance.id, "confirm")
    values = engine.instances.variables(instance.id)
    assert values["booked"] == ["hotel", "car", "flight"]
    assert values["undone"] == ["flight", "car", "hotel"]


def test_a_handler_subprocess_inside_a_completed_subprocess_runs_its_steps_under_their_own_ids(engine: Engine,
                                                                                            deploy) -> None:
    # CompensateEventTest.testSubprocessCompensationHandler, the handler one level down
    handler = subprocess("undo_booking", '<bpmn:startEvent id="us"/><bpmn:userTask id="call_hotel"/>'
                         '<bpmn:userTask id="refund"/><bpmn:endEvent id="ue"/>'
                         + chain("us", "call_hotel", "refund", "ue"), attrs=' isForCompensation="true"')
    trip = subprocess("trip", '<bpmn:startEvent id="ts"/><bpmn:userTask id="book"/><bpmn:boundaryEvent id="b" '
                      f'attachedToRef="book">{COMPENSATE}</bpmn:boundaryEvent>{handler}<bpmn:association id="a" '
                      'sourceRef="b" targetRef="undo_booking"/><bpmn:endEvent id="te"/>' + chain("ts", "book", "te"))
    deploy(bpmn('<bpmn:startEvent id="s"/>' + trip + f'<bpmn:endEvent id="e">{COMPENSATE}</bpmn:endEvent>'
                + chain("s", "trip", "e")))
    i = engine.instances.start("p")
    complete(engine, i.id, "book")
    assert open_tasks(engine, i.id) == ["call_hotel"]
    complete(engine, i.id, "call_hotel", called=True)
    assert open_tasks(engine, i.id) == ["refund"]
    complete(engine, i.id, "refund", refunded=True)
    assert state(engine, i.id) == "COMPLETED"
    assert engine.instances.variables(i.id) == {"called": True, "refunded": True}
    assert {"undo_booking", "call_hotel", "refund"} <= set(completed(engine, i.id))


def test_a_throw_naming_a_subprocess_undoes_it_but_not_one_still_running(engine: Engine, deploy) -> None:
    # CompensateEventTest.testCompensateActivityInSubprocess / testCompensateActivityInConcurrentSubprocess,
    # and the documented rule that an active subprocess is not compensated
    inner = ('<bpmn:startEvent id="ss"/>' + undoable("reserve", "release") + '<bpmn:userTask id="confirm"/>'
             '<bpmn:endEvent id="se"/>' + chain("ss", "reserve", "confirm", "se"))
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>' + subprocess("booking", inner)
                + '<bpmn:userTask id="check"/><bpmn:intermediateThrowEvent id="undo">'
                '<bpmn:compensateEventDefinition activityRef="booking"/></bpmn:intermediateThrowEvent>'
                '<bpmn:userTask id="after"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
                + chain("s", "fork") + flow("fork", "booking") + flow("fork", "check")
                + chain("booking", "e1") + chain("check", "undo", "after", "e2")))
    early = engine.instances.start("p")
    complete(engine, early.id, "reserve")
    complete(engine, early.id, "check")  # the subprocess is still running: nothing to undo yet
    assert open_tasks(engine, early.id) == ["after", "confirm"]

    late = engine.instances.start("p")
    complete(engine, late.id, "reserve")
    complete(engine, late.id, "confirm")
    complete(engine, late.id, "check")
    assert open_tasks(engine, late.id) == ["release"]
    complete(engine, late.id, "release")
    assert open_tasks(engine, late.id) == ["after"]


def event_subprocess(throws: str, flow_ids: tuple[str, ...]) -> str:
    """A compensation event subprocess running `throws` then an 'update_record' task."""
    return subprocess("on_compensation", f'<bpmn:startEvent id="cs">{COMPENSATE}</bpmn:startEvent>{throws}'
                      '<bpmn:userTask id="update_record"/><bpmn:endEvent id="ce"/>'
                      + chain("cs", *flow_ids, "update_record", "ce"), attrs=' triggeredByEvent="true"')


def booking_with_event_subprocess(throws: str, flow_ids: tuple[str, ...], loop: str = "") -> bytes:
    # CompensateEventTest.testCompensationEventSubProcess.bpmn20.xml, reduced
    inner = ('<bpmn:startEvent id="bs"/><bpmn:parallelGateway id="fork"/>' + undoable("book_flight", "cancel_flight")
             + undoable("book_hotel", "cancel_hotel") + '<bpmn:parallelGateway id="join"/><bpmn:endEvent id="be"/>'
             + event_subprocess(throws, flow_ids) + chain("bs", "fork") + flow("fork", "book_flight")
             + flow("fork", "book_hotel") + flow("book_flight", "join") + flow("book_hotel", "join")
             + chain("join", "be"))
    return bpmn('<bpmn:startEvent id="s"/>' + subprocess("booking", loop + inner)
                + '<bpmn:userTask id="validate"/><bpmn:exclusiveGateway id="valid" default="ok"/>'
                f'<bpmn:endEvent id="e"/><bpmn:endEvent id="undo">{COMPENSATE}</bpmn:endEvent>'
                + chain("s", "booking", "validate", "valid") + flow("valid", "e", flow_id="ok")
                + flow("valid", "undo", "${!valid}"))


ONE_BY_ONE = ('<bpmn:intermediateThrowEvent id="undo_flight"><bpmn:compensateEventDefinition activityRef="book_flight"/>'
              '</bpmn:intermediateThrowEvent><bpmn:intermediateThrowEvent id="undo_hotel">'
              '<bpmn:compensateEventDefinition activityRef="book_hotel"/></bpmn:intermediateThrowEvent>')


def test_a_compensation_event_subprocess_decides_how_its_subprocess_is_undone(engine: Engine, deploy) -> None:
    # CompensateEventTest.testCompensationEventSubProcessWithScope
    deploy(booking_with_event_subprocess(ONE_BY_ONE, ("undo_flight", "undo_hotel")))
    i = engine.instances.start("p")
    complete(engine, i.id, "book_flight")
    complete(engine, i.id, "book_hotel")
    complete(engine, i.id, "validate", valid=False)
    assert open_tasks(engine, i.id) == ["cancel_flight"]  # first the flight, as its first throw event says
    complete(engine, i.id, "cancel_flight")
    assert open_tasks(engine, i.id) == ["cancel_hotel"]
    complete(engine, i.id, "cancel_hotel")
    assert open_tasks(engine, i.id) == ["update_record"]
    complete(engine, i.id, "update_record")
    assert state(engine, i.id) == "COMPLETED"


def test_a_valid_booking_is_never_undone(engine: Engine, deploy) -> None:
    deploy(booking_with_event_subprocess(ONE_BY_ONE, ("undo_flight", "undo_hotel")))
    i = engine.instances.start("p")
    complete(engine, i.id, "book_flight")
    complete(engine, i.id, "book_hotel")
    complete(engine, i.id, "validate", valid=True)
    assert state(engine, i.id) == "COMPLETED"
    assert not {"cancel_flight", "cancel_hotel", "update_record"} & set(completed(engine, i.id))


def test_an_event_subprocess_that_throws_nothing_consumes_the_compensation(engine: Engine, deploy) -> None:
    # CompensateEventTest.testCompensationEventSubprocessConsumeCompensationEvent: the handlers inside do not run
    deploy(booking_with_event_subprocess("", ()))
    i = engine.instances.start("p")
    complete(engine, i.id, "book_flight")
    complete(engine, i.id, "book_hotel")
    complete(engine, i.id, "validate", valid=False)
    assert open_tasks(engine, i.id) == ["update_record"]
    complete(engine, i.id, "update_record")
    assert state(engine, i.id) == "COMPLETED"


def test_a_multi_instance_subprocess_is_undone_once_per_run(engine: Engine, deploy) -> None:
    # CompensateEventTest.testCompensateParallelMiSubprocessWithCompensationEventSubProcess (its second throw
    # event finds nothing left: CompensateEventTest's BpmnParseTest.testParseCompensationStartEvent model)
    loop = ('<bpmn:multiInstanceLoopCharacteristics camunda:collection="${flights}" camunda:elementVariable="flight"/>')
    deploy(booking_with_event_subprocess(
        f'<bpmn:intermediateThrowEvent id="undo_all">{COMPENSATE}</bpmn:intermediateThrowEvent>'
        f'<bpmn:intermediateThrowEvent id="undo_again">{COMPENSATE}</bpmn:intermediateThrowEvent>',
        ("undo_all", "undo_again"), loop))
    i = engine.instances.start("p", variables={"flights": ["STS-14", "STS-28"]})
    assert complete_all(engine, i.id, "book_flight") == 2
    assert complete_all(engine, i.id, "book_hotel") == 2
    complete(engine, i.id, "validate", valid=False)
    assert open_tasks(engine, i.id) == ["cancel_flight", "cancel_flight", "cancel_hotel", "cancel_hotel"]
    assert complete_all(engine, i.id, "cancel_flight") == 2
    assert complete_all(engine, i.id, "cancel_hotel") == 2
    assert open_tasks(engine, i.id) == ["update_record", "update_record"]  # nothing left for the second throw
    assert complete_all(engine, i.id, "update_record") == 2
    assert state(engine, i.id) == "COMPLETED"


def hotel_rooms(throw_ref: str = "book_room", wait: str = "") -> bytes:
    """Book three rooms (a multi-instance task), then ask; the answer may undo the rooms."""
    loop = ('<bpmn:multiInstanceLoopCharacteristics isSequential="false"><bpmn:loopCardinality>3'
            '</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>')
    return bpmn('<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
                + undoable("book_room", "cancel_room").replace('<bpmn:userTask id="book_room"/>',
                                                               f'<bpmn:userTask id="book_room">{loop}</bpmn:userTask>')
                + '<bpmn:userTask id="ask"/><bpmn:exclusiveGateway id="x" default="keep"/>'
                '<bpmn:intermediateThrowEvent id="undo"><bpmn:compensateEventDefinition '
                f'activityRef="{throw_ref}"{wait}/></bpmn:intermediateThrowEvent><bpmn:exclusiveGateway id="m"/>'
                '<bpmn:parallelGateway id="join"/><bpmn:endEvent id="e"/>'
                + chain("s", "fork") + flow("fork", "book_room") + flow("fork", "ask") + chain("ask", "x")
                + flow("x", "m", flow_id="keep") + flow("x", "undo", "${!accept}") + chain("undo", "m")
                + flow("m", "join") + flow("book_room", "join") + chain("join", "e"))


def test_a_multi_instance_task_is_undone_once_per_instance_after_all_finished(engine: Engine, deploy) -> None:
    # CompensateEventTest.testCompensateActivityRefMiActivity and testCompensateConcurrentMiActivity
    deploy(hotel_rooms())
    done = engine.instances.start("p")
    assert complete_all(engine, done.id, "book_room") == 3
    complete(engine, done.id, "ask", accept=False)
    assert open_tasks(engine, done.id) == ["cancel_room"] * 3
    assert complete_all(engine, done.id, "cancel_room") == 3
    assert state(engine, done.id) == "COMPLETED"

    running = engine.instances.start("p")
    for task in [t for t in engine.tasks.list(instance_id=running.id) if t.task_definition_key == "book_room"][:2]:
        engine.tasks.complete(task.id, {})
    complete(engine, running.id, "ask", accept=False)  # one room still open: the activity has not completed
    assert open_tasks(engine, running.id) == ["book_room"]
    complete(engine, running.id, "book_room")
    assert state(engine, running.id) == "COMPLETED"
    assert "cancel_room" not in completed(engine, running.id)


def test_two_throw_events_may_undo_the_same_multi_instance_task(engine: Engine, deploy) -> None:
    loop = ('<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>'
            '</bpmn:multiInstanceLoopCharacteristics>')
    deploy(bpmn('<bpmn:startEvent id="s"/>' + undoable("book_room", "cancel_room").replace(
        '<bpmn:userTask id="book_room"/>', f'<bpmn:userTask id="book_room">{loop}</bpmn:userTask>')
        + '<bpmn:exclusiveGateway id="x" default="late"/><bpmn:endEvent id="undo_one">'
        '<bpmn:compensateEventDefinition activityRef="book_room"/></bpmn:endEvent>'
        f'<bpmn:endEvent id="undo_all">{COMPENSATE}</bpmn:endEvent>'
        + chain("s", "book_room", "x") + flow("x", "undo_one", "${early}") + flow("x", "undo_all", flow_id="late")))
    for early in (True, False):
        i = engine.instances.start("p", variables={"early": early})
        assert complete_all(engine, i.id, "book_room") == 2
        assert open_tasks(engine, i.id) == ["cancel_room", "cancel_room"]
        assert complete_all(engine, i.id, "cancel_room") == 2
        assert state(engine, i.id) == "COMPLETED"


def test_wait_for_completion_false_waits_all_the_same_as_in_camunda(engine: Engine, deploy) -> None:
    # Camunda 7 reads waitForCompletion="false" as true (CompensationEventActivityBehavior)
    deploy(hotel_rooms(wait=' waitForCompletion="false"'))
    i = engine.instances.start("p")
    complete_all(engine, i.id, "book_room")
    complete(engine, i.id, "ask", accept=False)
    assert open_tasks(engine, i.id) == ["cancel_room"] * 3 and state(engine, i.id) == "ACTIVE"
    complete_all(engine, i.id, "cancel_room")
    assert state(engine, i.id) == "COMPLETED"


def test_an_activity_done_twice_in_a_loop_is_undone_twice(engine: Engine, deploy) -> None:
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="m"/>' + undoable("pay", "refund")
                + '<bpmn:exclusiveGateway id="again" default="done"/><bpmn:intermediateThrowEvent id="undo">'
                f'{COMPENSATE}</bpmn:intermediateThrowEvent><bpmn:endEvent id="e"/>'
                + chain("s", "m", "pay", "again") + flow("again", "m", "${more}")
                + flow("again", "undo", flow_id="done") + chain("undo", "e")))
    i = engine.instances.start("p")
    complete(engine, i.id, "pay", more=True)
    complete(engine, i.id, "pay", more=False)
    assert open_tasks(engine, i.id) == ["refund", "refund"]
    assert complete_all(engine, i.id, "refund") == 2
    assert state(engine, i.id) == "COMPLETED"


def test_a_handler_thrown_to_from_two_places_runs_from_each(engine: Engine, deploy) -> None:
    # inside the subprocess and, once it completed, from outside (the handler is copied, keeping its id)
    inner = ('<bpmn:startEvent id="ss"/>' + undoable("book", "cancel") + '<bpmn:exclusiveGateway id="x" default="k"/>'
             f'<bpmn:intermediateThrowEvent id="undo_inside">{COMPENSATE}</bpmn:intermediateThrowEvent>'
             '<bpmn:endEvent id="se"/>' + chain("ss", "book", "x") + flow("x", "se", flow_id="k")
             + flow("x", "undo_inside", "${inside}") + chain("undo_inside", "se"))
    deploy(bpmn('<bpmn:startEvent id="s"/>' + subprocess("trip", inner)
                + f'<bpmn:endEvent id="undo_outside">{COMPENSATE}</bpmn:endEvent>' + chain("s", "trip", "undo_outside")))
    inside = engine.instances.start("p", variables={"inside": True})
    complete(engine, inside.id, "book")
    assert open_tasks(engine, inside.id) == ["cancel"]
    complete(engine, inside.id, "cancel")
    assert state(engine, inside.id) == "COMPLETED"  # undone inside: nothing left for the end event
    assert completed(engine, inside.id).count("cancel") == 1

    outside = engine.instances.start("p", variables={"inside": False})
    complete(engine, outside.id, "book")
    assert open_tasks(engine, outside.id) == ["cancel"]
    complete(engine, outside.id, "cancel")
    assert state(engine, outside.id) == "COMPLETED"


def test_compensation_thrown_in_an_event_subprocess_undoes_the_scope_around_it(engine: Engine, deploy) -> None:
    # CompensateEventTest.testCompensateActivityRefTriggeredByEventSubprocess: an event subprocess has no
    # compensation scope of its own
    aborting = subprocess("on_abort", '<bpmn:startEvent id="ms"><bpmn:messageEventDefinition messageRef="m"/>'
                          f'</bpmn:startEvent><bpmn:intermediateThrowEvent id="undo">{COMPENSATE}'
                          '</bpmn:intermediateThrowEvent><bpmn:userTask id="explain"/><bpmn:endEvent id="me"/>'
                          + chain("ms", "undo", "explain", "me"), attrs=' triggeredByEvent="true"')
    deploy(bpmn('<bpmn:startEvent id="s"/>' + undoable("book", "cancel") + '<bpmn:userTask id="travel"/>'
                '<bpmn:endEvent id="e"/>' + chain("s", "book", "travel", "e") + aborting,
                extra='<bpmn:message id="m" name="abort"/>'))
    i = engine.instances.start("p")
    complete(engine, i.id, "book")
    engine.messages.correlate("abort", instance_id=i.id)
    assert open_tasks(engine, i.id) == ["cancel"]
    complete(engine, i.id, "cancel")
    assert open_tasks(engine, i.id) == ["explain"]
    complete(engine, i.id, "explain")
    assert state(engine, i.id) == "COMPLETED"


def test_an_instance_counted_by_an_earlier_stageflow_is_still_compensated() -> None:
    # Stageflow used to keep a count per activity; an instance in flight keeps its completions
    from engine.spiff.compensation import COMPENSABLE, entries

    record = {"book": 2}
    assert entries(record, "book") == [{}, {}] and record == {"book": [{}, {}]}
    assert COMPENSABLE == "sf_compensable"  # the key saved instances hold


@pytest.mark.parametrize(("body", "element", "problem"), [
    (subprocess("undo_all", f'<bpmn:startEvent id="cs">{COMPENSATE}</bpmn:startEvent><bpmn:endEvent id="ce"/>'
                + chain("cs", "ce"), attrs=' triggeredByEvent="true"') + '<bpmn:startEvent id="s"/>'
     '<bpmn:endEvent id="e"/>' + chain("s", "e"),
     "cs", "only supported inside an embedded subprocess"),
    ('<bpmn:startEvent id="s"/>' + subprocess("sub", '<bpmn:startEvent id="ss"/><bpmn:endEvent id="se"/>'
                                              + chain("ss", "se") + "".join(
        subprocess(f"es{n}", f'<bpmn:startEvent id="cs{n}">{COMPENSATE}</bpmn:startEvent><bpmn:endEvent id="ce{n}"/>'
                   + chain(f"cs{n}", f"ce{n}"), attrs=' triggeredByEvent="true"') for n in (1, 2)))
     + '<bpmn:endEvent id="e"/>' + chain("s", "sub", "e"),
     "cs2", "two event subprocesses with a compensation start event"),
    ('<bpmn:startEvent id="s"/>' + subprocess("sub", '<bpmn:startEvent id="ss"/><bpmn:userTask id="t"/>'
                                              '<bpmn:endEvent id="se"/>' + chain("ss", "t", "se"))
     + '<bpmn:intermediateThrowEvent id="undo"><bpmn:compensateEventDefinition activityRef="t"/>'
     '</bpmn:intermediateThrowEvent><bpmn:endEvent id="e"/>' + chain("s", "sub", "undo", "e"),
     "undo", "activityRef 't' names no activity of 'p'"),
    ('<bpmn:startEvent id="s"/><bpmn:userTask id="t"><bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2'
     '</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask><bpmn:boundaryEvent id="b" '
     f'attachedToRef="t">{COMPENSATE}</bpmn:boundaryEvent><bpmn:userTask id="u" isForCompensation="true">'
     '<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>'
     '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask><bpmn:association id="a" sourceRef="b" targetRef="u"/>'
     f'<bpmn:endEvent id="e">{COMPENSATE}</bpmn:endEvent>' + chain("s", "t", "e"),
     "u", "cannot nest the two"),
    ('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:boundaryEvent id="b" attachedToRef="t">'
     f'{COMPENSATE}</bpmn:boundaryEvent><bpmn:userTask id="u"/><bpmn:association id="a" sourceRef="b" targetRef="u"/>'
     '<bpmn:endEvent id="e"/>' + chain("s", "t", "e"),
     "b", 'mark it isForCompensation="true"'),
])
def test_compensation_stageflow_does_not_run_is_refused_naming_the_element(engine: Engine, deploy, body: str,
                                                                           element: str, problem: str) -> None:
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn(body))
    assert err.value.element_id == element, err.value
    assert problem in err.value.reason, err.value
