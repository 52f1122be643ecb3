"""Deployments and process definitions: check, version, store, and compile BPMN/DMN files."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from .clock import Clock
from .dialect import BPMN_NS, Dialect, ProcessInfo, is_executable
from .dmn import parse_dmn
from .errors import BadRequest, DefinitionError, InUse, NotFound
from .ids import new_id
from .sandbox import ScriptSandbox
from .spiff import CompiledProcess, Document, compile_process
from .store import Database
from .store import models as m
from .store.fastpath import FastStatement
from .views import DecisionView, DefinitionView, DeploymentView, ResourceView
from .xmlsafe import parse_xml

DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
)


@dataclass
class _Checked:
    """One uploaded file after parsing and the dialect pass."""

    name: str
    content: bytes
    digest: str
    document: Document | None  # None: a file deployed as a plain resource (a form, a script, an image)
    processes: list[ProcessInfo]
    decisions: list[tuple[str, str | None]]


MODEL_SUFFIXES = (".bpmn", ".dmn", ".bpmn20.xml", ".dmn11.xml", ".xml")  # files read as BPMN or DMN


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Definitions:
    """The repository service: deploy files, list and read definitions, compile them for running."""

    def __init__(self, db: Database, clock: Clock, sandbox: ScriptSandbox, *, max_bytes: int,
                 cache_size: int = 256) -> None:
        self.db = db
        self.clock = clock
        self.sandbox = sandbox
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, CompiledProcess] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        # per definition: its call activities' bindings; per (definition, bound ids): the specs (None: as deployed)
        self._calls: dict[str, dict[str, tuple[str, str | None]]] = {}
        self._variants: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], CompiledProcess | None] = OrderedDict()
        self._rows: dict[str, Any] = {}  # definition id -> its row (see `_row`)

    # -- deploy ---------------------------------------------------------------------------------------------
    def deploy_files(self, paths: list[str | Path], *, name: str | None = None,
                     source: str | None = "stageflow deploy") -> DeploymentView:
        """Deploy files from disk as one deployment."""
        files = []
        for path in paths:
            p = Path(path)
            try:
                files.append((p.name, p.read_bytes()))
            except OSError as err:
                raise DefinitionError(f"cannot read the file: {err.strerror}", file=str(path))
        return self.deploy(files, name=name, source=source)

    def deploy(self, files: list[tuple[str, bytes]], *, name: str | None = None, source: str | None = None,
               changed_only: bool = True, whole: bool = False) -> DeploymentView:
        """Check every file, then store what changed as one deployment; nothing is stored if any file fails.

        A process gets a new version when its file's content differs from the one its latest version came
        from (with a deployment `name`, its latest version from a deployment of that name and `source`, as
        Camunda's duplicate filtering). With `whole`, one changed file deploys them all (Camunda's
        `enable-duplicate-filtering` without `deploy-changed-only`); without `changed_only`, every file is
        deployed. When nothing changed, no deployment is created and the latest definitions are returned.
        Deployments run one at a time, so that two deploying the same file at once make one version.
        """
        if not files:
            raise DefinitionError("a deployment needs at least one file")
        names = [n for n, _ in files]
        labelled = [("deployment name", name), ("deployment source", source), *(("file name", n) for n in names)]
        for what, text in labelled:
            if text is not None and len(text) > 255:
                raise DefinitionError(f"the {what} is too long ({len(text)} characters): at most 255")
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise DefinitionError("the same file name twice in one deployment", file=sorted(dupes)[0])
        checked = [self._check(fname, content) for fname, content in files]
        self._check_unique_keys(checked)
        now = self.clock.now()
        with self.db.write() as session:
            self.db.serialize(session, "stageflow deployment")  # versions are counted from what is committed
            deployment_id = new_id()
            resources: dict[str, m.Resource] = {}
            for item in checked:
                resources[item.name] = m.Resource(id=new_id(), deployment_id=deployment_id,
                                                  name=item.name, content=item.content, content_hash=item.digest)
            new_defs, new_decisions, unchanged_defs, unchanged_decisions = [], [], [], []
            plans = []
            same = dict(deployment_name=name, source=source) if name is not None else {}
            decision_plans = []
            for item in checked:
                for proc in item.processes:
                    earlier = _latest(session, m.ProcessDefinition, proc.process_id, **same) if changed_only else None
                    if earlier is not None and earlier.content_hash == item.digest:
                        unchanged_defs.append(earlier)
                    else:
                        plans.append((item, proc))
                for decision_id, decision_name in item.decisions:
                    earlier = _latest(session, m.DecisionDefinition, decision_id, **same) if changed_only else None
                    if earlier is not None and earlier.content_hash == item.digest:
                        unchanged_decisions.append(earlier)
                    else:
                        decision_plans.append((item, decision_id, decision_name))
            if whole and (plans or decision_plans or self._new_resources(session, checked, name, source)):
                # Camunda's duplicate filtering without deploy-changed-only: one changed file deploys them all
                plans = [(item, proc) for item in checked for proc in item.processes]
                decision_plans = [(item, d, n) for item in checked for d, n in item.decisions]
                unchanged_defs, unchanged_decisions = [], []
            plans = [(item, proc, _latest(session, m.ProcessDefinition, proc.process_id)) for item, proc in plans]
            for item, decision_id, decision_name in decision_plans:
                latest = _latest(session, m.DecisionDefinition, decision_id)
                version = (latest.version + 1) if latest else 1
                new_decisions.append(m.DecisionDefinition(
                    id=_definition_id(decision_id, version), key=decision_id, version=version,
                    name=decision_name, deployment_id=deployment_id, resource_name=item.name,
                    content_hash=item.digest))
            if not plans and not new_decisions and not (
                    not changed_only and any(item.document is None for item in checked)
                    or self._new_resources(session, checked, name, source)):
                latest_dep = unchanged_defs[0].deployment_id if unchanged_defs else (
                    unchanged_decisions[0].deployment_id if unchanged_decisions else None)
                if name is not None:  # as Camunda answers: the latest deployment of that name
                    latest_dep = session.scalar(select(m.Deployment.id).where(m.Deployment.name == name).order_by(
                        m.Deployment.deployed_at.desc(), m.Deployment.id.desc()).limit(1)) or latest_dep
                dep = session.get(m.Deployment, latest_dep) if latest_dep else None
                return DeploymentView(
                    id=dep.id if dep else "", name=dep.name if dep else name, source=dep.source if dep else source,
                    deployment_time=dep.deployed_at if dep else now, created=False,
                    definitions=[DefinitionView.of(d) for d in unchanged_defs],
                    decisions=[DecisionView.of(d) for d in unchanged_decisions])
            session.add(m.Deployment(id=deployment_id, name=name, source=source, deployed_at=now))
            session.flush()
            session.add_all(resources.values())
            session.add_all(new_decisions)
            session.flush()
            for item, proc, latest in plans:
                message_starts = _start_names(item, proc, "message")
                _check_message_starts_free(session, item, proc.process_id, message_starts)
                needed = self._dependencies(session, item, proc, checked, resources)
                compiled = self._compile(proc.process_id, [self._document_of(session, rid, checked, resources)
                                                           for rid in needed])
                version = (latest.version + 1) if latest else 1
                definition = m.ProcessDefinition(
                    id=_definition_id(proc.process_id, version), key=proc.process_id, version=version,
                    name=proc.name, version_tag=proc.version_tag, deployment_id=deployment_id,
                    resource_name=item.name, content_hash=item.digest, suspended=False,
                    startable=not (proc.message_starts or proc.signal_starts or proc.timer_starts)
                    or bool(_none_starts(item, proc)),
                    has_start_form=bool(proc.start_form),
                    description={"resources": needed, "category": proc.category,
                                 "historyTimeToLive": proc.history_time_to_live,
                                 "startableInTasklist": proc.startable_in_tasklist,
                                 "messageStarts": message_starts,
                                 "signalStarts": _start_names(item, proc, "signal"),
                                 "timerStarts": [list(spec) for spec in proc.timer_start_specs]},
                )
                session.add(definition)
                session.flush()
                self._remember(definition.id, compiled)
                self._replace_start_subscriptions(session, definition, now)
                new_defs.append(definition)
            return DeploymentView(
                id=deployment_id, name=name, source=source, deployment_time=now, created=True,
                definitions=[DefinitionView.of(d) for d in new_defs + unchanged_defs],
                decisions=[DecisionView.of(d) for d in new_decisions + unchanged_decisions])

    def _check(self, name: str, content: bytes) -> _Checked:
        if not name.lower().endswith(MODEL_SUFFIXES):
            # as Camunda: a form (`.form`), a script or an image goes with the diagrams as a resource, unparsed
            if len(content) > self.max_bytes:
                raise DefinitionError(f"the file is larger than {self.max_bytes} bytes", file=name)
            return _Checked(name, content, sha256(content), None, [], [])
        tree = parse_xml(content, name, max_bytes=self.max_bytes)
        root = tree.getroot()
        namespace = etree.QName(root).namespace
        if namespace in DMN_NAMESPACES:
            parsed = parse_dmn(tree, name)
            if not parsed:
                raise DefinitionError("the DMN file defines no decision", file=name, line=root.sourceline)
            decisions = [(d.id, d.name) for d in parsed.values()]
            return _Checked(name, content, sha256(content), Document(name, tree, True, decisions=parsed), [],
                            decisions)
        if namespace != BPMN_NS:
            raise DefinitionError(f"not a BPMN or DMN document (root element {root.tag})", file=name,
                                  line=root.sourceline)
        processes = Dialect(tree, name, self.sandbox).process()
        elements = {}
        for proc in processes:
            elements.update(proc.elements)
        return _Checked(name, content, sha256(content), Document(name, tree, False, elements), processes, [])

    @staticmethod
    def _new_resources(session: Session, checked: list[_Checked], name: str | None, source: str | None) -> bool:
        """Whether a plain resource of the deployment (a form, ...) is new or changed since the latest file of its
        name (in a deployment of the same `name` and `source`, when a name is given), so that it is deployed even
        beside unchanged diagrams."""
        for item in checked:
            if item.document is not None:
                continue
            query = (select(m.Resource.content_hash).join(m.Deployment, m.Deployment.id == m.Resource.deployment_id)
                     .where(m.Resource.name == item.name))
            if name is not None:
                query = query.where(m.Deployment.name == name, _same_source(source))
            if session.scalars(query.order_by(m.Deployment.deployed_at.desc()).limit(1)).first() != item.digest:
                return True
        return False

    def _check_unique_keys(self, checked: list[_Checked]) -> None:
        seen: dict[str, str] = {}
        for item in checked:
            for proc in item.processes:
                if proc.process_id in seen:
                    raise DefinitionError(f"process id '{proc.process_id}' is also defined in {seen[proc.process_id]}",
                                          file=item.name, element_id=proc.process_id, line=proc.line)
                seen[proc.process_id] = item.name

    def _dependencies(self, session: Session, item: _Checked, proc: ProcessInfo, checked: list[_Checked],
                      resources: dict[str, m.Resource],
                      pick: Callable[[str], m.ProcessDefinition | None] | None = None) -> list[str]:
        """Resource ids needed to compile `proc`: its file, the files of what it calls, and DMN files. A called
        process deployed before is its latest version, or the one `pick` gives for its key."""
        needed = [resources[item.name].id]
        pending_calls = set(proc.called_elements)
        if proc.dynamic_calls:  # a calledElement expression may name any process deployed with this file
            pending_calls |= {p.process_id for c in checked for p in c.processes}
        pending_decisions = set(proc.decision_refs)
        done_calls: set[str] = {proc.process_id}
        local_keys = {p.process_id for p in item.processes}
        while pending_calls or pending_decisions:
            if pending_calls:
                key = pending_calls.pop()
                if key in done_calls:
                    continue
                done_calls.add(key)
                found = next((c for c in checked for p in c.processes if p.process_id == key), None)
                if found is not None:
                    rid = resources[found.name].id
                    called = next(p for p in found.processes if p.process_id == key)
                    pending_calls |= called.called_elements
                    if called.dynamic_calls:
                        pending_calls |= {p.process_id for c in checked for p in c.processes}
                    pending_decisions |= called.decision_refs
                elif key in local_keys:
                    continue
                else:
                    latest = (pick(key) if pick is not None else None) or _latest(session, m.ProcessDefinition, key)
                    if latest is None:
                        raise self._unknown(item, proc, "calledElement", key, "process")
                    deps = latest.description.get("resources", [])
                    for dep in deps:
                        if dep not in needed:
                            needed.append(dep)
                    continue
                if rid not in needed:
                    needed.append(rid)
            else:
                ref = pending_decisions.pop()
                found = next((c for c in checked for d, _ in c.decisions if d == ref), None)
                if found is not None:
                    rid = resources[found.name].id
                else:
                    latest = _latest(session, m.DecisionDefinition, ref)
                    if latest is None:
                        raise self._unknown(item, proc, "decisionRef", ref, "decision")
                    rid = _resource_id(session, latest.deployment_id, latest.resource_name)
                if rid not in needed:
                    needed.append(rid)
        return needed

    def _unknown(self, item: _Checked, proc: ProcessInfo, attr: str, ref: str, what: str) -> DefinitionError:
        element = next((e for e in proc.elements.values()
                        if e.called_element == ref or e.decision_ref == ref), None)
        line = None
        if element is not None:
            found = item.document.tree.getroot().xpath("//*[@id=$id]", id=element.element_id)
            line = found[0].sourceline if found else None
        return DefinitionError(f"{attr} '{ref}' names no deployed {what} (deploy it first or in the same "
                               "deployment)", file=item.name,
                               element_id=element.element_id if element else proc.process_id, line=line)

    def _document_of(self, session: Session, resource_id: str, checked: list[_Checked],
                     resources: dict[str, m.Resource]) -> Document:
        for item in checked:
            if resources[item.name].id == resource_id:
                return item.document
        row = session.get(m.Resource, resource_id)
        return self._check(row.name, row.content).document

    def _compile(self, key: str, documents: list[Document]) -> CompiledProcess:
        return compile_process(key, documents)

    def _replace_start_subscriptions(self, session: Session, definition: m.ProcessDefinition, now) -> None:  # type: ignore[no-untyped-def]
        older = select(m.ProcessDefinition.id).where(m.ProcessDefinition.key == definition.key,
                                                     m.ProcessDefinition.id != definition.id)
        session.execute(delete(m.EventSubscription).where(m.EventSubscription.definition_id.in_(older),
                                                          m.EventSubscription.instance_id.is_(None)))
        for kind, key in (("message", "messageStarts"), ("signal", "signalStarts")):
            for element_id, event_name in definition.description.get(key, []):
                session.add(m.EventSubscription(id=new_id(), event_type=kind, name=event_name,
                                                instance_id=None, definition_id=definition.id,
                                                element_id=element_id, created_at=now))
        # Timer start events: one job per event, rescheduled after each start while a cycle lasts. A new
        # version replaces the timers of the older ones, as in Camunda.
        session.execute(delete(m.Job).where(m.Job.definition_id.in_(older), m.Job.job_type == "timer-start"))
        for element_id, kind, text in definition.description.get("timerStarts", []):
            due, repeat = first_timer_start(kind, text, now)
            if due is not None:
                session.add(m.Job(id=new_id(), job_type="timer-start", instance_id=None,
                                  definition_id=definition.id, element_id=element_id, task_id=None, due_at=due,
                                  timer_kind=kind, repeat=repeat, retries=3, created_at=now, suspended=False))

    # -- compile for running --------------------------------------------------------------------------------
    def compiled(self, session: Session, definition_id: str,
                 bindings: dict[str, str] | None = None) -> CompiledProcess:
        """The runnable specs of a definition, from the in-process cache or compiled from stored files; with the
        `bindings` an instance keeps (see `bound`), with those versions of the processes it calls."""
        if bindings:
            variant = self._variant(session, definition_id, bindings)
            if variant is not None:
                return variant
        with self._lock:
            hit = self._cache.get(definition_id)
            if hit is not None:
                self._cache.move_to_end(definition_id)
                return hit
        row = session.get(m.ProcessDefinition, definition_id)
        if row is None:
            raise NotFound(f"process definition '{definition_id}' not found")
        documents = []
        for rid in row.description.get("resources", []):
            res = session.get(m.Resource, rid)
            documents.append(self._check(res.name, res.content).document)
        compiled = self._compile(row.key, documents)
        self._remember(definition_id, compiled)
        return compiled

    def bound(self, session: Session, definition_id: str) -> tuple[CompiledProcess, dict[str, str] | None]:
        """The specs an instance starting now runs, with the processes it calls bound now as
        `calledElementBinding` says (`latest` by default: the latest version; `version` or `versionTag`: that one;
        `deployment`: as deployed). Camunda binds when the call activity runs; here an instance binds at its start.
        (compiled, None) when that is the definition as deployed; else specs compiled with the called versions it
        bound, and their ids, which the instance keeps so that every later load of it runs the same
        (`compiled(..., bindings)`). A process that calls none costs nothing more."""
        compiled = self.compiled(session, definition_id)
        calls = self._calls_of(session, definition_id, compiled)
        if not calls:
            return compiled, None
        ids = {}
        for key, (binding, value) in calls.items():
            found = _bound_definition(session, key, binding, value)
            if found is None:
                what = {"version": f" version {value}", "versionTag": f" with version tag '{value}'"}.get(binding, "")
                raise BadRequest(f"process '{key}'{what}, which definition '{definition_id}' calls, is not deployed")
            ids[key] = found
        variant = self._variant(session, definition_id, ids)
        return (compiled, None) if variant is None else (variant, ids)

    def for_instance(self, session: Session, definition_id: str, instance_id: str | None) -> CompiledProcess:
        """The specs an instance of `definition_id` runs (with the called versions it bound, see `bound`)."""
        compiled = self.compiled(session, definition_id)
        if instance_id is None or not self._calls_of(session, definition_id, compiled):
            return compiled
        bindings = session.scalar(select(m.ProcessInstance.bindings).where(m.ProcessInstance.id == instance_id))
        return self.compiled(session, definition_id, bindings) if bindings else compiled

    def _calls_of(self, session: Session, definition_id: str,
                  compiled: CompiledProcess) -> dict[str, tuple[str, str | None]]:
        """The processes a definition's own call activities call by name, with their binding (not `deployment`)."""
        calls = self._calls.get(definition_id)
        if calls is None:
            own_file = session.scalar(select(m.ProcessDefinition.resource_name)
                                      .where(m.ProcessDefinition.id == definition_id))
            calls = {}
            for (file, _), info in compiled.elements.items():
                if (info.tag == "callActivity" and info.called_element and not info.called_expression
                        and file in (own_file, None) and info.called_binding != "deployment"):
                    calls.setdefault(info.called_element, (info.called_binding, info.called_version))
            with self._lock:
                self._calls[definition_id] = calls
        return calls

    def _variant(self, session: Session, definition_id: str, ids: dict[str, str]) -> CompiledProcess | None:
        """The specs of a definition with the called processes of `ids` (key -> definition id); None when they are
        the ones it was deployed with."""
        key = (definition_id, tuple(sorted(ids.items())))
        with self._lock:
            if key in self._variants:
                self._variants.move_to_end(key)
                return self._variants[key]
        row = session.get(m.ProcessDefinition, definition_id)
        if row is None:
            raise NotFound(f"process definition '{definition_id}' not found")
        deployed = row.description.get("resources", [])
        own = session.get(m.Resource, deployed[0])
        item = self._check(own.name, own.content)
        proc = next(p for p in item.processes if p.process_id == row.key)
        needed = self._dependencies(session, item, proc, [item], {item.name: own},
                                    pick=lambda k: session.get(m.ProcessDefinition, ids[k]) if k in ids else None)
        variant = None
        if set(needed) != set(deployed):  # the same files, maybe found in another order: as deployed
            variant = self._compile(row.key, [self._document_of(session, rid, [item], {item.name: own})
                                              for rid in needed])
        with self._lock:
            self._variants[key] = variant
            while len(self._variants) > self._cache_size:
                self._variants.popitem(last=False)
        return variant

    def _remember(self, definition_id: str, compiled: CompiledProcess) -> None:
        with self._lock:
            self._cache[definition_id] = compiled
            self._cache.move_to_end(definition_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # -- queries --------------------------------------------------------------------------------------------
    def list(self, *, key: str | None = None, latest_only: bool = False, first: int = 0,
             max_results: int = 100, sorting: list[tuple[str, str]] | None = None,
             **filters: Any) -> list[DefinitionView]:
        """Definitions, newest version first within a key (or by Camunda's `sorting`); `latest_only` keeps the
        newest of each key; `filters`: see `queries.definition_conditions`."""
        from .queries import DEFINITION_SORT, order_by

        with self.db.read() as session:
            query = self._query(key, latest_only, filters)
            query = query.order_by(*order_by(sorting, DEFINITION_SORT, "process definitions"),
                                   m.ProcessDefinition.key, m.ProcessDefinition.version.desc())
            rows = session.scalars(query.offset(first).limit(min(max_results, 1000))).all()
            return [DefinitionView.of(r) for r in rows]

    def count(self, *, key: str | None = None, latest_only: bool = False, **filters: Any) -> int:
        """How many definitions match (the filters of `list`), counted in SQL."""
        with self.db.read() as session:
            query = self._query(key, latest_only, filters)
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    @staticmethod
    def _query(key: str | None, latest_only: bool, filters: dict[str, Any]) -> Any:
        from .queries import definition_conditions, latest_versions

        query = select(m.ProcessDefinition).where(*definition_conditions(filters))
        if key:
            query = query.where(m.ProcessDefinition.key == key)
        if latest_only:
            query = latest_versions(query, m.ProcessDefinition)
        return query

    def get(self, definition_id: str) -> DefinitionView:
        with self.db.read() as session:
            row = session.get(m.ProcessDefinition, definition_id)
            if row is None:
                raise NotFound(f"process definition '{definition_id}' not found")
            return DefinitionView.of(row)

    def latest(self, key: str) -> DefinitionView:
        with self.db.read() as session:
            row = _latest(session, m.ProcessDefinition, key)
            if row is None:
                raise NotFound(f"no process definition with key '{key}'")
            return DefinitionView.of(row)

    def resolve(self, session: Session, key_or_id: str, version: int | None = None) -> m.ProcessDefinition:
        """A definition row by id, or by key (latest version unless `version` is given)."""
        if version is None:
            found = _RESOLVE.first(session, {"ref": key_or_id})
            if found is not None and found.id is not None:
                return self._row(session, found.id)
        row = session.get(m.ProcessDefinition, key_or_id)
        if row is not None:
            return row
        if version is not None:
            row = session.scalars(select(m.ProcessDefinition).where(
                m.ProcessDefinition.key == key_or_id, m.ProcessDefinition.version == version)).first()
            if row is None:
                raise NotFound(f"process '{key_or_id}' has no version {version}")
            return row
        row = _latest(session, m.ProcessDefinition, key_or_id)
        if row is None:
            raise NotFound(f"no process definition with key or id '{key_or_id}'")
        return row

    def _row(self, session: Session, definition_id: str) -> Any:
        """A definition's row (its columns as a named tuple, no ORM bookkeeping), read once per process: nothing
        changes a definition once deployed (a deletion removes it, and the query that names its id finds none)."""
        row = self._rows.get(definition_id)
        if row is None:
            row = _BY_ID.first(session, {"ref": definition_id})
            if row is None:
                raise NotFound(f"process definition '{definition_id}' not found")
            if len(self._rows) >= 4 * self._cache_size:
                self._rows.clear()
            self._rows[definition_id] = row
        return row

    def xml(self, definition_id: str) -> bytes:
        """The BPMN file a definition came from, as deployed."""
        with self.db.read() as session:
            row = session.get(m.ProcessDefinition, definition_id)
            if row is None:
                raise NotFound(f"process definition '{definition_id}' not found")
            return session.get(m.Resource, row.description["resources"][0]).content

    def start_form(self, session: Session, definition_id: str) -> list:  # type: ignore[type-arg]
        compiled = self.compiled(session, definition_id)
        start = compiled.spec.start
        for task_spec in compiled.spec.task_specs.values():
            info = compiled.element(task_spec)
            if info is not None and info.tag == "startEvent" and task_spec in start.outputs:
                return info.form
        return []

    def start_form_key(self, definition_id: str) -> str | None:
        """The start event's `camunda:formKey` (a literal; an expression, which needs an instance, gives None)."""
        from .expressions import is_expression

        with self.db.read() as session:
            compiled = self.compiled(session, definition_id)
        for task_spec in compiled.spec.task_specs.values():
            info = compiled.element(task_spec)
            if info is not None and info.tag == "startEvent" and task_spec in compiled.spec.start.outputs:
                return info.form_key if info.form_key and not is_expression(info.form_key) else None
        return None

    def deployed_form(self, definition_id: str, form_key: str | None) -> tuple[str, bytes, str]:
        """The file a `camunda:formKey` such as `embedded:deployment:forms/claim.html` or
        `camunda-forms:deployment:claim.form` names, from the definition's deployment, as Camunda's
        `getDeployedTaskForm`: (its name, its bytes, its media type). A key of no deployed form is a `BadRequest`, a
        file the deployment lacks `NotFound`, in Camunda's words."""
        if not form_key:
            raise BadRequest("The form key is not set.")
        name = form_key
        for kind in ("embedded:", "camunda-forms:"):
            name = name.removeprefix(kind)
        if not name.startswith("deployment:"):
            raise BadRequest(f"The form key '{form_key}' does not reference a deployed form.")
        name = name.removeprefix("deployment:")
        with self.db.read() as session:
            deployment_id = session.scalar(select(m.ProcessDefinition.deployment_id)
                                           .where(m.ProcessDefinition.id == definition_id))
            if deployment_id is None:
                raise NotFound(f"process definition '{definition_id}' not found")
            content = session.scalar(select(m.Resource.content).where(m.Resource.deployment_id == deployment_id,
                                                                      m.Resource.name == name))
        if content is None:
            raise NotFound(f"The form with the resource name '{name}' cannot be found in deployment with id "
                           f"{deployment_id}")
        json_form = form_key.startswith("camunda-forms:") or name.endswith(".form")
        return name, bytes(content), "application/json" if json_form else "application/xhtml+xml"

    def start_form_fields(self, definition_id: str) -> list[dict[str, Any]]:
        """The start event's form fields (a default that is an expression is left out: it needs an instance)."""
        from .expressions import is_expression

        with self.db.read() as session:
            if session.get(m.ProcessDefinition, definition_id) is None:
                raise NotFound(f"process definition '{definition_id}' not found")
            fields = [f.to_json() for f in self.start_form(session, definition_id)]
        for fld in fields:
            if fld["defaultValue"] is not None and is_expression(fld["defaultValue"]):
                fld["defaultValue"] = None
        return fields

    def deployments(self, first: int = 0, max_results: int = 100, *, sorting: list[tuple[str, str]] | None = None,
                    **filters: Any) -> list[DeploymentView]:
        """Deployments, newest first (or by Camunda's `sorting`); `filters`: see `queries.deployment_conditions`."""
        from .queries import DEPLOYMENT_SORT, deployment_conditions, order_by

        with self.db.read() as session:
            query = select(m.Deployment).where(*deployment_conditions(filters))
            order = order_by(sorting, DEPLOYMENT_SORT, "deployments") or [m.Deployment.deployed_at.desc()]
            rows = session.scalars(query.order_by(*order, m.Deployment.id)
                                   .offset(first).limit(min(max_results, 1000))).all()
            return [DeploymentView(r.id, r.name, r.source, r.deployed_at, True) for r in rows]

    def count_deployments(self, **filters: Any) -> int:
        """How many deployments match (the filters of `deployments`), counted in SQL."""
        from .queries import deployment_conditions

        with self.db.read() as session:
            return session.scalar(select(func.count()).select_from(m.Deployment)
                                  .where(*deployment_conditions(filters))) or 0

    def deployment(self, deployment_id: str) -> DeploymentView:
        """A deployment with the definitions and decisions it created."""
        with self.db.read() as session:
            row = session.get(m.Deployment, deployment_id)
            if row is None:
                raise NotFound(f"deployment '{deployment_id}' not found")
            defs = session.scalars(select(m.ProcessDefinition).where(m.ProcessDefinition.deployment_id == row.id)
                                   .order_by(m.ProcessDefinition.key)).all()
            decisions = session.scalars(select(m.DecisionDefinition)
                                        .where(m.DecisionDefinition.deployment_id == row.id)).all()
            return DeploymentView(row.id, row.name, row.source, row.deployed_at, True,
                                  [DefinitionView.of(d) for d in defs], [DecisionView.of(d) for d in decisions])

    def resources(self, deployment_id: str) -> list[ResourceView]:
        """The files of a deployment, by name (Camunda's getDeploymentResources). `NotFound` in Camunda's words
        when the deployment has none, that is when it does not exist."""
        with self.db.read() as session:
            rows = session.execute(select(m.Resource.id, m.Resource.name, m.Resource.deployment_id)
                                   .where(m.Resource.deployment_id == deployment_id)
                                   .order_by(m.Resource.name, m.Resource.id)).all()
        if not rows:
            raise NotFound(f"Deployment resources for deployment id '{deployment_id}' do not exist.")
        return [ResourceView(*row) for row in rows]

    def resource(self, deployment_id: str, resource_id: str) -> ResourceView:
        """One file of a deployment; `NotFound` in Camunda's words for an unknown deployment or resource."""
        found = next((r for r in self.resources(deployment_id) if r.id == resource_id), None)
        if found is None:
            raise NotFound(f"Deployment resource with resource id '{resource_id}' for deployment id "
                           f"'{deployment_id}' does not exist.")
        return found

    def resource_data(self, deployment_id: str, resource_id: str) -> tuple[ResourceView, bytes]:
        """One file of a deployment and its bytes as uploaded."""
        with self.db.read() as session:
            row = session.execute(select(m.Resource.id, m.Resource.name, m.Resource.deployment_id,
                                         m.Resource.content)
                                  .where(m.Resource.deployment_id == deployment_id,
                                         m.Resource.id == resource_id)).first()
        if row is None:
            raise NotFound(f"Deployment resource '{resource_id}' for deployment id '{deployment_id}' does not "
                           "exist.")
        return ResourceView(row.id, row.name, row.deployment_id), bytes(row.content)

    def delete_deployment(self, deployment_id: str, *, cascade: bool = False) -> None:
        """Remove a deployment, its definitions and their timer-start jobs; with `cascade`, also the
        instances of its definitions. Without it, a deployment whose definitions have running instances is a
        `Conflict` and stays."""
        with self.db.write() as session:
            row = session.get(m.Deployment, deployment_id)
            if row is None:
                raise NotFound(f"deployment '{deployment_id}' not found")
            def_ids = list(session.scalars(select(m.ProcessDefinition.id)
                                           .where(m.ProcessDefinition.deployment_id == deployment_id)))
            instances = select(m.ProcessInstance.id).where(m.ProcessInstance.definition_id.in_(def_ids))
            if not cascade:
                running = session.scalar(select(func.count()).select_from(
                    instances.where(m.ProcessInstance.ended_at.is_(None)).subquery()))
                if running:
                    raise InUse(f"Deletion of process definition without cascading failed: deployment "
                                f"'{deployment_id}' has {running} running instance(s); delete them first or use "
                                "cascade")
            session.execute(delete(m.Job).where(m.Job.definition_id.in_(def_ids), m.Job.instance_id.is_(None)))
            session.execute(delete(m.EventSubscription).where(m.EventSubscription.definition_id.in_(def_ids),
                                                              m.EventSubscription.instance_id.is_(None)))
            session.execute(delete(m.ProcessInstance).where(m.ProcessInstance.id.in_(instances)))
            session.delete(row)
        with self._lock:
            for def_id in def_ids:
                self._cache.pop(def_id, None)


_PD = m.ProcessDefinition.__table__
# By id, or the latest version of a key: one indexed query, for the id only (the row itself is kept, see `_row`).
_BY_ID = FastStatement(select(_PD).where(_PD.c.id == bindparam("ref")))
# A definition by id, else the latest version of a key: two index lookups (the id's, then the last entry of the key's
# versions in the unique (key, version) index). One WHERE id = ... OR key = ... read every version of the key and
# sorted them, at every start by key.
_RESOLVE = FastStatement(select(func.coalesce(
    select(_PD.c.id).where(_PD.c.id == bindparam("ref")).scalar_subquery(),
    select(_PD.c.id).where(_PD.c.key == bindparam("ref")).order_by(_PD.c.version.desc()).limit(1).scalar_subquery(),
).label("id")))


def first_timer_start(kind: str, text: str, now: datetime) -> tuple[datetime | None, str | None]:
    """When a timer start event first fires, and the cycle left after it (None when it fires once)."""
    from .spiff.timers import parse_moment

    if kind != "cycle":
        due = parse_moment(text, now)
        return (due, None) if kind == "duration" or due >= now else (None, None)
    return next_cycle(text, now, first=True)


def next_cycle(text: str, now: datetime, *, first: bool = False) -> tuple[datetime | None, str | None]:
    """The next firing of cycle `text` (`R3/PT1H`, `R/2026-01-05T09:00:00Z/P1D`, or a cron expression such as
    `0 0/5 * * * ?`, which repeats for ever) and the cycle left after it."""
    from .spiff.timers import is_cron, next_cron, parse_moment

    if is_cron(text):
        due = next_cron(text, now)
        return (due, text) if due is not None else (None, None)
    parts = text.split("/")
    count = parts[0][1:]
    remaining = int(count) if count else -1
    if remaining == 0:
        return None, None
    if len(parts) == 3:  # R<n>/<start>/<duration>
        start, duration = parse_moment(parts[1], now), parts[2]
        due = start
        while due < now or (not first and due <= now):
            due = parse_moment(duration, due)
    else:
        due = parse_moment(parts[1], now)
        duration = parts[1]
    left = remaining - 1 if remaining > 0 else -1
    repeat = None if left == 0 else f"R{left if left > 0 else ''}/{due.isoformat()}/{duration}"
    return due, repeat


def _definition_id(key: str, version: int) -> str:
    """Camunda's `key:version:uuid`, or the bare uuid when that would pass 64 characters."""
    unique = new_id()
    full = f"{key}:{version}:{unique}"
    return full if len(full) <= 64 else unique


def _same_source(source: str | None) -> Any:
    """Deployments of `source` (Camunda compares a new deployment only with those of its own source)."""
    return m.Deployment.source.is_(None) if source is None else m.Deployment.source == source


def _latest(session: Session, model: type, key: str, *, deployment_name: str | None = None,  # type: ignore[no-untyped-def]
            source: str | None = None):
    """The latest version of `key`; with `deployment_name`, the latest one a deployment of that name and `source`
    made (what Camunda's duplicate filtering compares a new deployment with)."""
    query = select(model).where(model.key == key)
    if deployment_name is not None:
        query = query.join(m.Deployment, m.Deployment.id == model.deployment_id).where(
            m.Deployment.name == deployment_name, _same_source(source))
    return session.scalars(query.order_by(model.version.desc()).limit(1)).first()


def _bound_definition(session: Session, key: str, binding: str, value: str | None) -> str | None:
    """The id of the version of process `key` a call activity binds now (`latest`, `version`, `versionTag`)."""
    query = select(m.ProcessDefinition.id).where(m.ProcessDefinition.key == key)
    if binding == "version":
        if not (value and value.isascii() and value.isdigit()):
            return None
        query = query.where(m.ProcessDefinition.version == int(value))
    elif binding == "versionTag":
        query = query.where(m.ProcessDefinition.version_tag == value)
    return session.scalar(query.order_by(m.ProcessDefinition.version.desc()).limit(1))


def _resource_id(session: Session, deployment_id: str, name: str) -> str:
    return session.scalars(select(m.Resource.id).where(m.Resource.deployment_id == deployment_id,
                                                       m.Resource.name == name)).one()


def _start_names(item: _Checked, proc: ProcessInfo, kind: str) -> list[tuple[str, str]]:
    """(start event id, message or signal name) of the process's message or signal start events."""
    root = item.document.tree.getroot()
    ns = {"bpmn": BPMN_NS}
    out = []
    ids = proc.message_starts if kind == "message" else proc.signal_starts
    for element_id in ids:
        start = root.xpath("//bpmn:startEvent[@id=$id]", namespaces=ns, id=element_id)[0]
        definition = start.find(f"bpmn:{kind}EventDefinition", ns)
        ref = definition.get(f"{kind}Ref")
        name = None
        if ref:
            target = root.xpath(f"//bpmn:{kind}[@id=$id]", namespaces=ns, id=ref)
            name = target[0].get("name") if target else None
        out.append((element_id, name or start.get("name") or element_id))
    return out


def _check_message_starts_free(session: Session, item: _Checked, key: str, names: list[tuple[str, str]]) -> None:
    """A message start event (`names`: its id and message name, see `_start_names`) of process `key` whose message
    already starts another process (its latest version, deployed before or in this deployment) is refused, as
    Camunda 7 refuses it: one message name starts one process."""
    if names:
        session.flush()  # the subscriptions of a process deployed just before in this deployment
    for element_id, message in names:
        holder = session.scalar(
            select(m.ProcessDefinition.key)
            .join(m.EventSubscription, m.EventSubscription.definition_id == m.ProcessDefinition.id)
            .where(m.EventSubscription.event_type == "message", m.EventSubscription.name == message,
                   m.EventSubscription.instance_id.is_(None), m.ProcessDefinition.key != key)
            .limit(1))
        if holder is not None:
            start = item.document.tree.getroot().xpath("//bpmn:startEvent[@id=$id]", namespaces={"bpmn": BPMN_NS},
                                                       id=element_id)
            raise DefinitionError(f"there already is a message start event for the message with name '{message}': "
                                  f"it starts process '{holder}' (a message name starts one process, as in "
                                  "Camunda)", file=item.name, element_id=element_id,
                                  line=start[0].sourceline if start else None)


def _none_starts(item: _Checked, proc: ProcessInfo) -> list[str]:
    root = item.document.tree.getroot()
    ns = {"bpmn": BPMN_NS}
    process = root.xpath("//bpmn:process[@id=$id]", namespaces=ns, id=proc.process_id)[0]
    starts = process.iterfind("bpmn:startEvent", ns)
    return [s.get("id") for s in starts if not any(etree.QName(c).localname.endswith("EventDefinition") for c in s)]


def not_executable(files: list[tuple[str, bytes]], max_bytes: int) -> list[str]:
    """`file: process` for each process of the model files that is not executable (`isExecutable="false"`, as
    the dialect reads it)."""
    out = []
    for name, content in files:
        if name.lower().endswith(MODEL_SUFFIXES):
            root = parse_xml(content, name, max_bytes=max_bytes).getroot()
            out += [f"{name}: {proc.get('id') or '?'}" for proc in root.iter("{*}process")
                    if not is_executable(proc)]
    return out


def nothing_to_deploy(files: list[tuple[str, bytes]], max_bytes: int) -> str:
    """Why files that deployed cleanly gave no definition: their processes are not executable, or there are none.

    Camunda deploys such a file without a process definition; so does Stageflow, and says why.
    """
    reasons = []
    for name, content in files:
        if not name.lower().endswith(MODEL_SUFFIXES):  # kept as a resource of the deployment, as Camunda keeps it
            reasons.append(f"{name} is kept as a resource, not read as a model (its name does not end in "
                           f"{', '.join(MODEL_SUFFIXES)})")
            continue
        root = parse_xml(content, name, max_bytes=max_bytes).getroot()
        skipped = [proc.get("id") or "?" for proc in root.iter("{*}process")]
        reasons.append(f"{name}: {', '.join(skipped)} skipped, not executable (isExecutable=\"false\")" if skipped
                       else f"{name} holds no process")
    return "; ".join(reasons)
