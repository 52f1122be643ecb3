"""Run a process on a virtual clock and print what would happen when: `stageflow simulate FILE.bpmn`.

Process designers use it to check their deadlines before deploying. `simulate` deploys the files into a
throwaway engine (a SQLite file in a temporary directory, deleted afterwards) whose clock only moves when the
simulation moves it, starts the process, completes user tasks with the given answers, sends the given messages,
jumps the clock to each next timer and fires it, and returns a `Timeline` of what happened until the instance
ends, waits for something no answer provides, or `max_steps` events were simulated.

The answers (a dict, or `answers.json` for the command; every key optional)::

    {
      "variables": {"amount": 1200},                        start variables
      "tasks": {
        "qualify_lead": {"qualified": true, "after": "P2D"},    complete with these variables two days after
                                                                 the task was created ("after" is taken out)
        "review": [{"approved": false}, {"approved": true}],    one answer per visit; the last one repeats
        "approve": {"variables": {"after": 3}, "after": "PT1H"} the explicit form, for a field named "after"
      },
      "messages": [
        {"name": "payment-received", "after": "P1D", "variables": {"paid": 1200}}
      ],
      "signals": [{"name": "price-list-changed", "after": "PT4H"}]
    }

- A task answer without `after` is given as soon as the task is created. With `after` (an ISO 8601 duration)
  the person completes the task that long after it was created; every timer that falls due before that moment
  fires first, in order (a P1D reminder shows before an answer given after P2D). At the very same moment the
  person is in time: the answer comes before the timer.
- A task with no answer (no entry, an empty list, or `null` for that visit) is left open: timers and messages
  may still move the instance (an interrupting deadline timer takes the task away). When nothing else can
  happen the simulation stops, "stuck at task 'X' (no answer)".
- A message with `after` is sent that long after the simulation's start; if the instance does not wait for it
  then, it is lost (as in the engine) and the timeline says so. Without `after` it is sent as soon as the
  instance waits for it. Each entry is sent once. `signals` work the same way.
- External tasks of the built-in topics (`notify-customer`, `notify-manager`, `start-process`) are worked at once
  by the engine's own workers, as `stageflow serve` does; other external tasks are not worked: an instance that
  waits only for one stops with "waits for an external worker on topic 'X'".

`simulate` raises `DefinitionError` for a file that cannot be deployed and `BadRequest` for malformed answers
or when the files hold several executable processes and `process_key` names none. A script that fails while
the simulation runs stops it: the outcome names the element and the error.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .clock import VirtualClock
from .config import Settings
from .errors import BadRequest, InvalidVariables, ScriptError, StageflowError
from .placeholders import fill
from .spiff.timers import parse_moment
from .store import models as m

if TYPE_CHECKING:
    from .api import Engine
    from .views import HistoryView, TaskView

DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday morning
SIMULATION_USER = "simulation"

# What ends a simulation.
COMPLETED, WAITING, STUCK, MAX_STEPS, ERROR = "completed", "waiting", "stuck", "max_steps", "error"

_ANSWER_KEYS = {"variables", "tasks", "messages", "signals"}
# At one moment: people first (an answer exactly at a deadline is in time), then messages, then timers.
_TASK, _SEND, _JOB = 0, 1, 2
_NUDGE = timedelta(microseconds=1)


# -- the result --------------------------------------------------------------------------------------------------
@dataclass
class Entry:
    """One line of a timeline: at `at`, `event` happened at element `element_id`."""

    at: datetime
    element_id: str
    element_name: str | None
    event: str
    details: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self, start: datetime) -> dict[str, Any]:
        return {
            "time": _shown(self.at, start.tzinfo).isoformat(),
            "elapsed": elapsed(self.at - start),
            "elapsedSeconds": int((self.at - start).total_seconds()),
            "elementId": self.element_id,
            "elementName": self.element_name,
            "event": self.event,
            "details": self.details,
            **({"data": self.data} if self.data else {}),
        }


@dataclass
class Timeline:
    """What a simulated instance did, in order, and how the simulation ended.

    `status` is one of `completed`, `waiting` (for a message, a signal or an external worker), `stuck` (a task
    has no answer, or nothing is pending), `max_steps` or `error` (a failing script, an answer that does not
    fit a form); `outcome` says it in words.
    """

    process_key: str
    start: datetime
    entries: list[Entry] = field(default_factory=list)
    status: str = STUCK
    outcome: str = ""
    end: datetime | None = None
    steps: int = 0
    variables: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        """A readable table: time, time since the start, element id, element name, event."""
        zone = self.start.tzinfo
        rows = [(_clock_text(_shown(e.at, zone)), elapsed(e.at - self.start), e.element_id, e.element_name or "",
                 e.event + (f" {e.details}" if e.details else "")) for e in self.entries]
        header = ("time", "elapsed", "element", "name", "event")
        widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(4)]
        lines = [f"simulation of process '{self.process_key}' from {_clock_text(_shown(self.start, zone))} "
                 f"({self.start.strftime('%A')})", ""]
        for row in [header, *rows]:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
        lines.append("")
        when = [f"{_clock_text(_shown(self.end, zone))}, {elapsed(self.end - self.start)}"] if self.end else []
        when.append(f"{self.steps} step{'s' if self.steps != 1 else ''}")
        lines.append(f"outcome: {self.outcome} ({', '.join(when)})")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "processKey": self.process_key,
            "start": _shown(self.start, self.start.tzinfo).isoformat(),
            "end": _shown(self.end, self.start.tzinfo).isoformat() if self.end else None,
            "elapsed": elapsed(self.end - self.start) if self.end else None,
            "status": self.status,
            "outcome": self.outcome,
            "steps": self.steps,
            "variables": json.loads(json.dumps(self.variables, default=str)),
            "entries": [e.to_json(self.start) for e in self.entries],
        }


def elapsed(delta: timedelta) -> str:
    """`+0:00`, `+5:30`, `+1d 02:00` (seconds only when there are some: `+0:00:30`)."""
    total = max(int(delta.total_seconds()), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"+{days}d {hours:02d}:{minutes:02d}" if days else f"+{hours}:{minutes:02d}"
    return text + (f":{seconds:02d}" if seconds else "")


def _shown(moment: datetime, zone: tzinfo | None) -> datetime:
    """The moment in the start's time zone, to the second (sub-second nudges do not show)."""
    return moment.astimezone(zone or UTC).replace(microsecond=0)


def _clock_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M" + (":%S" if moment.second else ""))


# -- the answers ---------------------------------------------------------------------------------------------------
@dataclass
class _Answer:
    variables: dict[str, Any]
    after: str | None


@dataclass
class _Send:
    kind: str  # message or signal
    name: str
    at: datetime | None  # None: as soon as the instance waits for it
    variables: dict[str, Any]
    done: bool = False


@dataclass
class _Plan:
    variables: dict[str, Any]
    tasks: dict[str, list[_Answer | None]]
    sends: list[_Send]

    def answer(self, element_id: str, visit: int) -> _Answer | None:
        answers = self.tasks.get(element_id)
        if not answers:
            return None
        return answers[min(visit, len(answers) - 1)]


def load_answers(path: str | Path) -> dict[str, Any]:
    """Read an answers file (JSON); a missing or malformed file is a `BadRequest` naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise BadRequest(f"cannot read the answers file {path}: {err.strerror}")
    try:
        body = json.loads(text)
    except ValueError as err:
        raise BadRequest(f"answers file {path} is not valid JSON: {err}")
    if not isinstance(body, dict):
        raise BadRequest(f"answers file {path} must hold a JSON object with variables, tasks and messages")
    return body


def _duration(text: Any, where: str, start: datetime) -> str:
    if not isinstance(text, str) or not text.strip().upper().startswith("P"):
        raise BadRequest(f"answers: {where} must be an ISO 8601 duration such as PT2H or P1D, not {text!r}")
    try:
        parse_moment(text, start)
    except ValueError:
        raise BadRequest(f"answers: {where} '{text}' is not an ISO 8601 duration")
    return text.strip()


def _parse_answer(value: Any, where: str, start: datetime) -> _Answer | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"answers: {where} must be an object of variables (or null for no answer)")
    body = dict(value)
    after = _duration(body.pop("after"), f"{where}.after", start) if "after" in body else None
    if set(body) == {"variables"} and isinstance(body["variables"], dict):
        body = dict(body["variables"])
    return _Answer(body, after)


def _parse_plan(answers: dict[str, Any], start: datetime) -> _Plan:
    if not isinstance(answers, dict):
        raise BadRequest("answers must be an object with variables, tasks and messages")
    unknown = sorted(set(answers) - _ANSWER_KEYS)
    if unknown:
        raise BadRequest(f"answers: unknown key {', '.join(repr(k) for k in unknown)} "
                         f"(use {', '.join(sorted(_ANSWER_KEYS))})")
    variables = answers.get("variables") or {}
    if not isinstance(variables, dict):
        raise BadRequest("answers: variables must be an object")
    tasks_in = answers.get("tasks") or {}
    if not isinstance(tasks_in, dict):
        raise BadRequest("answers: tasks must be an object keyed by the task's element id")
    tasks: dict[str, list[_Answer | None]] = {}
    for element_id, value in tasks_in.items():
        visits = value if isinstance(value, list) else [value]
        tasks[element_id] = [_parse_answer(v, f"tasks.{element_id}" + (f"[{i}]" if isinstance(value, list) else ""),
                                           start) for i, v in enumerate(visits)]
    sends = []
    for kind in ("message", "signal"):
        items = answers.get(kind + "s") or []
        if not isinstance(items, list):
            raise BadRequest(f"answers: {kind}s must be a list of objects with name, after and variables")
        for i, item in enumerate(items):
            where = f"{kind}s[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                raise BadRequest(f"answers: {where} needs a name")
            extra = sorted(set(item) - {"name", "after", "variables"})
            if extra:
                raise BadRequest(f"answers: {where} has unknown key {', '.join(repr(k) for k in extra)}")
            payload = item.get("variables") or {}
            if not isinstance(payload, dict):
                raise BadRequest(f"answers: {where}.variables must be an object")
            at = None
            if item.get("after") is not None:
                at = parse_moment(_duration(item["after"], f"{where}.after", start), start)
            sends.append(_Send(kind, item["name"], at, dict(payload)))
    return _Plan(dict(variables), tasks, sends)


# -- the simulation ------------------------------------------------------------------------------------------------
def simulate(files: list[Path], *, answers: dict[str, Any] | None = None, process_key: str | None = None,
             variables: dict[str, Any] | None = None, start: datetime | None = None,
             max_steps: int = 1000) -> Timeline:
    """Deploy `files` into a throwaway engine on a virtual clock, run the process with `answers`, return the
    timeline. `variables` are start variables (over the answers' own); `start` defaults to Monday
    2026-01-05 09:00 UTC. See the module docstring for the answers."""
    moment = start or DEFAULT_START
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    plan = _parse_plan(answers or {}, moment)
    plan.variables.update(variables or {})
    from .api import Engine

    with tempfile.TemporaryDirectory(prefix="stageflow-simulate-") as tmp:
        clock = VirtualClock(moment)
        settings = Settings.from_env(database_url=f"sqlite:///{Path(tmp) / 'simulation.db'}", clock="virtual",
                                     sql_echo=False, unique_business_key=False)
        engine = Engine(settings, clock=clock)
        try:
            return _Simulation(engine, clock, plan, moment, max_steps).run(files, process_key)
        finally:
            engine.close()


@dataclass
class _Job:
    id: str
    due: datetime
    element_id: str
    job_type: str


class _Simulation:
    def __init__(self, engine: Engine, clock: VirtualClock, plan: _Plan, start: datetime, max_steps: int) -> None:
        self.engine = engine
        self.clock = clock
        self.plan = plan
        self.start = start
        self.max_steps = max_steps
        self.instance_id = ""
        self.history_seen = 0
        self.tasks_seen: set[str] = set()
        self.visits: dict[str, int] = {}
        self.planned: dict[str, tuple[datetime, _Answer] | None] = {}  # task id → when and what is answered
        self.answered: dict[str, dict[str, Any]] = {}
        self.label: _Label | None = None  # what the step's event was: a timer fired, a message arrived
        self.names: dict[str, str] = {}  # element id → name, for history rows that carry none
        self.timeline: Timeline | None = None
        self.moment = start  # the scheduled moment of the last step (the clock may be a nudge past it)

    # -- driver ----------------------------------------------------------------------------------------------
    def run(self, files: list[Path], process_key: str | None) -> Timeline:
        eng = self.engine
        deployment = eng.definitions.deploy_files(list(files), source="stageflow simulate")
        key = _choose(sorted(d.key for d in deployment.definitions), process_key)
        tl = self.timeline = Timeline(process_key=key, start=self.start)
        try:
            instance = eng.instances.start(key, variables=dict(self.plan.variables), user=SIMULATION_USER)
        except ScriptError as err:
            return self._finish(ERROR, _script_outcome(err, "while starting"))
        self.instance_id = instance.id
        self._collect(self.clock.now())
        while True:
            if eng.handlers.run():  # the built-in workers (notifications) work as soon as there is work
                self._collect(self.clock.now())
                continue
            instance = eng.instances.get(self.instance_id)
            if instance.ended:
                return self._finish(COMPLETED if instance.state == "COMPLETED" else STUCK,
                                    "completed" if instance.state == "COMPLETED" else instance.state.lower())
            event = self._next_event()
            if event is None:
                return self._finish(*self._why_stopped())
            if tl.steps >= self.max_steps:
                return self._finish(MAX_STEPS, f"stopped after {self.max_steps} steps (max steps reached) before "
                                               "the process ended")
            tl.steps += 1
            at, kind, what = event
            if at > self.clock.now():
                self.clock.set(at)
            self.moment = max(self.moment, at)
            try:
                stop = self._perform(at, kind, what)
            except ScriptError as err:
                self._collect(at)
                return self._finish(ERROR, _script_outcome(err))
            except StageflowError as err:
                self._collect(at)
                return self._finish(ERROR, err.message)
            self._collect(at)
            if stop is not None:
                return self._finish(*stop)

    def _finish(self, status: str, outcome: str) -> Timeline:
        tl = self.timeline
        assert tl is not None
        tl.status, tl.outcome = status, outcome
        tl.end = self.moment
        if self.instance_id:
            tl.variables = self.engine.instances.variables(self.instance_id)
        return tl

    # -- what can happen next --------------------------------------------------------------------------------
    def _next_event(self) -> tuple[datetime, int, Any] | None:
        now = self.moment
        candidates: list[tuple[datetime, int, Any]] = []
        for task in self._open_tasks():
            plan = self.planned.get(task.id)
            if plan is not None:
                candidates.append((max(plan[0], now), _TASK, task))
        waiting = None
        for send in self.plan.sends:
            if send.done:
                continue
            if send.at is not None:
                candidates.append((max(send.at, now), _SEND, send))
                continue
            if waiting is None:
                waiting = self._waiting_for()
            if (send.kind, send.name) in waiting:
                candidates.append((now, _SEND, send))
        jobs = self._jobs()
        if jobs:
            candidates.append((max(jobs[0].due, now), _JOB, jobs[0]))
        if not candidates:
            return None
        return min(candidates, key=lambda c: (c[0], c[1]))

    def _perform(self, at: datetime, kind: int, what: Any) -> tuple[str, str] | None:
        eng = self.engine
        if kind == _TASK:
            task: TaskView = what
            plan = self.planned.pop(task.id)
            assert plan is not None
            answer = plan[1]
            self.answered[task.id] = answer.variables
            try:
                eng.tasks.complete(task.id, dict(answer.variables), user=SIMULATION_USER)
            except InvalidVariables as err:
                return ERROR, f"the answer for task '{task.task_definition_key}' does not fit its form: {err.message}"
            return None
        if kind == _SEND:
            send: _Send = what
            send.done = True
            waiting = self._waiting_for()
            element_id = waiting.get((send.kind, send.name))
            if element_id is None:
                self._add(at, "", None, f"{send.kind} sent", f"'{send.name}', but nothing waits for it: lost",
                          {"name": send.name, "variables": send.variables})
                return None
            self.label = _Label(element_id, f"{send.kind} received",
                                f"'{send.name}'" + (f" with {_json(send.variables)}" if send.variables else ""))
            if send.kind == "message":
                eng.messages.correlate(send.name, instance_id=self.instance_id, variables=dict(send.variables),
                                       user=SIMULATION_USER)
            else:
                eng.messages.signal(send.name, variables=dict(send.variables), instance_id=self.instance_id,
                                    user=SIMULATION_USER)
            return None
        job: _Job = what
        if job.job_type == "timer":
            self.label = _Label(job.element_id, "timer fired", None)
        # Just past the due time: SpiffWorkflow fires a timer once the clock is past it, not at it (and a cycle
        # timer exactly at its time would skip that period).
        if self.clock.now() < job.due + _NUDGE:
            self.clock.set(job.due + _NUDGE)
        eng.jobs.execute(job.id)
        after = self._job(job.id)
        if after is not None and after.exception:
            return ERROR, f"script error at element '{job.element_id}': {after.exception}"
        if after is not None and after.due == job.due:
            return STUCK, f"the timer at element '{job.element_id}' due {job.due.isoformat()} did not fire"
        return None

    def _why_stopped(self) -> tuple[str, str]:
        state = self.engine.instances.state(self.instance_id, history_limit=1)
        reasons, stuck = [], False
        for task in state.tasks:
            reason = f"stuck at task '{task.task_definition_key}' (no answer)"
            if reason not in reasons:
                reasons.append(reason)
            stuck = True
        for external in state.external_tasks:
            reason = f"waits for an external worker on topic '{external['topicName']}'"
            if reason not in reasons:
                reasons.append(reason)
        for sub in state.subscriptions:
            reason = f"waits for {sub['eventType']} '{sub['eventName']}'"
            if reason not in reasons:
                reasons.append(reason)
        for incident in state.incidents:
            reasons.append(f"incident at element '{incident['activityId']}': {incident['incidentMessage']}")
            stuck = True
        if not reasons:
            return STUCK, "stuck: nothing is open and no timer is pending"
        return (STUCK if stuck else WAITING), "; ".join(reasons)

    # -- reading the instance --------------------------------------------------------------------------------
    def _open_tasks(self) -> list[TaskView]:
        return self.engine.tasks.list(instance_id=self.instance_id, max_results=1000)

    def _waiting_for(self) -> dict[tuple[str, str], str]:
        """(message or signal, name) → the element that waits for it."""
        state = self.engine.instances.state(self.instance_id, history_limit=1)
        return {(s["eventType"], s["eventName"]): s["activityId"] for s in state.subscriptions}

    def _jobs(self) -> list[_Job]:
        """The instance's pending jobs, earliest first, with their exact due times."""
        with self.engine.db.read() as session:
            rows = session.execute(
                select(m.Job.id, m.Job.due_at, m.Job.element_id, m.Job.job_type)
                .where(m.Job.instance_id == self.instance_id, m.Job.retries > 0, m.Job.suspended.is_(False),
                       m.Job.due_at.isnot(None))
                .order_by(m.Job.due_at, m.Job.id)).all()
        return [_Job(r.id, _aware(r.due_at), r.element_id, r.job_type) for r in rows]

    def _job(self, job_id: str) -> _JobState | None:
        with self.engine.db.read() as session:
            row = session.get(m.Job, job_id)
            if row is None:
                return None
            return _JobState(_aware(row.due_at) if row.due_at else None, row.exception)

    # -- recording -------------------------------------------------------------------------------------------
    def _collect(self, at: datetime) -> None:
        """Add what happened in the last step (stamped `at`, its scheduled moment), then the tasks it created."""
        eng = self.engine
        history = eng.instances.history(self.instance_id, first=self.history_seen, max_results=5000)
        self.history_seen += len(history)
        first = len(self.timeline.entries) if self.timeline else 0
        for h in history:
            self._from_history(at, h)
        label, self.label = self.label, None
        if label is not None and not label.used and self.timeline is not None:
            # A cycle timer on a boundary event fires and keeps waiting: no history row says so.
            self.timeline.entries.insert(first, Entry(at, label.element_id, self.names.get(label.element_id),
                                                      label.event, label.details))
        for task in self._open_tasks():
            if task.id in self.tasks_seen:
                continue
            self.tasks_seen.add(task.id)
            self._created(at, task)

    def _from_history(self, at: datetime, h: HistoryView) -> None:
        if h.element_name:
            self.names[h.element_id] = h.element_name
        name = self.names.get(h.element_id)
        if h.element_type == "process":
            if h.event == "started":
                self._add(at, h.element_id, name, "process started")
            elif h.event == "completed":
                self._add(at, h.element_id, name, "process ended")
            else:
                self._add(at, h.element_id, name, f"process {h.event}")
            return
        is_task = h.element_type in ("userTask", "manualTask")
        if h.event == "completed":
            if is_task:
                answer = self.answered.get(h.task_id or "")
                who = h.user_id or SIMULATION_USER
                details = f"by {who}" + (f" with {_json(answer)}" if answer else "")
                self._add(at, h.element_id, name, "task completed", details,
                          {"variables": answer} if answer else {})
                return
            label = self.label if self.label is not None and not self.label.used else None
            if label is not None and h.element_id == label.element_id and "Gateway" in h.element_type:
                label.via_gateway = True  # an event-based gateway waited: the catch event behind it says what came
            elif label is not None and (h.element_id == label.element_id
                                        or (label.via_gateway and h.element_type == "intermediateCatchEvent")):
                label.used = True
                self._add(at, h.element_id, name, label.event, label.details)
                return
            self._add(at, h.element_id, name, "completed")
        elif h.event == "cancelled":
            if "Event" in h.element_type:
                return  # a boundary timer that did not fire, the losing branch of an event gateway: noise
            if is_task:
                self.planned.pop(h.task_id or "", None)
            self._add(at, h.element_id, name, "task cancelled" if is_task else "cancelled")
        elif h.event == "error":
            self._add(at, h.element_id, name, "error")

    def _created(self, at: datetime, task: TaskView) -> None:
        element_id = task.task_definition_key
        visit = self.visits.get(element_id, 0)
        self.visits[element_id] = visit + 1
        answer = self.plan.answer(element_id, visit)
        if answer is None:
            self.planned[task.id] = None
        else:
            when = parse_moment(answer.after, at) if answer.after else at
            self.planned[task.id] = (when, answer)
        parts, data = [], {}
        if task.assignee:
            parts.append(f"assignee {task.assignee}")
            data["assignee"] = task.assignee
        if task.candidate_users:
            parts.append(f"users {', '.join(task.candidate_users)}")
            data["candidateUsers"] = task.candidate_users
        if task.candidate_groups:
            parts.append(f"groups {', '.join(task.candidate_groups)}")
            data["candidateGroups"] = task.candidate_groups
        if task.due:
            due = _aware(task.due)
            parts.append(f"due {_clock_text(_shown(due, self.start.tzinfo))} ({elapsed(due - self.start)})")
            data["due"] = _shown(due, self.start.tzinfo).isoformat()
        if answer is None:
            parts.append("no answer")
        name = task.name if task.name and task.name != element_id else None
        self._add(at, element_id, name, "task created", f"({'; '.join(parts)})" if parts else None, data)

    def _add(self, at: datetime, element_id: str, name: str | None, event: str, details: str | None = None,
             data: dict[str, Any] | None = None) -> None:
        assert self.timeline is not None
        if name and "{" in name and self.instance_id:  # a name with `{client}`, as the notices fill it
            name = fill(name, self.engine.instances.variables(self.instance_id))
        self.timeline.entries.append(Entry(at, element_id, name, event, details, dict(data or {})))


@dataclass
class _Label:
    element_id: str
    event: str
    details: str | None
    used: bool = False
    via_gateway: bool = False


@dataclass
class _JobState:
    due: datetime | None
    exception: str | None


def _choose(keys: list[str], process_key: str | None) -> str:
    if process_key:
        if process_key not in keys:
            raise BadRequest(f"process '{process_key}' is not in the files; they hold: {', '.join(keys) or 'none'}")
        return process_key
    if not keys:
        raise BadRequest("the files hold no executable process to simulate")
    if len(keys) > 1:
        raise BadRequest(f"the files hold several executable processes ({', '.join(keys)}); "
                         "name the one to simulate")
    return keys[0]


def _script_outcome(err: ScriptError, when: str = "") -> str:
    where = f" at element '{err.element_id}'" if err.element_id else ""
    line = f" (line {err.line})" if err.line else ""
    return f"script error{where}{' ' + when if when else ''}: {err.reason}{line}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
