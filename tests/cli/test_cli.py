"""The `stageflow` command as a user types it: a real process, a real SQLite file, what the user sees.

Each test runs `python -m engine.cli` in a subprocess (cwd and database in `tmp_path`), so argument parsing,
exit codes, stdout/stderr and the database round trip between commands are all exercised.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.external_tasks import TopicRequest
from tests.helpers import BPMN_HEADER, bpmn, chain, flow

PROJECT_ROOT = Path(__file__).resolve().parents[2]

ORDER = bpmn(
    """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review order" camunda:candidateGroups="sales" camunda:dueDate="P2D"
        camunda:priority="70">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="amount" label="Amount" type="long"/>
          <camunda:formField id="approved" label="Approved" type="boolean"/>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="done"/>
    """
    + chain("start", "review", "done"),
    process_id="order",
    name="Order approval",
)

PAYMENT = bpmn(
    """
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="hold"><bpmn:signalEventDefinition signalRef="s"/></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"/>
    """
    + chain("start", "wait", "hold", "done"),
    process_id="payment",
    name="Payment",
    extra='<bpmn:message id="m" name="payment-received"/><bpmn:signal id="s" name="release"/>',
)

FAILS_AT_START = bpmn(
    '<bpmn:startEvent id="start"/><bpmn:scriptTask id="divide" scriptFormat="python">'
    "<bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask><bpmn:endEvent id=\"done\"/>"
    + chain("start", "divide", "done"),
    process_id="fails_at_start",
)

FAILS_AFTER_TASK = bpmn(
    '<bpmn:startEvent id="start"/><bpmn:userTask id="enter" name="Enter"/>'
    '<bpmn:exclusiveGateway id="check"/><bpmn:endEvent id="done"/>'
    + chain("start", "enter", "check") + flow("check", "done", "amount / 0 > 1"),
    process_id="fails_after_task",
)

@dataclass
class Result:
    argv: Sequence[str]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Stageflow:
    """The `stageflow` command run against one SQLite file in a temporary working directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        env = {k: v for k, v in os.environ.items() if not k.startswith("STAGEFLOW_")}
        env["STAGEFLOW_DATABASE_URL"] = f"sqlite:///{cwd / 'sf.db'}"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        self.env = env

    def file(self, name: str, content: bytes | str) -> str:
        data = content.encode() if isinstance(content, str) else content
        (self.cwd / name).write_bytes(data)
        return name

    def run(self, *args: str) -> Result:
        proc = subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=60)
        return Result(args, proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.code == 0, f"stageflow {' '.join(args)} failed ({result.code}): {result.err}"
        assert "Traceback" not in result.err
        return result

    def json(self, *args: str) -> Any:
        return self.ok(*args, "--json").json()

    def fails(self, *args: str) -> str:
        """Run a command that must fail; returns its one-line error message (without `error: `)."""
        return self.check_failure(self.run(*args))

    @staticmethod
    def check_failure(result: Result) -> str:
        assert result.code != 0, f"stageflow {' '.join(result.argv)} should have failed: {result.out}"
        assert "Traceback" not in result.err and "Traceback" not in result.out
        lines = result.err.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got: {result.err!r}"
        assert lines[0].startswith("error: "), lines[0]
        return lines[0].removeprefix("error: ")

    def run_all(self, *commands: Sequence[str]) -> list[Result]:
        """Commands that do not depend on each other, run side by side to keep the suite fast (SQLite writers
        queue up behind each other, so two writing commands are fine too)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda argv: self.run(*argv), commands))


@pytest.fixture
def fresh_sf(tmp_path: Path) -> Stageflow:
    """No database yet: the first command creates it, as on a user's first run."""
    return Stageflow(tmp_path)


@pytest.fixture
def sf(tmp_path: Path, sqlite_template: Path) -> Stageflow:
    """A database already migrated (copied from the session's template: saves the migration on first use)."""
    shutil.copy(sqlite_template, tmp_path / "sf.db")
    return Stageflow(tmp_path)


def test_deploying_a_file_twice_creates_version_one_only_once(fresh_sf: Stageflow) -> None:
    sf = fresh_sf
    sf.file("order.bpmn", ORDER)

    first = sf.ok("deploy", "order.bpmn").out
    assert "order version 1" in first

    again = sf.ok("deploy", "order.bpmn").out
    assert "nothing changed" in again and "order v1" in again

    definitions = sf.ok("--json", "definitions").json()  # global options go before or after the command
    assert {"id", "key", "version", "name"} <= definitions[0].keys()
    assert [(d["key"], d["version"], d["name"]) for d in definitions] == [("order", 1, "Order approval")]
    assert definitions[0]["id"].startswith("order:1:")


def test_start_with_variables_keeps_their_json_types(sf: Stageflow) -> None:
    sf.file("order.bpmn", ORDER)
    sf.ok("deploy", "order.bpmn")

    started = sf.json("start", "order", "--business-key", "ORD-1", "--var", "amount=1200", "--var", "approved=true",
                      "--var", "note=hello", "--var", "customer=Ann Smith")
    assert started["definitionId"].startswith("order:1:")
    assert started["businessKey"] == "ORD-1"
    assert started["ended"] is False and started["suspended"] is False

    shown = sf.json("show", started["id"])
    assert shown["id"] == started["id"]
    variables = shown["variables"]
    assert variables == {"amount": 1200, "approved": True, "note": "hello", "customer": "Ann Smith"}
    assert type(variables["amount"]) is int and type(variables["approved"]) is bool


def test_start_with_form_checks_the_variables_against_the_start_form(sf: Stageflow) -> None:
    """`--form` is Camunda's submit-form: the start event's required fields and types are checked, and nothing
    starts when they fail; without it, as Camunda's start, the variables go in unchecked."""
    sf.ok("deploy", str(PROJECT_ROOT / "examples" / "order_approval.bpmn"))

    missing = sf.check_failure(sf.run("start", "order_approval", "--form", "--var", "amount=5"))
    wrong = sf.check_failure(sf.run("start", "order_approval", "--form", "--var", "customer=ACME",
                                    "--var", "amount=abc"))
    assert "customer" in missing and "required" in missing.lower(), missing
    assert "amount" in wrong, wrong
    assert sf.json("instances") == []

    started = sf.json("start", "order_approval", "--form", "--var", "customer=ACME", "--var", "amount=1200")
    unchecked = sf.json("start", "order_approval", "--var", "amount=abc")
    assert sf.json("show", started["id"])["variables"] == {"customer": "ACME", "amount": 1200}
    assert sf.json("show", unchecked["id"])["variables"] == {"amount": "abc"}


def test_a_user_finds_claims_and_completes_a_task(sf: Stageflow) -> None:
    sf.file("order.bpmn", ORDER)
    sf.ok("deploy", "order.bpmn")
    instance = sf.json("start", "order", "--business-key", "ORD-2")["id"]

    everything, offered = sf.run_all(("tasks", "--json"), ("tasks", "--group", "sales", "--json"))
    [task] = everything.json()
    assert {"id", "name", "taskDefinitionKey", "processInstanceId", "assignee", "due", "priority"} <= task.keys()
    assert (task["name"], task["taskDefinitionKey"], task["processInstanceId"]) == ("Review order", "review",
                                                                                    instance)
    assert task["assignee"] is None and task["priority"] == 70 and task["due"] is not None
    assert [t["id"] for t in offered.json()] == [task["id"]]

    assert "claimed by mary" in sf.ok("claim", task["id"], "--user", "mary").out
    mine, wrong = sf.run_all(("tasks", "--user", "mary", "--json"), ("complete", task["id"], "--var", "amount=abc"))
    [listed_task] = mine.json()
    assert (listed_task["id"], listed_task["assignee"]) == (task["id"], "mary")
    # a value the form refuses: the error names the field and the task stays open (completed just below)
    bad_field = sf.check_failure(wrong)
    assert "'amount'" in bad_field and "whole number" in bad_field

    assert "completed" in sf.ok("complete", task["id"], "--var", "amount=250", "--var", "approved=true",
                                "--user", "mary").out
    again, listed, shown = sf.run_all(("complete", task["id"], "--var", "amount=1"), ("instances", "--json"),
                                      ("show", instance))
    assert "already completed" in sf.check_failure(again)
    [row] = listed.json()
    assert row["id"] == instance and row["ended"] is True and row["state"] == "COMPLETED"
    text = shown.out
    assert "state      COMPLETED" in text and "amount = 250" in text
    history = text.split("history\n", 1)[1]
    assert re.search(r"claimed +review \(usertask\) by mary", history, re.IGNORECASE), history
    assert re.search(r"completed +review \(usertask\) by mary", history, re.IGNORECASE), history
    assert re.search(r"completed +order \(process\)", history), history


def test_messages_signals_suspend_resume_and_cancel(sf: Stageflow) -> None:
    sf.file("payment.bpmn", PAYMENT)
    sf.ok("deploy", "payment.bpmn")
    first, second = (r.json()["id"] for r in sf.run_all(
        ("start", "payment", "--business-key", "PAY-1", "--json"),
        ("start", "payment", "--business-key", "PAY-2", "--json")))

    correlated, suspended = sf.run_all(
        ("correlate", "payment-received", "--business-key", "PAY-1", "--var", "paid=1", "--json"),
        ("suspend", second))
    delivered = correlated.json()
    assert [(d["resultType"], d["execution"]["processInstanceId"]) for d in delivered] == [("Execution", first)]
    assert suspended.code == 0 and "suspended" in suspended.out
    refused = sf.fails("correlate", "payment-received", "--business-key", "PAY-2")  # suspended: passed by
    assert "payment-received" in refused and "PAY-2" in refused

    resumed, signalled = sf.run_all(("resume", second), ("signal", "release"))
    assert resumed.code == 0 and "resumed" in resumed.out
    assert signalled.out.strip() == "signal release reached 1 instance(s)"  # only PAY-1 got past the message

    cancelled, done = sf.run_all(("cancel", second, "--reason", "customer withdrew", "--json"),
                                 ("show", first, "--json"))
    assert cancelled.json()["ended"] is True and cancelled.json()["state"] == "CANCELED"
    assert done.json()["state"] == "COMPLETED" and done.json()["variables"] == {"paid": 1}
    shown, shown_json = sf.run_all(("show", second), ("show", second, "--json"))  # the reason was never shown
    assert "reason     customer withdrew" in shown.out.splitlines()
    assert shown_json.json()["deleteReason"] == "customer withdrew" and done.json()["deleteReason"] is None


def test_bad_input_is_one_error_line_and_a_non_zero_exit(sf: Stageflow) -> None:
    sf.file("malformed.bpmn", "<bpmn:definitions><unclosed>")
    sf.file("dangling.bpmn", bpmn('<bpmn:startEvent id="start"/><bpmn:endEvent id="done"/>'
                                  + flow("start", "ghost", flow_id="to_ghost"), process_id="dangling"))
    # independent mistakes (a form violation and a second completion are in the task story above)
    text_errors = [
        ("deploy", "malformed.bpmn"),
        ("deploy", "missing.bpmn"),
        ("deploy", "dangling.bpmn"),
        ("start", "nosuchkey"),
        ("complete", "no-such-task", "--var", "amount=1"),
        ("start", "order", "--var", "amount"),
        ("correlate", "payment-received", "--business-key", "nobody"),
    ]
    json_errors = [
        ("deploy", "dangling.bpmn", "--json"),
        ("--json", "start", "nosuchkey"),
        ("instances", "--state", "bogus", "--json"),  # a usage error, refused by the argument parser
    ]
    results = sf.run_all(*text_errors, *json_errors)
    malformed, missing, dangling, no_key, no_task, no_equals, nobody_waits = (
        sf.check_failure(r) for r in results[:len(text_errors)])
    assert "malformed.bpmn" in malformed and "malformed XML" in malformed
    assert "missing.bpmn" in missing
    assert "dangling.bpmn:4" in dangling and "'to_ghost'" in dangling and "'ghost'" in dangling
    assert "nosuchkey" in no_key
    assert "no-such-task" in no_task and "not found" in no_task
    assert "amount" in no_equals and "name=value" in no_equals
    assert "payment-received" in nobody_waits and "nobody" in nobody_waits

    errors = []
    for result in results[len(text_errors):]:
        assert result.code != 0 and result.out == "" and "Traceback" not in result.err
        [line] = result.err.splitlines()
        errors.append(json.loads(line))
    dangling_json, no_key_json, usage_json = errors
    assert all({"type", "message", "code"} <= error.keys() for error in errors), errors
    assert dangling_json["type"] == "ParseException" and "to_ghost" in dangling_json["message"]
    assert dangling_json["details"] == {"file": "dangling.bpmn", "elementId": "to_ghost", "line": 4}
    assert no_key_json["type"] == "InvalidRequestException" and "nosuchkey" in no_key_json["message"]
    assert usage_json["type"] == "InvalidRequestException" and "'bogus'" in usage_json["message"]


def test_database_option_before_the_command_is_used(fresh_sf: Stageflow) -> None:
    sf = fresh_sf
    other = sf.cwd / "other.db"
    assert sf.ok("--database", f"sqlite:///{other}", "definitions", "--json").json() == []
    assert other.exists() and not (sf.cwd / "sf.db").exists()  # $STAGEFLOW_DATABASE_URL was not used


def test_fresh_database_upgrade_and_help(fresh_sf: Stageflow) -> None:
    sf = fresh_sf
    upgraded, helped = sf.run_all(("db", "upgrade"), ("--help",))
    assert upgraded.code == 0 and upgraded.out.startswith("database at revision ")
    assert upgraded.out.split()[-1] not in ("None", "")
    assert helped.code == 0
    for command in ("deploy", "definitions", "start", "instances", "show", "tasks", "claim", "complete",
                    "correlate", "signal", "cancel", "suspend", "resume", "db"):
        assert f"    {command} " in helped.out, command


def test_a_bad_date_filter_is_a_usage_error_not_a_traceback(sf: Stageflow) -> None:
    result = sf.run("tasks", "--due-before", "next tuesday")
    assert result.code == 2 and "Traceback" not in result.err
    assert "--due-before" in result.err and "ISO 8601" in result.err


def test_tasks_for_a_user_include_those_offered_to_their_groups(sf: Stageflow) -> None:
    sf.file("order.bpmn", ORDER)
    added, deployed = sf.run_all(("user", "add", "mary", "--password", "demo-pass-1", "--group", "sales"),
                                 ("deploy", "order.bpmn"))
    assert added.code == 0 and deployed.code == 0, added.err + deployed.err
    started = [r.json()["id"] for r in sf.run_all(*[("start", "order", "--json")] * 2)]

    mary, mary_and_group, stranger = sf.run_all(("tasks", "--user", "mary", "--json"),
                                                ("tasks", "--user", "mary", "--group", "sales", "--json"),
                                                ("tasks", "--user", "bob"))
    assert sorted(t["processInstanceId"] for t in mary.json()) == sorted(started)
    assert mary_and_group.json() == mary.json()
    assert stranger.code == 0 and stranger.out.strip() == "(none)"  # no account, no group: nothing offered
    # a task john has claimed is no longer offered to mary or her group (as Camunda's candidateUser/Group), unless
    # asked for; mary's own claimed task stays hers
    john_s, mary_s = (t["id"] for t in sorted(mary.json(), key=lambda t: t["processInstanceId"]))
    sf.ok("claim", john_s, "--user", "john")
    sf.ok("claim", mary_s, "--user", "mary")
    mary, group, mary_all, group_all = sf.run_all(
        ("tasks", "--user", "mary", "--json"), ("tasks", "--group", "sales", "--json"),
        ("tasks", "--user", "mary", "--include-assigned", "--json"),
        ("tasks", "--group", "sales", "--include-assigned", "--json"))
    assert [t["id"] for t in mary.json()] == [mary_s]
    assert group.json() == []
    assert sorted(t["id"] for t in mary_all.json()) == sorted(t["id"] for t in group_all.json()) == sorted(
        [john_s, mary_s])
    assert sf.fails("tasks", "--include-assigned").startswith("--include-assigned goes with --user or --group")


def test_a_failing_script_or_expression_is_one_error_line(sf: Stageflow) -> None:
    sf.file("start.bpmn", FAILS_AT_START)
    sf.file("task.bpmn", FAILS_AFTER_TASK)
    sf.ok("deploy", "start.bpmn", "task.bpmn")
    sf.ok("start", "fails_after_task")
    [task] = sf.json("tasks")

    text, as_json, verbose, completed = sf.run_all(
        ("start", "fails_at_start"), ("start", "fails_at_start", "--json"), ("start", "fails_at_start", "--verbose"),
        ("complete", task["id"], "--var", "amount=5"))
    assert "'divide'" in sf.check_failure(text) and "ZeroDivisionError" in sf.check_failure(text)
    assert "ZeroDivisionError" in sf.check_failure(completed)
    [line] = as_json.err.splitlines()
    assert as_json.code != 0 and json.loads(line)["type"] == "ScriptEvaluationException"
    # asked for, the engine's warning comes first, and it names the start rather than "instance None"
    warning, error = verbose.err.splitlines()
    assert warning.startswith("WARNING stageflow") and "fails_at_start" in warning and "None" not in warning
    assert error.startswith("error: ") and "ZeroDivisionError" in error


def test_database_and_setting_problems_are_one_line(sf: Stageflow) -> None:
    def with_env(name: str, value: str) -> Result:
        other = Stageflow(sf.cwd)
        other.env[name] = value
        return other.run("definitions")

    no_folder = sf.run("--database", f"sqlite:///{sf.cwd / 'missing' / 'x.db'}", "definitions")
    server_down = sf.run("--database", "postgresql://postgres@127.0.0.1:1/test", "definitions")
    unknown, garbled, no_driver = (sf.run("--database", url, "definitions")
                                   for url in ("bogus://", "notaurl", "mysql://bob:s3cret@localhost/db"))
    size, time_limit, log_level = (with_env("STAGEFLOW_MAX_DEFINITION_BYTES", "abc"),
                                   with_env("STAGEFLOW_SCRIPT_TIME_LIMIT", "nan"),
                                   with_env("STAGEFLOW_LOG_LEVEL", "loud"))

    opened = sf.check_failure(no_folder)
    assert opened.startswith(f"cannot open the database file {sf.cwd / 'missing' / 'x.db'}"), opened
    assert "does not exist" in opened and "sqlalche.me" not in opened
    assert "database unavailable" in sf.check_failure(server_down)
    assert sf.check_failure(unknown).startswith("invalid database URL 'bogus://': Can't load plugin")
    assert sf.check_failure(garbled).startswith("invalid database URL 'notaurl': Could not parse")
    missing = sf.check_failure(no_driver)
    assert missing.startswith("invalid database URL 'mysql://bob:***@localhost/db'") and "s3cret" not in missing
    assert sf.check_failure(size) == "STAGEFLOW_MAX_DEFINITION_BYTES must be a whole number, not 'abc'"
    assert sf.check_failure(time_limit) == "STAGEFLOW_SCRIPT_TIME_LIMIT must be a number above 0, not 'nan'"
    assert sf.check_failure(log_level).startswith("STAGEFLOW_LOG_LEVEL must be DEBUG, INFO")


def test_var_refuses_numbers_json_cannot_write(sf: Stageflow) -> None:
    sf.file("order.bpmn", ORDER)
    sf.ok("deploy", "order.bpmn")
    nan, infinity, huge, nested, whole = (sf.check_failure(r) for r in sf.run_all(
        ("start", "order", "--var", "a=NaN"), ("start", "order", "--var", "b=-Infinity"),
        ("start", "order", "--var", "c=1e400"), ("start", "order", "--var", 'd={"x": [1, Infinity]}'),
        ("start", "order", "--var", "e=1" + "0" * 400)))
    assert nan.startswith("variable 'a': NaN is not a number JSON allows")
    assert infinity.startswith("variable 'b': -Infinity")
    assert huge == "variable 'c': 1e400 is too large for a number"
    assert nested.startswith("variable 'd': Infinity")
    # a whole number no Long holds (it was a bare OverflowError)
    assert whole.startswith("variable 'e': 10000000000000000000... is a whole number beyond a Long's range")
    assert sf.json("instances") == []
    quoted = sf.json("start", "order", "--var", 'a="NaN"', "--var", "b=1e300")
    assert sf.json("variables", quoted["id"]) == {"a": "NaN", "b": 1e300}


def test_show_and_variables_print_characters_not_escapes(sf: Stageflow) -> None:
    sf.file("order.bpmn", ORDER)
    sf.ok("deploy", "order.bpmn")
    instance = sf.json("start", "order", "--var", "név=Ünïcødé 😀")["id"]

    shown, listed, as_json = sf.run_all(("show", instance), ("variables", instance), ("variables", instance, "--json"))
    assert '  név = "Ünïcødé 😀"' in shown.out.splitlines()
    assert listed.out.splitlines() == ['név = "Ünïcødé 😀"']
    assert as_json.json() == {"név": "Ünïcødé 😀"}


def test_instances_state_filter_takes_any_case(sf: Stageflow) -> None:
    sf.file("order.bpmn", ORDER)
    sf.ok("deploy", "order.bpmn")
    first, second = (r.json()["id"] for r in sf.run_all(*[("start", "order", "--json")] * 2))
    sf.ok("suspend", second)

    suspended, active = sf.run_all(("instances", "--state", "SUSPENDED", "--json"),
                                   ("instances", "--state", "Active", "--json"))
    assert [(i["id"], i["state"]) for i in suspended.json()] == [(second, "SUSPENDED")]
    assert [i["id"] for i in active.json()] == [first]


def test_deploying_no_executable_process_says_why(sf: Stageflow) -> None:
    pools = bpmn('<bpmn:startEvent id="start"/>', process_id="customer_pool").replace(
        b'isExecutable="true"', b'isExecutable="false"').replace(
        b"</bpmn:definitions>", b'<bpmn:process id="bank_pool" isExecutable="false"/></bpmn:definitions>')
    sf.file("pools.bpmn", pools)
    sf.file("empty.bpmn", BPMN_HEADER + '<bpmn:message id="m" name="ping"/></bpmn:definitions>')

    sf.file("notes.txt", "not a model")
    skipped, empty, notes = sf.run_all(("deploy", "pools.bpmn"), ("deploy", "empty.bpmn"), ("deploy", "notes.txt"))
    assert skipped.code == 0 and empty.code == 0 and notes.code == 0
    assert skipped.out.strip() == (
        'nothing deployed: pools.bpmn: customer_pool, bank_pool skipped, not executable (isExecutable="false")')
    assert empty.out.strip() == "nothing deployed: empty.bpmn holds no process"
    assert notes.out.startswith("nothing deployed: notes.txt is kept as a resource, not read as a model")
    assert sf.json("definitions") == []

    # beside a process that deploys, the skipped ones are named too (they were left out without a word)
    sf.file("runs.bpmn", bpmn('<bpmn:startEvent id="s"/>', process_id="runs"))
    [mixed] = sf.run_all(("deploy", "runs.bpmn", "pools.bpmn"))
    assert mixed.code == 0 and mixed.out.splitlines()[1:] == [
        f"  runs version 1  ({sf.json('definitions')[0]['id']})",
        'skipped, not executable (isExecutable="false"): pools.bpmn: customer_pool, pools.bpmn: bank_pool']


def test_a_number_a_script_made_infinite_prints_as_valid_json(sf: Stageflow) -> None:
    sf.file("odd.bpmn", bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="calc"><bpmn:script>ratio = float("inf")
odd = ratio - ratio</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="look"/><bpmn:endEvent id="e"/>""" + chain("s", "calc", "look", "e"), process_id="odd"))
    sf.ok("deploy", "odd.bpmn")
    instance = sf.json("start", "odd")["id"]
    [as_json] = sf.run_all(("variables", instance, "--json"))

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    assert json.loads(as_json.out, parse_constant=refuse) == {"ratio": "Infinity", "odd": "NaN"}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_stops_cleanly_on_a_stop_signal(sf: Stageflow, stop_signal: int) -> None:
    # a service manager stops it with SIGTERM, a person with Ctrl-C: both are a clean stop, exit status 0 (it was
    # killed by SIGTERM, status 143)
    worker = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], cwd=sf.cwd, env=sf.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        assert "firing timers" in worker.stdout.readline()
        worker.send_signal(stop_signal)
        out, err = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert "Stageflow worker stopped" in out and "Traceback" not in err


def test_fire_timers_says_how_many_due_jobs_fired_and_failed(sf: Stageflow) -> None:
    # it printed "0 timer(s) fired" when a due job ran and failed
    past = ('<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
            "<bpmn:timeDate>2020-01-01T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>")
    sf.file("fine.bpmn", bpmn(f'<bpmn:startEvent id="s"/>{past}<bpmn:endEvent id="e"/>' + chain("s", "wait", "e"),
                              process_id="fine"))
    sf.file("broken.bpmn", bpmn(f'<bpmn:startEvent id="s"/>{past}<bpmn:scriptTask id="divide" scriptFormat="python">'
                                "<bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask><bpmn:endEvent id=\"e\"/>"
                                + chain("s", "wait", "divide", "e"), process_id="broken"))
    sf.ok("deploy", "fine.bpmn", "broken.bpmn")
    sf.ok("start", "fine")
    sf.ok("start", "broken")
    assert sf.ok("fire-timers").out.strip() == (
        "1 due job(s) fired, 1 failed: see `stageflow timers` (retries) and `stageflow incidents`")
    assert sf.json("fire-timers") == {"fired": 0, "failed": 0, "builtInTasks": 0}  # the failed one: due in 5 min


def test_fire_timers_also_runs_the_built_in_workers_as_a_tick_of_the_server_does(sf: Stageflow) -> None:
    # a process tried from the command line alone stopped at its first notification until `serve` or `worker` ran
    sf.file("notify.bpmn", bpmn(
        '<bpmn:startEvent id="s"/><bpmn:serviceTask id="tell" name="Order received" camunda:type="external" '
        'camunda:topic="notify-customer"><bpmn:documentation>Dear {customer}, thanks.</bpmn:documentation>'
        '</bpmn:serviceTask><bpmn:userTask id="call" name="Call the client" camunda:candidateGroups="sales"/>'
        '<bpmn:endEvent id="e"/>' + chain("s", "tell", "call", "e"), process_id="notify"))
    sf.ok("deploy", "notify.bpmn")
    instance = sf.json("start", "notify", "--var", "customer=Ann", "--var", "customerEmail=ann@x.test")["id"]
    assert sf.json("tasks", "--instance", instance) == []
    assert sf.ok("fire-timers").out.strip() == (
        "0 due job(s) fired; the built-in workers did 1 task(s) (notifications, process starts)")
    assert [t["name"] for t in sf.json("tasks", "--instance", instance)] == ["Call the client"]


def test_retry_gives_a_failed_external_task_new_tries_by_the_id_incidents_lists(sf: Stageflow) -> None:
    # `incidents` lists a failed external task by its id, and `retry` said "job ... not found" for it
    from engine.api import Engine
    from engine.config import Settings

    sf.file("ship.bpmn", bpmn('<bpmn:startEvent id="s"/><bpmn:serviceTask id="ship" camunda:type="external" '
                              'camunda:topic="shipping"/><bpmn:endEvent id="e"/>' + chain("s", "ship", "e"),
                              process_id="shipping"))
    sf.ok("deploy", "ship.bpmn")
    instance = sf.json("start", "shipping")["id"]
    engine = Engine(Settings(database_url=sf.env["STAGEFLOW_DATABASE_URL"]))
    try:
        [task] = engine.external_tasks.fetch_and_lock("w1", 1, [TopicRequest("shipping", 60_000)])
        engine.external_tasks.failure(task["id"], "w1", "carrier down", retries=0)
        [incident] = sf.json("incidents", "--instance", instance)
        assert incident["configuration"] == task["id"]
        assert sf.ok("retry", task["id"], "--retries", "2").out.strip() == (
            f"external task {task['id']} can be fetched again (2 retries)")
        assert sf.json("incidents", "--instance", instance) == []
        assert engine.external_tasks.get(task["id"])["retries"] == 2
        assert sf.fails("retry", "no-such-id") == "no job or external task 'no-such-id'"
    finally:
        engine.close()


def test_a_date_reads_as_the_rest_api_writes_it(sf: Stageflow) -> None:
    # `variables` and `--json` printed "2026-12-04 00:00:00" where the REST API writes Camunda's format
    sf.file("wait.bpmn", bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>'
                              + chain("s", "t", "e"), process_id="wait"))
    sf.ok("deploy", "wait.bpmn")
    instance = sf.json("start", "wait")["id"]
    from datetime import UTC, datetime

    from engine.api import Engine
    from engine.config import Settings

    engine = Engine(Settings(database_url=sf.env["STAGEFLOW_DATABASE_URL"]))
    try:  # a Date variable, as a form's date field or a REST client's Date sets it
        engine.instances.set_variables(instance, {"meeting": datetime(2026, 12, 4, tzinfo=UTC)})
    finally:
        engine.close()
    assert sf.json("variables", instance)["meeting"] == "2026-12-04T00:00:00.000+0000"
    assert 'meeting = "2026-12-04T00:00:00.000+0000"' in sf.ok("variables", instance).out


def test_a_name_drawn_on_two_lines_stays_on_its_row_of_a_table() -> None:
    from engine.cli import _cell

    assert _cell("approve\r\nvacation") == "approve vacation"  # it split the `tasks` table's row in two
    assert _cell("Review order") == "Review order" and _cell(None) == "-" and _cell(["a", "b"]) == "a,b"
