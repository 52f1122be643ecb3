"""The 21 BPMN MIWG reference models: each deploys or is refused naming the element; none crashes the parser.

Plain SpiffWorkflow 3.2.0 raises a bare KeyError on four of them (C.7.0, C.8.0, C.8.1, C.9.0: business rule
tasks without a decision). Most of the models only have non-executable processes, which Camunda (and so
Stageflow) does not deploy; each file is therefore deployed twice: as it is, and with every process marked
executable, so the dialect and SpiffWorkflow's parser really read all of it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lxml import etree

from engine.api import Engine
from engine.errors import DefinitionError
from engine.views import DeploymentView

MIWG = Path(__file__).resolve().parents[2].parent / "shared" / "bpmn" / "miwg"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

NAMES = [
    "A.1.0", "A.2.0", "A.2.1", "A.3.0", "A.4.0", "A.4.1", "B.1.0", "B.2.0", "C.1.0", "C.1.1", "C.2.0",
    "C.3.0", "C.4.0", "C.5.0", "C.6.0", "C.7.0", "C.8.0", "C.8.1", "C.9.0", "C.9.1", "C.9.2",
]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_NON_EXECUTABLE = re.compile(rb"""isExecutable\s*=\s*(["'])\s*(false|0)\s*\1""")

# A bare Python error, or parser internals, where a person should read what is wrong.
_NOT_FOR_PEOPLE = re.compile(
    r"\b(KeyError|TypeError|AttributeError|IndexError|ValueError|AssertionError|NotImplementedError|"
    r"XPathEvalError|ValidationException)\b|Traceback|<Element |\w+Error\(['\"]"
)


def corpus_file(name: str) -> Path:
    if not MIWG.is_dir():
        if IN_CI:
            pytest.fail(f"the MIWG reference models are required in CI but {MIWG} does not exist")
        pytest.skip(f"the MIWG reference models are not here ({MIWG} does not exist)")
    path = MIWG / f"{name}.bpmn"
    assert path.is_file(), f"{path} is missing from the MIWG folder"
    return path


def all_executable(data: bytes) -> bytes:
    return _NON_EXECUTABLE.sub(b'isExecutable="true"', data)


def process_ids(data: bytes, *, executable_only: bool) -> set[str]:
    root = etree.fromstring(data)
    return {p.get("id") for p in root.iter(f"{{{BPMN_NS}}}process")
            if not executable_only or (p.get("isExecutable") or "true").strip().lower() not in ("false", "0")}


def deploy_or_refuse(engine: Engine, name: str, data: bytes) -> DeploymentView | DefinitionError:
    """Deploy the file; return the view or the DefinitionError (any other exception fails the test)."""
    try:
        return engine.definitions.deploy([(name, data)])
    except DefinitionError as err:
        return err
    except Exception as err:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{name}: {type(err).__name__} escaped the deploy instead of a DefinitionError: {err!r}")


def check_refusal(err: DefinitionError, name: str, engine: Engine) -> None:
    assert err.file == name, str(err)
    assert err.element_id, f"the error names no element: {err}"
    assert err.reason.strip() and len(err.reason.split()) >= 3, f"not a readable message: {err}"
    assert not _NOT_FOR_PEOPLE.search(err.reason), f"a bare Python/parser error: {err}"
    assert err.line is None or err.line > 0
    assert engine.definitions.list() == [] and engine.definitions.deployments() == []


def test_the_folder_holds_the_21_reference_models() -> None:
    if not MIWG.is_dir():
        corpus_file(NAMES[0])  # skips, or fails in CI
    assert sorted(p.stem for p in MIWG.glob("*.bpmn")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_reference_model_as_published_deploys_or_is_refused_cleanly(sqlite_engine: Engine, name: str) -> None:
    data = corpus_file(name).read_bytes()
    file = f"{name}.bpmn"
    outcome = deploy_or_refuse(sqlite_engine, file, data)
    if isinstance(outcome, DefinitionError):
        check_refusal(outcome, file, sqlite_engine)
        return
    assert isinstance(outcome, DeploymentView)
    # Non-executable processes are skipped, as Camunda does: only the executable ones become definitions.
    assert {d.key for d in outcome.definitions} == process_ids(data, executable_only=True)


@pytest.mark.parametrize("name", NAMES)
def test_reference_model_with_every_process_executable_deploys_or_is_refused_cleanly(
    sqlite_engine: Engine, name: str
) -> None:
    data = all_executable(corpus_file(name).read_bytes())
    assert not _NON_EXECUTABLE.search(data)
    file = f"{name}.bpmn"
    outcome = deploy_or_refuse(sqlite_engine, file, data)
    if isinstance(outcome, DefinitionError):
        check_refusal(outcome, file, sqlite_engine)
        return
    assert isinstance(outcome, DeploymentView)
    assert {d.key for d in outcome.definitions} == process_ids(data, executable_only=False)


@pytest.mark.parametrize("name", ["B.1.0", "B.2.0", "C.1.1", "C.4.0", "C.5.0"])
def test_data_stores_are_no_reason_to_refuse_a_reference_model(sqlite_engine: Engine, name: str) -> None:
    """Camunda 7 deploys data stores and their associations as modelling only, and so does Stageflow: these
    models are refused, if at all, for something else (Java code, a service task without implementation, ...)."""
    data = all_executable(corpus_file(name).read_bytes())
    root = etree.fromstring(data)
    store_parts = {el.get("id") for el in root.iter(f"{{{BPMN_NS}}}dataStore", f"{{{BPMN_NS}}}dataStoreReference")}
    store_parts |= {el.getparent().get("id") for el in root.iter(f"{{{BPMN_NS}}}sourceRef", f"{{{BPMN_NS}}}targetRef")
                    if (el.text or "").strip() in store_parts}
    assert store_parts, f"{name} has no data store"
    outcome = deploy_or_refuse(sqlite_engine, f"{name}.bpmn", data)
    if isinstance(outcome, DefinitionError):
        assert "data store" not in str(outcome), str(outcome)
        assert outcome.element_id not in store_parts, str(outcome)
