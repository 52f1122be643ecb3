"""Decision definitions (DMN) on their own: list them, read their XML and evaluate one with variables.

Camunda 7's decision service: a deployed DMN decision is evaluated directly (REST `POST
/decision-definition/key/{key}/evaluate`), not only from a business rule task. Each version is the decision as
deployed; the file is parsed once per version and kept, with the other decisions of its file (the decisions it
requires are evaluated first, as Camunda does).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .decision_history import trace_rows
from .dmn import Decision, DecisionError, DecisionTrace, parse_dmn
from .errors import NotFound
from .queries import latest_versions
from .store import models as m
from .variables import to_typed
from .views import DecisionView
from .xmlsafe import parse_xml

if TYPE_CHECKING:
    from .api import Engine

_CACHE_SIZE = 64


class Decisions:
    """Deployed decisions: queries, XML and evaluation."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._parsed: OrderedDict[str, tuple[Decision, dict[str, Decision]]] = OrderedDict()
        self._lock = threading.Lock()

    def list(self, *, key: str | None = None, name: str | None = None, latest_only: bool = False,
             first: int = 0, max_results: int = 100) -> list[DecisionView]:
        """Decision definitions, newest version first within a key; `latest_only` keeps each key's newest."""
        with self.engine.db.read() as session:
            query = select(m.DecisionDefinition)
            if key:
                query = query.where(m.DecisionDefinition.key == key)
            if name:
                query = query.where(m.DecisionDefinition.name == name)
            if latest_only:
                query = latest_versions(query, m.DecisionDefinition)
            query = query.order_by(m.DecisionDefinition.key, m.DecisionDefinition.version.desc())
            rows = session.scalars(query.offset(first).limit(min(max_results, 1000))).all()
            return [DecisionView.of(r) for r in rows]

    def get(self, definition_id: str) -> DecisionView:
        with self.engine.db.read() as session:
            return DecisionView.of(self._row(session, definition_id))

    def latest(self, key: str) -> DecisionView:
        with self.engine.db.read() as session:
            return DecisionView.of(self._latest(session, key))

    def xml(self, definition_id: str) -> bytes:
        """The DMN file the decision came from, as deployed."""
        with self.engine.db.read() as session:
            return self._content(session, self._row(session, definition_id))

    def logic(self, definition_id: str) -> Decision:
        """The parsed decision of a version: its table (inputs, outputs, rules) or literal expression."""
        return self._decision(definition_id)[0]

    def evaluate(self, definition_id: str, variables: dict[str, Any], *,
                 user: str | None = None) -> list[dict[str, dict[str, Any]]]:
        """Evaluate a decision version with `variables`: one map per matched rule, output name -> typed value
        (Camunda's answer); a failing expression is a `DecisionError` naming the decision. The evaluation is
        kept in the decision history (`engine.decision_history`), with `user` as who asked."""
        trace: list[DecisionTrace] = []
        results = self.evaluate_plain(definition_id, variables, trace)
        with self.engine.db.write() as session:
            for values in trace_rows(session, trace, at=self.engine.clock.now(), user=user):
                session.add(m.DecisionInstance(**values))
        return [{name: to_typed(value) for name, value in rule.items()} for rule in results]

    def evaluate_plain(self, definition_id: str, variables: dict[str, Any],
                       trace: list[DecisionTrace] | None = None) -> list[dict[str, Any]]:
        """`evaluate` with plain values, kept nowhere (a designer's try): one dict per matched rule, in the
        table's order; `trace` gets what each decision evaluated saw and gave."""
        decision, decisions = self._decision(definition_id)
        return decision.evaluate(variables, self.engine.sandbox, decisions, trace).result_list()

    def bound(self, key: str, binding: str, value: str | None) -> tuple[Decision, dict[str, Decision]]:
        """The decision a business rule task evaluates, bound as Camunda binds `decisionRef` when the task runs:
        `latest` (the default), `version` (`value`: a version number) or `versionTag` (`value`: the tag; the
        newest version carrying it). Read on its own connection: it sees what is deployed now."""
        with self.engine.db.read() as session:
            query = select(m.DecisionDefinition.id).where(m.DecisionDefinition.key == key)
            if binding == "version":
                if not (str(value).isascii() and str(value).isdigit()):
                    raise DecisionError(f"decisionRefVersion '{value}' of decision '{key}' is not a version number",
                                        decision_id=key)
                query = query.where(m.DecisionDefinition.version == int(str(value)))
            ids = session.scalars(query.order_by(m.DecisionDefinition.version.desc())).all()
        if binding == "versionTag":
            ids = [i for i in ids if self._decision(i)[0].version_tag == value][:1]
        if not ids:
            what = {"version": f" version {value}", "versionTag": f" with version tag '{value}'"}.get(binding, "")
            raise DecisionError(f"no decision '{key}'{what} is deployed", decision_id=key)
        return self._decision(ids[0])

    def _decision(self, definition_id: str) -> tuple[Decision, dict[str, Decision]]:
        with self._lock:
            hit = self._parsed.get(definition_id)
            if hit is not None:
                self._parsed.move_to_end(definition_id)
                return hit
        with self.engine.db.read() as session:
            row = self._row(session, definition_id)
            content = self._content(session, row)
            versions = dict(session.execute(select(m.DecisionDefinition.key, m.DecisionDefinition.id).where(
                m.DecisionDefinition.deployment_id == row.deployment_id)).all())
        decisions = parse_dmn(parse_xml(content, row.resource_name), row.resource_name)
        for key, decision in decisions.items():  # the versions deployed with it, its history names
            decision.definition_id = versions.get(key)
        parsed = (decisions[row.key], decisions)
        with self._lock:
            self._parsed[definition_id] = parsed
            while len(self._parsed) > _CACHE_SIZE:
                self._parsed.popitem(last=False)
        return parsed

    @staticmethod
    def _row(session: Any, definition_id: str) -> m.DecisionDefinition:
        row = session.get(m.DecisionDefinition, definition_id)
        if row is None:
            raise NotFound(f"decision definition '{definition_id}' not found")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _latest(session: Any, key: str) -> m.DecisionDefinition:
        row = session.scalars(select(m.DecisionDefinition).where(m.DecisionDefinition.key == key)
                              .order_by(m.DecisionDefinition.version.desc()).limit(1)).first()
        if row is None:
            raise NotFound(f"no decision definition with key '{key}'")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _content(session: Any, row: m.DecisionDefinition) -> bytes:
        content = session.scalars(select(m.Resource.content).where(
            m.Resource.deployment_id == row.deployment_id, m.Resource.name == row.resource_name)).first()
        if content is None:
            raise NotFound(f"the file '{row.resource_name}' of decision definition '{row.id}' is missing")
        return content  # type: ignore[no-any-return]
