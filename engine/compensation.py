"""Compensation as Camunda 7 runs it, rewritten at deploy time into elements SpiffWorkflow runs.

SpiffWorkflow has no compensation. The dialect (`Dialect._compensation`) hands each executable process to
`rewrite`, which turns every compensation throw event (intermediate or end) into a hidden inclusive gateway with
one branch per activity it compensates and a join, and removes compensation boundary events and compensation
event subprocesses. A branch is taken when its activity completed since it was last compensated (the engine
counts completions per scope instance, `engine.spiff.compensation`) and runs:

- the activity's compensation handler (the `isForCompensation` activity its compensation boundary event is
  associated with), once per completion: a multi-instance one when the activity can complete several times in
  one scope instance (multi-instance, looping, or on a cycle of sequence flows);
- for a subprocess without a handler of its own, a hidden multi-instance subprocess with one instance per
  completed run of it. Each instance runs what Camunda runs when it compensates a completed subprocess: its
  compensation event subprocess, whose own throw events compensate the activities of that run, or else the
  handlers of every activity of that run that completed (recursively, subprocesses inside included).

A handler needed in several places (two throw events, or a throw event outside the subprocess holding it) is
copied; a copy keeps the handler's id wherever Stageflow shows it. As in Camunda, the throw event waits for
every handler it started (`waitForCompletion="false"` is read as true, as Camunda does), a handler runs only for
activities that completed (not for active ones, nor for a multi-instance activity whose instances have not all
finished), and compensation thrown inside an event subprocess compensates the scope around it too.

The branches start the last completed activity's handler first, as Camunda orders them, with that order read
from the diagram (reverse order along the scope's sequence flows: `_latest_first`), not from the completions.

Unlike Camunda, a handler sees the variables as they are when it runs, not a snapshot of its subprocess's
variables taken when that completed; and the throw event's own history entry closes as compensation starts
(the hidden join, which leaves no history, is what waits).
"""

from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING

from lxml import etree

from .dialect import HIDDEN_PREFIX

if TYPE_CHECKING:
    from .dialect import Dialect

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS}
_SCOPES = ("subProcess", "transaction", "adHocSubProcess")
_ACTIVITIES = frozenset({
    "task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask", "businessRuleTask",
    "callActivity", *_SCOPES,
})
# References between elements that a copy must follow (attributes, and child elements holding an id as text).
_REF_ATTRS = ("sourceRef", "targetRef", "attachedToRef", "default", "dataObjectRef")
_REF_TEXTS = ("incoming", "outgoing", "sourceRef", "targetRef")
# What an event subprocess holds besides its flow: not copied into the subprocess that runs it.
_NOT_CONTENT = frozenset({
    "extensionElements", "documentation", "incoming", "outgoing", "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics", "ioSpecification", "property", "dataInputAssociation", "dataOutputAssociation",
})


def _b(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


def _tag(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is_event_subprocess(el: etree._Element) -> bool:
    return _tag(el) in _SCOPES and (el.get("triggeredByEvent") or "").lower() == "true"


def _definition(el: etree._Element) -> etree._Element | None:
    return el.find("bpmn:compensateEventDefinition", NS)


def _activities(scope: etree._Element) -> list[etree._Element]:
    """The activities of `scope` that compensation can reach: not its handlers nor its event subprocesses."""
    return [el for el in scope if _tag(el) in _ACTIVITIES and not _is_event_subprocess(el)
            and (el.get("isForCompensation") or "").lower() != "true"]


class Rewrite:
    """The compensation rewrite of one executable process (see the module docstring)."""

    def __init__(self, dialect: Dialect, proc: etree._Element) -> None:
        self.d = dialect
        self.proc = proc
        self.handlers: dict[str, etree._Element] = {}  # activity id -> its compensation handler
        self.pristine: dict[str, etree._Element] = {}  # handler id -> the handler as drawn, what copies copy
        self.event_subprocesses: dict[str, etree._Element] = {}  # subprocess id -> its compensation event subprocess
        self.used: set[str] = set()  # handlers already placed once where they stand
        self.removed: list[etree._Element] = []  # compensation event subprocesses, removed once copied
        self.removed_ids: set[str] = set()  # ids of what the rewrite removed, for the lanes naming them

    # -- entry point ----------------------------------------------------------------------------------------
    def run(self) -> None:
        scopes = [self.proc, *self.proc.iter(*(_b(s) for s in _SCOPES))]
        for scope in scopes:
            self._check_handler_flows(scope)
            self._collect_boundaries(scope)
        for scope in scopes:
            self._collect_event_subprocess(scope)
        self.pristine = {h.get("id") or "": deepcopy(h) for h in self.handlers.values()}
        subs = list(self.event_subprocesses.values())  # their throw events run where they are copied to
        throws = [t for t in self.proc.iter(_b("intermediateThrowEvent"), _b("endEvent"))
                  if _definition(t) is not None and not any(a is s for a in t.iterancestors() for s in subs)]
        for throw in throws:
            self._expand(throw, self._compensated_scopes(throw))
        for el in self.removed:
            self.removed_ids.update(node.get("id") for node in el.iter(etree.Element) if node.get("id"))
            el.getparent().remove(el)
        for ref in list(self.proc.iter(_b("flowNodeRef"))):  # a lane naming a removed event or subprocess
            if (ref.text or "").strip() in self.removed_ids:
                ref.getparent().remove(ref)

    # -- what the diagram says ------------------------------------------------------------------------------
    def _check_handler_flows(self, scope: etree._Element) -> None:
        ends: dict[str, str] = {}
        for flow in scope.iterfind("bpmn:sequenceFlow", NS):
            ends.setdefault(flow.get("targetRef") or "", "incoming")
            ends.setdefault(flow.get("sourceRef") or "", "outgoing")
        for el in scope:
            if (el.get("isForCompensation") or "").lower() == "true" and el.get("id") in ends:
                # Camunda refuses it too: a compensation handler runs only when compensation is thrown.
                raise self.d.fail(el, f"a compensation handler (isForCompensation) cannot have sequence flows "
                                      f"(it has an {ends[el.get('id')]} one)")

    def _collect_boundaries(self, scope: etree._Element) -> None:
        seen: set[str] = set()
        for boundary in [b for b in scope.iterfind("bpmn:boundaryEvent", NS) if _definition(b) is not None]:
            activity = boundary.get("attachedToRef") or ""
            if activity in seen:
                raise self.d.fail(boundary, f"activity '{activity}' has two compensation boundary events: "
                                            "Camunda and Stageflow take one per activity")
            handler_id = next((a.get("targetRef") for a in self.d.root.iter(_b("association"))
                               if a.get("sourceRef") == boundary.get("id")), None)
            handler = self.d.ids.get(handler_id or "")
            if handler is not None:
                if (handler.get("isForCompensation") or "").lower() != "true":
                    raise self.d.fail(boundary, f"the compensation boundary event is associated with "
                                                f"'{handler_id}', which is no compensation handler: mark it "
                                                'isForCompensation="true"')
                if handler.getparent() is not scope:
                    raise self.d.fail(boundary, f"the compensation handler '{handler_id}' must stand beside the "
                                                "activity it undoes, in the same process or subprocess")
                self.handlers[activity] = handler
            seen.add(activity)
            self.removed_ids.add(boundary.get("id") or "")
            scope.remove(boundary)

    def _collect_event_subprocess(self, scope: etree._Element) -> None:
        for sub in scope:
            if not _is_event_subprocess(sub):
                continue
            start = next((s for s in sub.iterfind("bpmn:startEvent", NS) if _definition(s) is not None), None)
            if start is None:
                continue
            if scope is self.proc:
                raise self.d.fail(start, "an event subprocess with a compensation start event is only supported "
                                         "inside an embedded subprocess (Camunda refuses it at process level too)")
            owner = scope.get("id") or ""
            if owner in self.event_subprocesses:
                raise self.d.fail(start, f"subprocess '{owner}' has two event subprocesses with a compensation "
                                         "start event: Camunda and Stageflow take one per subprocess")
            if owner in self.handlers:
                raise self.d.fail(start, f"subprocess '{owner}' has both a compensation boundary event and an "
                                         "event subprocess with a compensation start event: keep one of them")
            self.event_subprocesses[owner] = sub
            self.removed.append(sub)

    def _compensable(self, activity: etree._Element) -> bool:
        """Whether compensating `activity` runs anything: a handler of its own, or a subprocess's event
        subprocess or the handlers inside it."""
        if activity.get("id") in self.handlers:
            return True
        if _tag(activity) not in _SCOPES or _is_event_subprocess(activity):
            return False
        return activity.get("id") in self.event_subprocesses or any(
            self._compensable(child) for child in _activities(activity))

    def _compensated_scopes(self, throw: etree._Element) -> list[etree._Element]:
        """The scopes whose activities a throw event compensates: its own, and, from inside an event
        subprocess, the scope around it (Camunda walks up to the first scope that is no event subprocess)."""
        scopes = [throw.getparent()]
        while _is_event_subprocess(scopes[-1]) and scopes[-1].getparent() is not None:
            scopes.append(scopes[-1].getparent())
        return scopes

    def _repeats(self, activity: etree._Element) -> bool:
        """Whether `activity` can complete more than once in one instance of its scope."""
        if (activity.find("bpmn:multiInstanceLoopCharacteristics", NS) is not None
                or activity.find("bpmn:standardLoopCharacteristics", NS) is not None):
            return True
        scope = activity.getparent()
        successors: dict[str, list[str]] = {}
        for flow in scope.iterfind("bpmn:sequenceFlow", NS):
            successors.setdefault(flow.get("sourceRef") or "", []).append(flow.get("targetRef") or "")
        for boundary in scope.iterfind("bpmn:boundaryEvent", NS):
            successors.setdefault(boundary.get("attachedToRef") or "", []).append(boundary.get("id") or "")
        start = activity.get("id") or ""
        seen: set[str] = set()
        stack = list(successors.get(start, []))
        while stack:
            node = stack.pop()
            if node == start:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(successors.get(node, []))
        return False

    # -- the rewrite ----------------------------------------------------------------------------------------
    def _expand(self, throw: etree._Element, scopes: list[etree._Element]) -> None:
        """Put what `throw` compensates between it and what follows it."""
        compensate = _definition(throw)
        ref = compensate.get("activityRef")
        candidates = [el for scope in scopes for el in _activities(scope)]
        if ref:
            target = next((el for el in candidates if el.get("id") == ref), None)
            if target is None:
                raise self.d.fail(throw, f"activityRef '{ref}' names no activity of "
                                         f"'{self.d._original_id(scopes[-1].get('id') or '')}', the scope this "
                                         "event compensates (Camunda refuses it too)")
            candidates = [target]
        targets = _latest_first([el for el in candidates if self._compensable(el)])
        throw.remove(compensate)
        if not targets:
            return  # nothing to compensate: a none event
        placement = throw.getparent()
        throw_id = throw.get("id")
        outgoing = [f for f in placement.iterfind("bpmn:sequenceFlow", NS) if f.get("sourceRef") == throw_id]
        join_id = self._fan(placement, throw_id, targets, self.d._original_id(throw_id))
        for flow in outgoing:
            flow.set("sourceRef", join_id)
        if throw.tag == _b("endEvent"):
            throw.tag = _b("intermediateThrowEvent")
            end_id = self.d._fresh_id(f"{HIDDEN_PREFIX}end_{throw_id}")
            self.d.ids[end_id] = etree.SubElement(placement, _b("endEvent"), id=end_id)
            self.d._hidden_flow(placement, join_id, end_id)

    def _fan(self, placement: etree._Element, source_id: str, targets: list[etree._Element],
             stands_for: str) -> str:
        """A hidden inclusive fork after `source_id` with a branch per target (taken when it has completions
        left to compensate) and the join they meet at; returns the join's id."""
        fork_id = self.d._fresh_id(f"{HIDDEN_PREFIX}compensate_{source_id}")
        join_id = self.d._fresh_id(f"{HIDDEN_PREFIX}compensated_{source_id}")
        fork = etree.SubElement(placement, _b("inclusiveGateway"), id=fork_id)
        join = etree.SubElement(placement, _b("inclusiveGateway"), id=join_id)
        self.d.ids[fork_id], self.d.ids[join_id] = fork, join
        self.d.hidden_for[fork_id] = self.d.hidden_for[join_id] = stands_for
        self.d._hidden_flow(placement, source_id, fork_id)
        fork.set("default", self.d._hidden_flow(placement, fork_id, join_id))
        for activity in targets:
            runner_id = self._runner(placement, activity, stands_for)
            branch = self.d.ids[self.d._hidden_flow(placement, fork_id, runner_id)]
            condition = etree.SubElement(branch, _b("conditionExpression"))
            condition.text = f"_sf_compensable({activity.get('id')!r})"
            self.d._hidden_flow(placement, runner_id, join_id)
        return join_id

    def _runner(self, placement: etree._Element, activity: etree._Element, stands_for: str) -> str:
        """The element in `placement` that compensates the completions of `activity`; returns its id."""
        activity_id = activity.get("id") or ""
        self.d.compensable.add(activity_id)
        handler = self.handlers.get(activity_id)
        if handler is not None:
            return self._place_handler(placement, activity, handler)
        runner_id = self.d._fresh_id(f"{HIDDEN_PREFIX}compensate_{activity_id}")
        runner = etree.SubElement(placement, _b("subProcess"), id=runner_id)
        self.d.ids[runner_id] = runner
        self.d.hidden_for[runner_id] = stands_for
        self.d.compensates[runner_id] = activity_id
        self.d.compensating[runner_id] = activity_id
        self._once_per_completion(runner, activity_id)
        event_subprocess = self.event_subprocesses.get(activity_id)
        if event_subprocess is not None:
            self._copy_into(runner, [c for c in event_subprocess if _tag(c) not in _NOT_CONTENT])
            for start in runner.iterfind("bpmn:startEvent", NS):
                if _definition(start) is not None:
                    start.remove(_definition(start))  # a plain start: the subprocess starts as it runs
            for throw in [t for t in runner.iter(_b("intermediateThrowEvent"), _b("endEvent"))
                          if _definition(t) is not None]:
                scopes = [activity] if throw.getparent() is runner else self._compensated_scopes(throw)
                self._expand(throw, scopes)
            return runner_id
        start_id = self.d._fresh_id(f"{HIDDEN_PREFIX}start_{runner_id}")
        end_id = self.d._fresh_id(f"{HIDDEN_PREFIX}end_{runner_id}")
        self.d.ids[start_id] = etree.SubElement(runner, _b("startEvent"), id=start_id)
        inner = [child for child in _activities(activity) if self._compensable(child)]
        join_id = self._fan(runner, start_id, inner, stands_for)
        self.d.ids[end_id] = etree.SubElement(runner, _b("endEvent"), id=end_id)
        self.d._hidden_flow(runner, join_id, end_id)
        return runner_id

    def _place_handler(self, placement: etree._Element, activity: etree._Element,
                       handler: etree._Element) -> str:
        handler_id = handler.get("id") or ""
        if handler_id not in self.used and handler.getparent() is placement:
            self.used.add(handler_id)
            placed = handler
        else:
            attached = [b for b in handler.getparent().iterfind("bpmn:boundaryEvent", NS)
                        if b.get("attachedToRef") == handler_id]
            if attached:
                raise self.d.fail(handler, "a compensation handler with boundary events can run from one "
                                           "compensation throw event of its own process or subprocess only")
            [placed] = self._copy_into(placement, [self.pristine[handler_id]])
        placed.attrib.pop("isForCompensation", None)
        placed_id = placed.get("id") or ""
        activity_id = activity.get("id") or ""
        # a copy is known by the original's id at run time, so the original says what both undo
        self.d.compensates[placed_id] = self.d.compensates[handler_id] = activity_id
        if self._repeats(activity):
            if (placed.find("bpmn:multiInstanceLoopCharacteristics", NS) is not None
                    or placed.find("bpmn:standardLoopCharacteristics", NS) is not None):
                raise self.d.fail(handler, f"the compensation handler '{handler_id}' is a loop or multi-instance "
                                           f"activity, and '{activity_id}' can complete several times: Stageflow "
                                           "runs the handler once per completion and cannot nest the two")
            self._once_per_completion(placed, activity_id)
        return placed_id

    def _once_per_completion(self, el: etree._Element, activity_id: str) -> None:
        """Make `el` a parallel multi-instance activity with one instance per completion of `activity_id`."""
        loop = etree.Element(_b("multiInstanceLoopCharacteristics"), isSequential="false")
        cardinality = etree.SubElement(loop, _b("loopCardinality"))
        cardinality.text = f"_sf_compensations({activity_id!r})"  # Python the dialect wrote: left as it is
        self.d.python_loops.add(el.get("id") or "")
        el.append(loop)

    def _copy_into(self, placement: etree._Element, elements: list[etree._Element]) -> list[etree._Element]:
        """Deep copies of `elements`, with fresh ids (kept as the originals' wherever Stageflow shows them) and
        the references among them following, appended to `placement`."""
        fresh: dict[str, str] = {}
        for el in elements:
            for node in el.iter(etree.Element):
                old = node.get("id")
                if old and etree.QName(node).namespace == BPMN_NS:
                    fresh[old] = self.d._fresh_id(f"{old}_sf")
                    self.d.ids[fresh[old]] = node  # reserved now, pointed at the copy below
        copies = []
        for el in elements:
            copy = deepcopy(el)
            for node in copy.iter(etree.Element):
                if etree.QName(node).namespace != BPMN_NS:
                    continue
                old = node.get("id")
                if old in fresh:
                    node.set("id", fresh[old])
                    self.d.ids[fresh[old]] = node
                    self.d.renamed[fresh[old]] = self.d._original_id(old)
                    self.d.copies.add(fresh[old])
                for attr in _REF_ATTRS:
                    if node.get(attr) in fresh:
                        node.set(attr, fresh[node.get(attr)])
                if _tag(node) in _REF_TEXTS and (node.text or "").strip() in fresh:
                    node.text = fresh[(node.text or "").strip()]
            placement.append(copy)
            copies.append(copy)
        return copies


def _latest_first(activities: list[etree._Element]) -> list[etree._Element]:
    """`activities` in the order compensation runs them: as Camunda, the last completed first, read here from the
    diagram: each scope's activities in reverse order of their distance along its sequence flows from where the
    scope starts (a chain A, B, C compensates C, B, A), activities no flow reaches last; the throw's own scope
    before the one around it (compensation thrown in an event subprocess)."""
    steps: dict[int, dict[str, int]] = {}  # per scope, in the order the scopes come
    rank: dict[int, tuple[int, int, int]] = {}
    for position, activity in enumerate(activities):
        scope = activity.getparent()
        if id(scope) not in steps:
            steps[id(scope)] = _steps_from_start(scope)
        order = list(steps).index(id(scope))
        rank[id(activity)] = (order, -steps[id(scope)].get(activity.get("id") or "", -1), position)
    return sorted(activities, key=lambda el: rank[id(el)])


def _steps_from_start(scope: etree._Element) -> dict[str, int]:
    """How many sequence flows from the scope's start events (or first elements) each element is, at least."""
    successors: dict[str, list[str]] = {}
    targets: set[str] = set()
    for flow in scope.iterfind("bpmn:sequenceFlow", NS):
        successors.setdefault(flow.get("sourceRef") or "", []).append(flow.get("targetRef") or "")
        targets.add(flow.get("targetRef") or "")
    for boundary in scope.iterfind("bpmn:boundaryEvent", NS):
        successors.setdefault(boundary.get("attachedToRef") or "", []).append(boundary.get("id") or "")
        targets.add(boundary.get("id") or "")
    starts = [el.get("id") or "" for el in scope if isinstance(el.tag, str) and el.get("id")
              and el.get("id") not in targets and _tag(el) not in ("sequenceFlow", "boundaryEvent")]
    steps = dict.fromkeys(starts, 0)
    frontier = list(starts)
    while frontier:
        node = frontier.pop(0)
        for nxt in successors.get(node, []):
            if nxt not in steps:
                steps[nxt] = steps[node] + 1
                frontier.append(nxt)
    return steps


def rewrite(dialect: Dialect, proc: etree._Element) -> None:
    """Rewrite the compensation of executable process `proc` (see the module docstring)."""
    Rewrite(dialect, proc).run()
