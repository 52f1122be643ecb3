"""Conformance runner: `stageflow conformance DIR` deploys and runs every BPMN model of a folder tree.

Made for the Camunda 7 engine test models (one feature per file). Each model file is deployed on a fresh SQLite
database in a temporary directory, together with the files its test deploys with it when a deployments file
(`--deployments FILE`, see `read_deployments`) says which, else with the files it needs from its own folder: for
each `calledElement` the file there that defines that process (preferring a file named after it, then the name
closest to the model's), and for each `camunda:decisionRef` the `.dmn` file defining that decision. Every
executable process of the model file that has a none start event is started (a file with only a timer start
event gets one instance from its first firing) and driven as a neutral user would: user tasks are completed
with no input (or with what the model's test gives, below), external tasks are completed with no output, due
timers and async jobs fire by moving a virtual clock to their due time, and no message or signal is ever sent.
A cycle timer is fired five times at most (a cycle may repeat for ever; tasks go first unless the test fires
timers first, so it fires only when nothing else can move). A run stops after `max_steps` actions or
`time_limit` seconds.

Instances start with no variables and tasks are completed with none, unless a start variables file
(`--start-variables FILE`, see `read_start_variables`) gives what the model's own test gives: the variables it
passes at start, those it sets before completing a task, and whether it fires a timer before completing the task
it sits on. A model that reads `${input}` at its first gateway fails without it, in Camunda as here (an unknown
variable is an error in both), so the file says what the test gave, and nothing else; each result lists the names
it got (`startVariables`, `taskVariables`), and the summary counts the files that got some. An expected failures
file (`--expected-failures FILE`, see `read_expected_failures`) lists the refusals and errors Camunda's own tests
expect, with their evidence.

Each file gets one outcome:

- `refused`: the deployment raised `DefinitionError`; `reason` is a short category of its message;
- `refused-as-camunda`: refused, and Camunda's own test expects this file to be refused with the same kind of
  error (the expected failures file's regular expression matches our message); `expectedBy` names the test;
- `ended`: every instance reached its end;
- `waits-message-or-signal`: an instance waits only for a message, a signal (or an external worker when the
  engine has no external task API), or for a client to change the variables a conditional event reads (as
  in Camunda, such a condition is evaluated again when variables change); or the file's processes start only
  at message, signal or conditional start events, so no instance exists until a client sends one (`elements`
  then lists `message NAME (start)`, ...). A receive task without a message waits for the message named after
  its id (Camunda: `runtimeService.signal`);
- `stuck`: an instance is active but nothing can move it; `elements` names where its tokens are and `reason`
  says at which element it waits and why (a join whose other branch never arrives, a timer that never falls
  due, ...);
- `runtime-error`: an exception or an incident while running; `reason` is the error class and first line;
- `error-as-camunda`: a run-time error that Camunda's own test expects, of the same kind;
- `step-limit`: still moving after `max_steps` actions or `time_limit` seconds (a loop), or one action that did
  not return within `time_limit` (the engine loops inside it; `elements` names the action);
- `not-started`: deployed, but no process has a none start event (no executable process, or only
  message, signal or conditional start events), or a timer start job fired without creating an instance.

A file "needs Java code" when it has `camunda:class`, `camunda:delegateExpression`, `camunda:expression` on a
service, send or business rule task (or a message throw event), `camunda:variableMappingClass` or
`camunda:variableMappingDelegateExpression`, an execution or task listener, a script in another language
than Python (Groovy, JavaScript, JUEL), or an expression calling a method of an object named like a Java bean
(`${myBean.resolveCollection(execution)}`, `#{myCycleTimerBean.getCycle()}`: an object Camunda's test registers
or passes, which no process variable can stand for).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lxml import etree

from .clock import VirtualClock
from .config import Settings
from .dialect import is_executable
from .errors import BadRequest, DefinitionError, StageflowError

if TYPE_CHECKING:
    from .api import Engine

REFUSED, ENDED, WAITS, STUCK, RUNTIME_ERROR, STEP_LIMIT, NOT_STARTED = (
    "refused", "ended", "waits-message-or-signal", "stuck", "runtime-error", "step-limit", "not-started")
REFUSED_AS_CAMUNDA, ERROR_AS_CAMUNDA = "refused-as-camunda", "error-as-camunda"
OUTCOMES = (REFUSED, REFUSED_AS_CAMUNDA, ENDED, WAITS, STUCK, RUNTIME_ERROR, ERROR_AS_CAMUNDA, STEP_LIMIT,
            NOT_STARTED)
AS_CAMUNDA = (REFUSED_AS_CAMUNDA, ERROR_AS_CAMUNDA)
MODEL_SUFFIXES = (".bpmn", ".bpmn20.xml")
DMN_SUFFIXES = (".dmn", ".dmn11.xml")
WORKER = "stageflow-conformance"

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_JAVA_EXPRESSION_HOSTS = {"serviceTask", "sendTask", "businessRuleTask", "messageEventDefinition"}
_FLOW_NODES = {"task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask",
               "businessRuleTask", "callActivity", "subProcess", "startEvent", "intermediateCatchEvent",
               "intermediateThrowEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
               "eventBasedGateway"}
_NUDGE = timedelta(milliseconds=1)  # job due dates are read at millisecond precision
_CYCLE_REPEATS = 5  # firings of one cycle timer after which the runner stops firing it


# -- what a file holds -----------------------------------------------------------------------------------------
@dataclass
class ModelInfo:
    """What the runner reads from a model file before deploying it."""

    executable: list[str] = field(default_factory=list)  # executable process ids
    none_start: list[str] = field(default_factory=list)  # ... of those, the ones with a top-level none start
    timer_start: list[str] = field(default_factory=list)
    other_starts: set[str] = field(default_factory=set)  # start event kinds of processes without a none start
    defined: set[str] = field(default_factory=set)  # every process id of the file
    called: set[str] = field(default_factory=set)
    decisions: set[str] = field(default_factory=set)
    event_subprocess_starts: set[str] = field(default_factory=set)
    dead_ends: list[str] = field(default_factory=list)  # flow nodes, not end events, with no outgoing flow
    start_waits: list[str] = field(default_factory=list)  # `message NAME`, `signal NAME`, `condition ID` starts
    condition_waits: set[str] = field(default_factory=set)  # conditional catch events, gateways leading to one
    java: list[str] = field(default_factory=list)  # why the file needs Java code (empty: it does not)


def _is_camunda(namespace: str | None) -> bool:
    return bool(namespace) and ("camunda" in namespace or "activiti" in namespace)  # type: ignore[operator]


def read_model(data: bytes) -> ModelInfo:
    """Processes, start events, references and Java markers of a BPMN file (tolerant: never raises)."""
    info = ModelInfo()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        return info
    java: set[str] = set()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = etree.QName(el)
        name = tag.localname
        if _is_camunda(tag.namespace):
            if name in ("executionListener", "taskListener"):
                java.add(f"camunda:{name}")
            elif name == "script":
                _script_marker(el, java)
        elif name == "scriptTask":
            _script_marker(el, java)
        for attr, value in el.attrib.items():
            qattr = etree.QName(attr)
            if not _is_camunda(qattr.namespace):
                continue
            local = qattr.localname
            if local in ("class", "delegateExpression", "variableMappingClass", "variableMappingDelegateExpression"):
                java.add(f"camunda:{local}")
            elif local == "expression" and name in _JAVA_EXPRESSION_HOSTS:
                java.add("camunda:expression")
            elif local == "decisionRef" and value:
                info.decisions.add(value)
        for text in (el.text, *el.attrib.values()):
            if text and "Bean" in text:
                java.update(f"java bean {bean}" for bean in _JAVA_BEAN_CALL.findall(text))
        if name == "callActivity" and el.get("calledElement"):
            info.called.add(el.get("calledElement", ""))
    info.java = sorted(java)
    for proc in root.iterfind(f"{{{_BPMN_NS}}}process"):
        pid = proc.get("id") or ""
        info.defined.add(pid)
        if not is_executable(proc):
            continue
        info.executable.append(pid)
        starts = proc.findall(f"{{{_BPMN_NS}}}startEvent")
        kinds = [{etree.QName(c).localname for c in s if isinstance(c.tag, str)
                  and etree.QName(c).localname.endswith("EventDefinition")} for s in starts]
        if any(not ks for ks in kinds):
            info.none_start.append(pid)
            continue
        if any(ks == {"timerEventDefinition"} for ks in kinds):
            info.timer_start.append(pid)
        info.start_waits += [wait for s in starts for wait in _start_waits(root, s)]
        info.other_starts |= {next(iter(ks)).removesuffix("EventDefinition") if len(ks) == 1 else "multiple"
                              for ks in kinds} or {"no"}
    for sub in root.iter(f"{{{_BPMN_NS}}}subProcess"):
        if (sub.get("triggeredByEvent") or "").lower() == "true":
            info.event_subprocess_starts |= {s.get("id") or "" for s in sub.iterfind(f"{{{_BPMN_NS}}}startEvent")}
    for event in root.iter(f"{{{_BPMN_NS}}}intermediateCatchEvent", f"{{{_BPMN_NS}}}boundaryEvent"):
        if event.find(f"{{{_BPMN_NS}}}conditionalEventDefinition") is not None:
            info.condition_waits.add(event.get("id") or "")
    flows = list(root.iter(f"{{{_BPMN_NS}}}sequenceFlow"))
    for gateway in root.iter(f"{{{_BPMN_NS}}}eventBasedGateway"):
        if any(f.get("sourceRef") == gateway.get("id") and f.get("targetRef") in info.condition_waits for f in flows):
            info.condition_waits.add(gateway.get("id") or "")
    sources = {f.get("sourceRef") for f in flows}
    for container in root.iter(f"{{{_BPMN_NS}}}process", f"{{{_BPMN_NS}}}subProcess"):
        for node in container:
            if not isinstance(node.tag, str) or etree.QName(node).localname not in _FLOW_NODES:
                continue
            if (node.get("id") not in sources and node.get("isForCompensation") != "true"
                    and (node.get("triggeredByEvent") or "").lower() != "true"):
                info.dead_ends.append(node.get("id") or "")
    return info


# A method call on an object named like a Java bean, inside an expression.
_JAVA_BEAN_CALL = re.compile(r"[$#]\{[^}]*?\b([A-Za-z_]\w*Bean)\s*\.\s*\w+\s*\(")


def _start_waits(root: Any, start: Any) -> list[str]:
    """`message NAME`, `signal NAME` or `condition ID` for a start event that waits for one of those."""
    names = {el.get("id"): el.get("name") or el.get("id") for el in root.iter(f"{{{_BPMN_NS}}}message",
                                                                             f"{{{_BPMN_NS}}}signal")}
    out = []
    for definition in start:
        if not isinstance(definition.tag, str):
            continue
        kind = etree.QName(definition).localname.removesuffix("EventDefinition")
        if kind in ("message", "signal"):
            ref = (definition.get(f"{kind}Ref") or "").split(":")[-1]
            out.append(f"{kind} {names.get(ref) or ref or '(unnamed)'}")
        elif kind == "conditional":
            out.append(f"condition {start.get('id')}")
    return out


def _script_marker(el: Any, java: set[str]) -> None:
    fmt = (el.get("scriptFormat") or "").strip().lower()
    if fmt and fmt != "python":
        java.add(f"{fmt} script")


def model_files(folder: Path) -> list[Path]:
    """The BPMN model files under `folder`, sorted by relative path."""
    return sorted((p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(MODEL_SUFFIXES)),
                  key=lambda p: p.relative_to(folder).as_posix())


class _FolderIndex:
    """Which file of a folder defines which executable process and which decision (built once per folder)."""

    def __init__(self) -> None:
        self._folders: dict[Path, tuple[dict[str, list[Path]], dict[str, list[Path]]]] = {}
        self.infos: dict[Path, ModelInfo] = {}

    def info(self, path: Path) -> ModelInfo:
        if path not in self.infos:
            self.infos[path] = read_model(path.read_bytes())
        return self.infos[path]

    def _index(self, folder: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
        if folder not in self._folders:
            processes: dict[str, list[Path]] = {}
            decisions: dict[str, list[Path]] = {}
            for p in sorted(folder.iterdir()):
                lower = p.name.lower()
                if p.is_file() and lower.endswith(MODEL_SUFFIXES):
                    for pid in self.info(p).executable:
                        processes.setdefault(pid, []).append(p)
                elif p.is_file() and lower.endswith(DMN_SUFFIXES):
                    for did in _dmn_decisions(p.read_bytes()):
                        decisions.setdefault(did, []).append(p)
            self._folders[folder] = (processes, decisions)
        return self._folders[folder]

    def companions(self, model: Path) -> list[Path]:
        """The files of `model`'s folder that define the processes it calls and the decisions it evaluates."""
        processes, decisions = self._index(model.parent)
        chosen: list[Path] = []
        defined = set(self.info(model).defined)
        pending = [model]
        while pending:
            info = self.info(pending.pop())
            for key in sorted(info.called - defined):
                for candidate in self._ranked(processes.get(key, []), key, model):
                    if candidate == model or candidate in chosen or self.info(candidate).defined & defined:
                        continue  # the same process id twice in one deployment is refused
                    chosen.append(candidate)
                    defined |= self.info(candidate).defined
                    pending.append(candidate)
                    break
            for ref in sorted(info.decisions):
                for candidate in self._ranked(decisions.get(ref, []), ref, model):
                    if candidate not in chosen:
                        chosen.append(candidate)
                    break
        return chosen

    def _ranked(self, candidates: list[Path], key: str, model: Path) -> list[Path]:
        """A file named after the key first, then one with no Java code, then the longest name prefix in
        common with the model."""
        def rank(p: Path) -> tuple[int, int, int, int, str]:
            stem = p.name.split(".")[0].lower()
            java = bool(p.name.lower().endswith(MODEL_SUFFIXES) and self.info(p).java)
            return (stem != key.lower(), java, -len(_common_prefix(p.name, model.name)), len(p.name), p.name)

        return sorted(candidates, key=rank)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _dmn_decisions(data: bytes) -> list[str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    return [el.get("id") or "" for el in root.iter() if isinstance(el.tag, str)
            and etree.QName(el).localname == "decision"]


# -- what a file's own test does (optional data files) -----------------------------------------------------------
@dataclass
class FileSetup:
    """How a model's own test drives it: start variables, the variables it sets before completing a task (by
    task definition key; on the task or on the task's instance: both reach the instance; a list gives the
    variables of the first, second, ... completion of that task, the last one for any further completion) and,
    when the test fires a timer before completing the task it sits on, `timers_first`."""

    start: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any] | list[dict[str, Any]]] = field(default_factory=dict)
    timers_first: bool = False
    test: str | None = None


@dataclass
class Deployment:
    """The files a model's test deploys together with it (`files`: paths under the corpus folder) and those it
    deploys that the corpus does not hold (`missing`: paths as the test names them)."""

    files: list[str]
    missing: list[str] = field(default_factory=list)
    test: str | None = None


@dataclass
class ExpectedFailure:
    """A failure Camunda's own test expects: `kind` is `refusal` (a parse error at deploy) or `runtime-error`;
    `match` is a regular expression our refusal or error message must match to count as the same error."""

    kind: str
    match: str
    test: str
    evidence: str


_SETUP_KEYS = {"start", "tasks", "timersFirst", "test", "note"}


def _setup(entry: dict[str, Any] | FileSetup) -> FileSetup:
    """A start variables entry: `{"start": {...}, "tasks": {KEY: {...}}, "timersFirst": true, "test": "..."}`
    or, the older form, just the start variables."""
    if isinstance(entry, FileSetup):
        return entry
    if entry and set(entry) <= _SETUP_KEYS and ("start" in entry or "tasks" in entry or "timersFirst" in entry):
        return FileSetup(start=dict(entry.get("start") or {}), tasks=dict(entry.get("tasks") or {}),
                         timers_first=bool(entry.get("timersFirst")), test=entry.get("test"))
    return FileSetup(start=dict(entry))


def _read_json_files(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BadRequest(f"{what} file {path}: {err}")
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise BadRequest(f'{what} file {path}: expected {{"files": {{"PATH": {{...}}}}}}')
    return files


def read_deployments(path: Path) -> dict[str, Deployment]:
    """The deployments file: `{"files": {"PATH": {"with": ["PATH", ...], "missing": [...], "test": "..."}}}`.

    Paths are relative to the corpus folder. A file listed here is deployed with exactly these files, as its
    Camunda test's `@Deployment(resources = {...})` deploys them, instead of the runner's own guess.
    """
    out: dict[str, Deployment] = {}
    for name, entry in _read_json_files(path, "deployments").items():
        files = entry.get("with")
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise BadRequest(f'deployments file {path}: "{name}" needs "with": a list of paths')
        out[name] = Deployment(files=list(files), missing=list(entry.get("missing") or []), test=entry.get("test"))
    return out


def read_expected_failures(path: Path) -> dict[str, ExpectedFailure]:
    """The expected failures file: `{"files": {"PATH": {"kind": "refusal"|"runtime-error", "match": REGEX,
    "testClass": ..., "testMethod": ..., "evidence": ...}}}`; every entry must name its test and evidence."""
    out: dict[str, ExpectedFailure] = {}
    for name, entry in _read_json_files(path, "expected failures").items():
        kind, match = entry.get("kind"), entry.get("match")
        test = f"{entry.get('testClass') or ''}.{entry.get('testMethod') or ''}".strip(".")
        if kind not in ("refusal", "runtime-error") or not isinstance(match, str) or not test \
                or not entry.get("evidence"):
            raise BadRequest(f'expected failures file {path}: "{name}" needs kind (refusal or runtime-error), '
                             f"match, testClass, testMethod and evidence")
        re.compile(match)
        out[name] = ExpectedFailure(kind=kind, match=match, test=test, evidence=str(entry["evidence"]))
    return out


# -- reasons ---------------------------------------------------------------------------------------------------
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_NUMBER = re.compile(r"\b\d+\b")
_EVALUATING = re.compile(r"Error evaluating expression '.*?': (?=\w+(Error|Exception)\b)"
                         r"|Unknown property used in expression: .*?\. Cause: ")
_MI_NAME = re.compile(r"(?:name|identifier) '(nrOfInstances|nrOfCompletedInstances|nrOfActiveInstances|"
                      r"loopCounter)'")

_REFUSAL_CATEGORIES: list[tuple[str, str | Callable[[re.Match[str]], str]]] = [
    (r"camunda:class \(Java", "java delegate (camunda:class)"),
    (r"camunda:delegateExpression \(Java", "java delegate (camunda:delegateExpression)"),
    (r"camunda:expression \(Java", "java expression (camunda:expression)"),
    (r"camunda:executionListener", "execution listener"),
    (r'camunda:type="(\w+)" is not supported', lambda m: f"camunda:type {m.group(1)} (built-in connector)"),
    (r"needs an implementation: make it an external task", "service or send task without implementation"),
    (r"camunda:taskListener", "task listener"),
    (r"script format '([^']*)'", lambda m: f"{m.group(1).lower()} script"),
    (r"external script resources", "external script resource (camunda:resource)"),
    (r"names no deployed process|called process .* is not deployed", "called process not deployed"),
    (r"calls the CMMN case|a call activity needs a calledElement",
     "call activity without calledElement (CMMN caseRef)"),
    (r"calledElement must be a process key", "calledElement expression"),
    (r"compensation handler .*cannot have sequence flows", "compensation handler with sequence flows"),
    (r"compensat", "compensation Stageflow does not run (event subprocess, multi-instance, other scope)"),
    (r"cron expression", "cron expression Stageflow cannot run (L, W or #)"),
    (r"link (event|catch|throw)", "link events paired wrongly or misplaced"),
    (r"complex gateways", "complex gateway"),
    (r"a boundary event needs a timer", "compensation events"),  # the one kind that message leaves out
    (r"(\w+)Ref '[^']*' names no (\w+) of this file", lambda m: f"undefined {m.group(2)} reference"),
    (r"is neither an ISO 8601 repeating interval", "timer cycle neither ISO 8601 nor cron"),
    (r"with \d+ outgoing sequence flows is not supported", "several outgoing flows without a gateway"),
    (r"a condition on a sequence flow leaving", "conditional flow from a non-gateway"),
    (r"without a condition and is not the gateway's default", "gateway flow without condition"),
    (r"DOCTYPE|malformed XML|not a BPMN or DMN document", "malformed or non-BPMN XML"),
    (r"SubWorkflow|No start event|start event is required", "subprocess or process without start/end event"),
    (r"[Cc]onditional event definition with missing condition", "conditional event without condition"),
    (r"method calls are not supported", "method call in expression"),
    (r"camunda:(in|out) needs a target", "call activity mapping without target"),
    (r"a script as a parameter value", "script as an input/output parameter value"),
    (r"camunda:outputParameter is not allowed", "output parameter where Camunda refuses one"),
    (r"camunda:inputOutput is not supported on", "inputOutput on an element that takes none"),
    (r"multiinstance|multi-instance", "multi-instance without cardinality or collection"),
    (r"needs an id", "element without id"),
    (r"data stores", "data store"),
    (r"has no name: Stageflow matches", "message or signal without name"),
]


def generic_reason(text: str, limit: int = 100) -> str:
    """The first line of a message with ids, quoted names and numbers blanked, so that like errors group."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = _UUID.sub("<id>", line)
    line = _QUOTED.sub("'…'", line)
    line = _NUMBER.sub("N", line)
    return line[:limit]


def refusal_category(reason: str) -> str:
    """A short category for a deploy refusal ("java delegate (camunda:class)", "compensation events", ...)."""
    for pattern, category in _REFUSAL_CATEGORIES:
        found = re.search(pattern, reason)
        if found:
            return category(found) if callable(category) else category
    return generic_reason(reason)


def error_reason(err: BaseException) -> str:
    """`Class: first line` of an exception, the message without the instance prefix for Stageflow errors."""
    reason = getattr(err, "reason", None) if isinstance(err, StageflowError) else None
    text = _EVALUATING.sub("", str(reason if isinstance(reason, str) else err))
    builtin = _MI_NAME.search(text)
    if builtin:
        return f"{type(err).__name__}: multi-instance variable '{builtin.group(1)}' is not defined"
    return f"{type(err).__name__}: {generic_reason(text)}"


def _first_line(text: str, limit: int = 300) -> str:
    stripped = (text or "").strip()
    return stripped.splitlines()[0][:limit] if stripped else ""


# -- one file --------------------------------------------------------------------------------------------------
@dataclass
class FileResult:
    """The outcome of one model file."""

    file: str
    outcome: str
    reason: str | None = None  # a category, for grouping
    message: str | None = None  # the error's first line as raised
    needs_java: bool = False
    java: list[str] = field(default_factory=list)
    deployed_with: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    elements: list[str] = field(default_factory=list)  # where stuck or waiting tokens are
    error_file: str | None = None
    error_element: str | None = None
    error_line: int | None = None
    steps: int = 0
    seconds: float = 0.0
    start_variables: list[str] = field(default_factory=list)  # names of the variables the instances began with
    task_variables: list[str] = field(default_factory=list)  # `KEY: name, ...` given at a task's completion
    expected: str | None = None  # the Camunda test that expects this refusal or error (as-camunda outcomes)
    camunda_refuses: str | None = None  # ended or waits, yet this Camunda test expects the deployment to fail
    test: str | None = None  # the Camunda test whose deployment or variables the run follows

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file, "outcome": self.outcome, "reason": self.reason, "message": self.message,
            "needsJava": self.needs_java, "java": self.java, "deployedWith": self.deployed_with,
            "started": self.started, "elements": self.elements, "errorFile": self.error_file,
            "errorElement": self.error_element, "errorLine": self.error_line, "steps": self.steps,
            "startVariables": self.start_variables, "taskVariables": self.task_variables,
            "expectedBy": self.expected, "camundaRefuses": self.camunda_refuses, "test": self.test,
            "seconds": round(self.seconds, 3),
        }


class _TimeUp(BaseException):
    """Raised by the alarm when a file runs past its time limit (a BaseException: nothing swallows it)."""


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after `seconds` (main thread on POSIX only; elsewhere no limit)."""
    usable = bool(seconds) and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _TimeUp()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds or 0))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Driver:
    """Drives every instance of one engine as a neutral user until nothing moves or a bound is reached."""

    def __init__(self, engine: Engine, clock: VirtualClock, info: ModelInfo, max_steps: int,
                 setup: FileSetup | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.info = info
        self.max_steps = max_steps
        self.setup = setup or FileSetup()
        self.steps = 0
        self.current: str | None = None  # the action under way (named when one never returns)
        self.given: set[str] = set()  # `KEY: name` of the task variables given so far
        self.completed: Counter[str] = Counter()  # completions per task definition key
        self.dead_jobs: set[str] = set()  # fired, yet still due at the same time: they will never fire
        self.fired: Counter[str] = Counter()  # firings per job
        self.repeating: set[str] = set()  # cycle timers that fired `_CYCLE_REPEATS` times: no longer fired
        self.acted: Counter[str] = Counter()

    def run(self, result: FileResult) -> None:
        eng = self.engine
        while True:
            incidents = eng.jobs.incidents(max_results=10)
            if incidents:
                first = incidents[0]
                result.outcome = RUNTIME_ERROR
                result.reason = f"incident: {generic_reason(first.get('incidentMessage') or '')}"
                result.message = _first_line(first.get("incidentMessage") or "")
                result.elements = sorted({str(i.get("activityId")) for i in incidents})
                return
            active = [i for i in eng.instances.list(active_only=True, max_results=1000) if not i.ended]
            if not active:
                result.outcome = ENDED
                return
            action = self._next_action()
            if action is None:
                self._classify_rest(result, [i.id for i in active])
                return
            if self.steps >= self.max_steps:
                element, count = self.acted.most_common(1)[0] if self.acted else ("?", 0)
                result.outcome = STEP_LIMIT
                result.reason = f"{self.max_steps} actions, most at {element} ({count})"
                result.elements = [element]
                return
            self.steps += 1
            action()

    def _next_action(self) -> Callable[[], None] | None:
        eng = self.engine
        if self.setup.timers_first:
            job = self._next_job()  # the test fires the timer before it completes the task the timer is on
            if job is not None:
                return job
        tasks = eng.tasks.list(max_results=1000)
        if tasks:  # a fixed order (ids are random): the outcome of some models depends on it
            task = min(tasks, key=lambda t: (t.created, t.task_definition_key, t.id))
            given = self._task_variables(task.task_definition_key)
            return lambda: self._act(f"userTask {task.task_definition_key}",
                                     lambda: eng.tasks.complete(task.id, given, check_form=False))
        externals = getattr(eng, "external_tasks", None)
        if externals is not None:
            open_tasks = externals.list(max_results=1000, with_retries_left=True)
            if open_tasks:
                first = min(open_tasks, key=lambda t: (str(t.get("activityId")), t["id"]))
                return lambda: self._complete_external(first)
        return self._next_job()

    def _next_job(self) -> Callable[[], None] | None:
        """Firing the earliest job that can still fire."""
        eng = self.engine
        jobs = [j for j in eng.jobs.list(max_results=1000)
                if j.get("jobType") != "timer-start" and (j.get("retries") or 0) > 0 and not j.get("suspended")
                and j.get("dueDate") and j["id"] not in self.dead_jobs and j["id"] not in self.repeating]
        for j in [j for j in jobs if j.get("timerKind") == "cycle" and self.fired[j["id"]] >= _CYCLE_REPEATS]:
            # A cycle that has fired again and again while nothing else moved repeats for ever (a reminder on
            # a task that waits for a message): stop firing it and look at what the instance waits for.
            self.repeating.add(j["id"])
            jobs.remove(j)
        if not jobs:
            return None
        job = min(jobs, key=lambda j: (_parse_iso(j["dueDate"]), str(j.get("activityId")), j["id"]))
        return lambda: self._fire(job)

    def _task_variables(self, key: str) -> dict[str, Any]:
        """The variables the test sets before this completion of task `key` (none when it sets none)."""
        entry = self.setup.tasks.get(key) or {}
        n = self.completed[key]
        self.completed[key] += 1
        given = dict(entry[min(n, len(entry) - 1)] if isinstance(entry, list) else entry)
        self.given |= {f"{key}: {name}" for name in given}
        return given

    def _act(self, label: str, fn: Callable[[], Any]) -> None:
        self.acted[label] += 1
        self.current = label
        fn()
        self.current = None

    def _complete_external(self, task: dict[str, Any]) -> None:
        from .external_tasks import TopicRequest

        topic = str(task.get("topicName") or "")
        self.acted[f"externalTask {task.get('activityId')}"] += 1
        self.current = f"externalTask {task.get('activityId')}"
        locked = self.engine.external_tasks.fetch_and_lock(WORKER, 1, [TopicRequest(topic, 60_000)])
        for item in locked:
            self.engine.external_tasks.complete(item["id"], WORKER, {})
        self.current = None

    def _fire(self, job: dict[str, Any]) -> None:
        due = _parse_iso(job["dueDate"])
        if self.clock.now() < due + _NUDGE:
            self.clock.set(due + _NUDGE)
        self.acted[f"{job.get('jobType')} {job.get('activityId')}"] += 1
        self.fired[job["id"]] += 1
        self.current = f"{job.get('jobType')} {job.get('activityId')}"
        self.engine.jobs.execute(job["id"])
        self.current = None
        after = next((j for j in self.engine.jobs.list(max_results=1000) if j["id"] == job["id"]), None)
        if after is not None and after.get("dueDate") == job["dueDate"] and not after.get("exceptionMessage"):
            self.dead_jobs.add(job["id"])

    def _classify_rest(self, result: FileResult, instance_ids: list[str]) -> None:
        """Nothing can move: the instances wait for a message, a signal or a change of variables, or they are
        stuck (then `reason` says at what and why, as far as the runner can tell)."""
        waits: list[str] = []
        stuck: list[str] = []
        for instance_id in instance_ids:
            state = self.engine.instances.state(instance_id, history_limit=1)
            own = [f"{s['eventType']} {s['eventName']}" for s in state.subscriptions
                   if s.get("activityId") not in self.info.event_subprocess_starts]
            own += [f"external {e['topicName']}" for e in state.external_tasks]
            if own:
                waits.extend(own)
                waits.extend(f"timer {t['activityId']} (a cycle, repeating meanwhile)" for t in state.timers
                              if t["id"] in self.repeating)
                continue
            dead = [f"timer {t['activityId']} (does not fire)" for t in state.timers if t["id"] in self.dead_jobs]
            dead += [f"timer {t['activityId']} (a cycle that repeats for ever)" for t in state.timers
                     if t["id"] in self.repeating]
            if dead:
                stuck.extend(dead)
                continue
            live = live_elements(self.engine, instance_id)
            conditions = [e for e in live if _element_of(e) in self.info.condition_waits]
            if conditions and all(_element_of(e) in self.info.condition_waits or e.startswith("subProcess ")
                                  for e in live):
                # A conditional event whose condition does not hold yet: it waits, as in Camunda, until a
                # client changes the variables it reads.
                waits.extend(f"condition {_element_of(e)}" for e in conditions)
                continue
            stuck.extend(live)
        if stuck:
            result.outcome = STUCK
            result.elements = sorted(set(stuck))
            if "(no open element)" in stuck:
                result.elements += [f"no outgoing flow: {d}" for d in self.info.dead_ends[:5]]
            result.reason = _stuck_reason(stuck) + self._hint(stuck)
        else:
            result.outcome = WAITS
            result.elements = sorted(set(waits))

    def _hint(self, stuck: list[str]) -> str:
        """A likely cause when a stuck instance has no open element left."""
        if "(no open element)" in stuck and self.info.dead_ends:
            return " (implicit end: an element with no outgoing flow)"
        return ""


_STUCK_WHY = {
    "parallelGateway": "a join waiting for a branch that never arrives",
    "inclusiveGateway": "a join waiting for a branch that never arrives",
    "intermediateCatchEvent": "a catch event with nothing to trigger it",
    "eventBasedGateway": "no event after the gateway can happen",
    "receiveTask": "a receive task with nothing to trigger it",
    "subProcess": "a subprocess that does not finish",
    "callActivity": "a called process that does not finish",
}


def _element_of(label: str) -> str:
    """The element id of a `type id (STATE)` label."""
    parts = label.split(" ")
    return parts[1] if len(parts) > 1 else ""


def _stuck_reason(stuck: list[str]) -> str:
    """`waits at TYPE ID: why` for the innermost stuck element (the first that is not a container)."""
    real = [e for e in stuck if not e.startswith("(")]
    if not real:
        return "no open element: the instance neither ended nor waits for anything"
    inner = [e for e in real if not e.startswith(("subProcess ", "callActivity "))] or real
    first = sorted(inner)[0]
    kind = first.split(" ")[0]
    said = re.search(r"\(([^)]*)\)$", first) if kind == "timer" else None
    why = said.group(1) if said else _STUCK_WHY.get(kind, "nothing the runner does moves it")
    more = f" (+{len(set(real)) - 1} more)" if len(set(real)) > 1 else ""
    return f"waits at {kind} {_element_of(first)}{more}: {why}"


def live_elements(engine: Engine, instance_id: str) -> list[str]:
    """`type id (STATE)` of the unfinished BPMN elements of an instance (reads the runtime; read only)."""
    try:
        with engine.db.read() as session:
            loaded = engine.executor.load(session, instance_id, for_change=False)
        out = [f"{kind} {element} ({state})" for kind, element, state in loaded.run.open_elements()]
        return out or ["(no open element)"]
    except Exception as err:  # noqa: BLE001 - only a description; the outcome stands without it
        return [f"(cannot read the runtime: {type(err).__name__})"]


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def run_file(path: Path, root: Path, index: _FolderIndex, template: Path, workdir: Path, *,
             max_steps: int = 200, time_limit: float | None = 30.0,
             start_variables: dict[str, Any] | FileSetup | None = None, deployment: Deployment | None = None,
             expected: ExpectedFailure | None = None) -> FileResult:
    """Deploy, start and drive one model file on its own fresh database; never raises (but KeyboardInterrupt).

    `start_variables` is the file's `FileSetup` (or just its start variables), `deployment` the files its test
    deploys with it, `expected` the failure its Camunda test expects.
    """
    from .api import Engine

    started_at = time.monotonic()
    info = index.info(path)
    setup = _setup(start_variables or {})
    result = FileResult(file=path.relative_to(root).as_posix(), outcome=RUNTIME_ERROR, needs_java=bool(info.java),
                        java=list(info.java), test=setup.test or (deployment.test if deployment else None))
    database = workdir / "conformance.db"
    shutil.copy(template, database)
    clock = VirtualClock()
    engine = Engine(Settings(database_url=f"sqlite:///{database}", script_time_limit=2.0), clock=clock)
    driver = _Driver(engine, clock, info, max_steps, setup)
    try:
        with _time_limit(time_limit):
            companions = ([root / name for name in deployment.files] if deployment is not None
                          else index.companions(path))
            _run(engine, clock, path, companions, info, driver, result, setup.start)
            if deployment is not None and deployment.missing and result.outcome == REFUSED:
                result.reason = f"{result.reason} (its test also deploys {', '.join(deployment.missing)}: " \
                                "not in the corpus)"
    except _TimeUp:
        result.outcome = STEP_LIMIT
        if driver.current:
            result.reason = f"one action did not return within {time_limit:g} s (the engine loops inside it)"
            result.elements = [driver.current]
        else:
            result.reason = f"still running after {time_limit:g} s"
            result.elements = [label for label, _ in driver.acted.most_common(1)]
    except Exception as err:  # noqa: BLE001 - every failure is a result, never the end of the run
        result.outcome = RUNTIME_ERROR
        result.reason = error_reason(err)
        result.message = _first_line(f"{type(err).__name__}: {err}")
        element = getattr(err, "element_id", None)
        result.elements = [element] if isinstance(element, str) else []
    finally:
        result.steps = driver.steps
        result.task_variables = sorted(driver.given)
        engine.close()
        database.unlink(missing_ok=True)
        result.seconds = time.monotonic() - started_at
    if expected is not None:
        _compare_expected(result, expected)
    return result


def _compare_expected(result: FileResult, expected: ExpectedFailure) -> None:
    """Move a refusal or error that Camunda's own test expects, and that is the same error, to its own outcome;
    otherwise leave the outcome and say in the reason what the test expects (a file that ends or waits although
    Camunda refuses it keeps its outcome and is marked `camunda_refuses`: Stageflow accepts what Camunda rejects)."""
    wanted = REFUSED if expected.kind == "refusal" else RUNTIME_ERROR
    text = f"{result.reason or ''}\n{result.message or ''}"
    if result.outcome == wanted and re.search(expected.match, text):
        result.outcome = REFUSED_AS_CAMUNDA if wanted == REFUSED else ERROR_AS_CAMUNDA
        result.expected = expected.test
    elif result.outcome in (ENDED, WAITS):
        if expected.kind == "refusal":
            result.camunda_refuses = expected.test
            result.reason = f"Camunda refuses it ({expected.test}: {expected.evidence})"
    else:
        result.reason = f"{result.reason} (Camunda's {expected.test} expects a {expected.kind}, not this one)"


def _run(engine: Engine, clock: VirtualClock, path: Path, companions: list[Path], info: ModelInfo,
         driver: _Driver, result: FileResult, start_variables: dict[str, Any]) -> None:
    result.deployed_with = [p.name for p in companions]
    files = [(p.name, p.read_bytes()) for p in [path, *companions]]
    try:
        deployment = engine.definitions.deploy(files, name="conformance")
    except DefinitionError as err:
        result.outcome = REFUSED
        result.reason = refusal_category(err.reason)
        result.message = _first_line(err.message)
        result.error_file, result.error_element, result.error_line = err.file, err.element_id, err.line
        if err.file and err.file != path.name:
            result.reason += " (in a called file)"
        return
    own = {d.id: d.key for d in deployment.definitions if d.resource == path.name}
    keys = [k for k in info.none_start if k in own.values()]
    for key in keys:
        engine.instances.start(key, user=WORKER, variables=dict(start_variables) or None)
        result.start_variables = sorted(start_variables)
        result.started.append(key)
    if not keys and not (info.timer_start and _start_by_timer(engine, clock, set(own), result)):
        if own and info.start_waits and not info.timer_start:
            # Deployed, and its processes start when a message, a signal or a change of variables comes: no
            # instance exists until a client sends one, as in Camunda.
            result.outcome = WAITS
            result.reason = "start event waits"
            result.elements = sorted({f"{w} (start)" for w in info.start_waits})
            return
        result.outcome = NOT_STARTED
        kinds = "/".join(sorted(info.other_starts)) or "no"
        result.reason = "no executable process" if not own else f"{kinds} start event only"
        return
    if not engine.instances.count():
        result.outcome = NOT_STARTED
        result.reason = "the start created no instance (a timer start job that did not fire)"
        return
    driver.run(result)


def _start_by_timer(engine: Engine, clock: VirtualClock, definition_ids: set[str], result: FileResult) -> bool:
    """Fire the earliest timer start event of the file's processes once; False when there is none."""
    jobs = [j for j in engine.jobs.list(max_results=1000) if j.get("jobType") == "timer-start" and j.get("dueDate")
            and j.get("processDefinitionId") in definition_ids]
    if not jobs:
        return False
    job = min(jobs, key=lambda j: _parse_iso(j["dueDate"]))
    due = _parse_iso(job["dueDate"]) + _NUDGE
    if clock.now() < due:
        clock.set(due)
    engine.jobs.execute(job["id"])
    result.started.append(f"timer {job.get('activityId')}")
    return True


# -- the whole folder ------------------------------------------------------------------------------------------
@dataclass
class Summary:
    """Counts per outcome (all files and those that need no Java code) and the commonest reasons."""

    folder: str
    results: list[FileResult]
    seconds: float
    out: str | None = None

    def counts(self, no_java_only: bool = False) -> dict[str, int]:
        counter = Counter(r.outcome for r in self.results if not (no_java_only and r.needs_java))
        return {o: counter.get(o, 0) for o in OUTCOMES}

    def reasons(self, top: int = 15) -> list[tuple[str, int, int]]:
        """(outcome: reason, files, of which no-Java files), commonest first."""
        counter: Counter[str] = Counter()
        no_java: Counter[str] = Counter()
        for r in self.results:
            if r.outcome in (ENDED, WAITS, *AS_CAMUNDA) or not r.reason:
                continue
            label = f"{r.outcome}: {r.reason}"
            counter[label] += 1
            no_java[label] += 0 if r.needs_java else 1
        return [(label, n, no_java[label]) for label, n in counter.most_common(top)]

    def share(self, no_java_only: bool = False, *, also: tuple[str, ...] = ()) -> float:
        """The share of files that ended or wait for a message or signal (and those with an outcome in `also`,
        such as `refused-as-camunda`)."""
        counts = self.counts(no_java_only)
        total = sum(counts.values())
        return sum(counts[o] for o in (ENDED, WAITS, *also)) / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        all_counts, nj_counts = self.counts(), self.counts(True)
        return {
            "folder": self.folder, "files": sum(all_counts.values()), "noJavaFiles": sum(nj_counts.values()),
            "seconds": round(self.seconds, 1), "out": self.out,
            "startedWithVariables": sum(bool(r.start_variables) for r in self.results),
            "givenTaskVariables": sum(bool(r.task_variables) for r in self.results),
            "endedOrWaitsThoughCamundaRefuses": {
                "all": sum(bool(r.camunda_refuses) for r in self.results),
                "noJava": sum(bool(r.camunda_refuses) for r in self.results if not r.needs_java)},
            "deployedAsTheirTest": sum(bool(r.test) for r in self.results),
            "counts": {"all": all_counts, "noJava": nj_counts},
            "endedOrWaits": {"all": round(self.share(), 4), "noJava": round(self.share(True), 4)},
            "endedOrWaitsOrRefusedAsCamunda": {
                "all": round(self.share(also=(REFUSED_AS_CAMUNDA,)), 4),
                "noJava": round(self.share(True, also=(REFUSED_AS_CAMUNDA,)), 4)},
            "endedOrWaitsOrAsCamunda": {"all": round(self.share(also=AS_CAMUNDA), 4),
                                        "noJava": round(self.share(True, also=AS_CAMUNDA), 4)},
            "reasons": [{"reason": label, "files": n, "noJavaFiles": nj} for label, n, nj in self.reasons()],
        }

    def to_text(self) -> str:
        all_counts, nj_counts = self.counts(), self.counts(True)
        width = max(len(o) for o in OUTCOMES) + 2
        lines = [f"conformance of {self.folder}: {sum(all_counts.values())} files, "
                 f"{sum(nj_counts.values())} need no Java code ({self.seconds:.0f} s)", "",
                 f"{'outcome'.ljust(width)}{'all':>6}{'no-Java':>9}"]
        for o in OUTCOMES:
            lines.append(f"{o.ljust(width)}{all_counts[o]:>6}{nj_counts[o]:>9}")
        lines.append(f"{'total'.ljust(width)}{sum(all_counts.values()):>6}{sum(nj_counts.values()):>9}")
        figures = [("ended + waits", ()), ("  + refused-as-camunda", (REFUSED_AS_CAMUNDA,)),
                   ("  + error-as-camunda", AS_CAMUNDA)]
        for label, also in figures:
            lines.append(f"{label.ljust(width)}{self.share(also=also):>6.1%}{self.share(True, also=also):>9.1%}")
        lenient = [r for r in self.results if r.camunda_refuses]
        if lenient:
            no_java = sum(not r.needs_java for r in lenient)
            lines.append(f"({len(lenient)} ended or waiting files, {no_java} without Java code, are refused by "
                         "Camunda's own test: Stageflow accepts what Camunda rejects)")
        supplied = sum(bool(r.start_variables) for r in self.results)
        given = sum(bool(r.task_variables) for r in self.results)
        if supplied or given:
            lines.append(f"({supplied} files started with the variables their test passes, {given} given the "
                         "variables their test sets at a task)")
        lines += ["", "commonest reasons (files, of which no-Java)"]
        lines += [f"{n:>5} {nj:>5}  {label}" for label, n, nj in self.reasons()]
        if self.out:
            lines += ["", f"per-file results: {self.out}"]
        return "\n".join(lines) + "\n"


def run_conformance(folder: Path, *, files: list[Path] | None = None, out: Path | None = None,
                    max_steps: int = 200, time_limit: float | None = 30.0, progress: IO[str] | None = None,
                    progress_every: int = 50,
                    start_variables: dict[str, dict[str, Any] | FileSetup] | None = None,
                    deployments: dict[str, Deployment] | None = None,
                    expected: dict[str, ExpectedFailure] | None = None) -> Summary:
    """Run every model file under `folder` (or just `files`); write one JSON line per file to `out`.

    Each mapping is keyed by a file's path relative to `folder`: `start_variables` the variables its test starts
    its instances with and gives its tasks (see `read_start_variables`), `deployments` the files its test
    deploys with it (`read_deployments`), `expected` the failure its Camunda test expects
    (`read_expected_failures`). A file missing from them starts with no variables and is deployed with the
    files of its folder that define what it calls.
    """
    from .store import Database

    folder = folder.resolve()
    paths = [p.resolve() for p in files] if files is not None else model_files(folder)
    index = _FolderIndex()
    results: list[FileResult] = []
    started = time.monotonic()
    quiet = logging.getLogger("stageflow")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # failing scripts and incidents are results here, not log noise
    sink = out.open("w", encoding="utf-8") if out is not None else None
    try:
        with tempfile.TemporaryDirectory(prefix="stageflow-conformance-") as tmp:
            template = Path(tmp) / "template.db"
            db = Database(f"sqlite:///{template}")
            db.upgrade()
            db.dispose()
            for n, path in enumerate(paths, 1):
                name = path.relative_to(folder).as_posix()
                result = run_file(path, folder, index, template, Path(tmp), max_steps=max_steps,
                                  time_limit=time_limit, start_variables=(start_variables or {}).get(name),
                                  deployment=(deployments or {}).get(name), expected=(expected or {}).get(name))
                results.append(result)
                if sink is not None:
                    sink.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
                if progress is not None and (n % progress_every == 0 or n == len(paths)):
                    counts = Counter(r.outcome for r in results)
                    print(f"[{n}/{len(paths)}] {time.monotonic() - started:.0f} s  "
                          + "  ".join(f"{o}={counts[o]}" for o in OUTCOMES if counts[o]), file=progress, flush=True)
    finally:
        quiet.setLevel(level)
        if sink is not None:
            sink.close()
    return Summary(str(folder), results, time.monotonic() - started, str(out) if out is not None else None)


def read_start_variables(path: Path) -> dict[str, FileSetup]:
    """The start variables file: `{"files": {"RELATIVE/PATH.bpmn20.xml": ENTRY, ...}}`, where an ENTRY is
    `{"start": {"name": value}, "tasks": {"TASK_KEY": {"name": value}}, "timersFirst": true, "test": "Class.method"}`
    (every key optional) or, the short form, just the start variables `{"name": value}`.

    Made for a corpus of test models whose tests start the process with variables (Camunda's engine tests pass
    them to `startProcessInstanceByKey`) and set variables before they complete a task (`taskService.complete(id,
    variables)`, or `runtimeService.setVariable` on the task's instance): with them, a model that reads
    `${input}` at its first gateway runs as its test runs it instead of failing on a variable nobody set. Only
    what the test itself gives belongs there; a date is an ISO 8601 string, a Java bean a JSON object of its
    properties.
    """
    files = _read_json_files(path, "start variables")
    out: dict[str, FileSetup] = {}
    for name, entry in files.items():
        setup = _setup(entry)
        if not all(isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))
                   for v in setup.tasks.values()):
            raise BadRequest(f'start variables file {path}: "{name}": "tasks" maps a task key to its variables '
                             "(or to a list of them, one per completion)")
        out[name] = setup
    return out


def main(folder: str, *, out: str | None, as_json: bool, max_steps: int = 200, time_limit: float = 30.0,
         start_variables: str | None = None, deployments: str | None = None,
         expected_failures: str | None = None) -> int:
    """The `stageflow conformance` command: run the folder, print the summary (text or JSON)."""
    root = Path(folder)
    if not root.is_dir():
        raise BadRequest(f"{folder} is not a folder")
    variables = read_start_variables(Path(start_variables)) if start_variables else None
    together = read_deployments(Path(deployments)) if deployments else None
    expected = read_expected_failures(Path(expected_failures)) if expected_failures else None
    summary = run_conformance(root, out=Path(out or "conformance-results.jsonl"), max_steps=max_steps,
                              time_limit=time_limit, progress=sys.stderr, start_variables=variables,
                              deployments=together, expected=expected)
    if as_json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(summary.to_text(), end="")
    return 0
