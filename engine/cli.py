"""The `stageflow` command: deploy, start, work tasks and correlate messages from a shell.

Every command takes `--json` for machine-readable output (Camunda REST field names), exits non-zero on failure
and prints a one-line error, never a traceback, for bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn

from .errors import BadRequest, InvalidVariables, NotFound, StageflowError


# The engine's modules (SQLAlchemy, SpiffWorkflow) are imported when a command runs, not for `--help` or a usage
# error: these three are imported on first use.
def json_text(value: Any, **options: Any) -> str:
    from .variables import json_text as text

    return text(value, **options)


def parse_assignment(pair: str) -> tuple[str, Any]:
    from .variables import parse_assignment as parse

    return parse(pair)


def iso(value: datetime) -> str | None:
    from .views import iso as text

    return text(value)


EXIT_ERROR = 1
EXIT_USAGE = 2


def _vars(pairs: list[str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs or []:
        name, value = parse_assignment(pair)
        if not _finite(value):
            _refuse_non_finite(name, pair.partition("=")[2])
        values[name] = value
    return values


def _finite(value: Any) -> bool:
    """No NaN or infinite float anywhere in `value` (JSON has no word for them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _refuse_non_finite(name: str, raw: str) -> NoReturn:
    """Raise the error naming what in `raw` (which Python's JSON reader took) no JSON writer can write."""

    def constant(word: str) -> Any:
        raise InvalidVariables(name, f"{word} is not a number JSON allows (quote it for a string: "
                                     f"{name}='\"{word}\"')")

    def number(text: str) -> float:
        if not math.isfinite(float(text)):
            raise InvalidVariables(name, f"{text} is too large for a number")
        return float(text)

    json.loads(raw, parse_constant=constant, parse_float=number)
    raise InvalidVariables(name, "holds a number JSON cannot write")  # not reached: one of the two raises


def _date(text: str) -> datetime:
    from .variables import parse_date

    try:
        moment = parse_date("date", text)
    except InvalidVariables as err:  # raised inside argparse: make it a usage error, not a traceback
        raise argparse.ArgumentTypeError(err.reason) from None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment


class Output:
    """Prints records as JSON or as aligned text."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def records(self, items: list[Any], columns: Sequence[tuple[str, str]]) -> None:
        rows = [item.to_json() if hasattr(item, "to_json") else item for item in items]
        if self.as_json:
            print(json_text(rows, indent=2, default=_json_value))
            return
        if not rows:
            print("(none)")
            return
        widths = [max(len(title), *(len(_cell(r.get(key))) for r in rows)) for key, title in columns]
        print("  ".join(title.ljust(w) for (_, title), w in zip(columns, widths, strict=True)).rstrip())
        for r in rows:
            print("  ".join(_cell(r.get(key)).ljust(w) for (key, _), w in zip(columns, widths, strict=True)).rstrip())

    def record(self, item: Any, text: str | Callable[[dict[str, Any]], str]) -> None:
        body = item.to_json() if hasattr(item, "to_json") else item
        if self.as_json:
            print(json_text(body, indent=2, default=_json_value))
        else:
            print(text(body) if callable(text) else text)


def _json_value(value: Any) -> Any:
    """What JSON has no word for, as the REST API writes it: a Date in Camunda's format
    (`2026-12-04T00:00:00.000+0000`), anything else as its text."""
    return iso(value) if isinstance(value, datetime) else str(value)


def _cell(value: Any) -> str:
    """A table cell on one line (a name drawn on two lines in the modeler holds a line break)."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    text = str(value)
    return " ".join(text.split()) if any(c in text for c in "\r\n\t") else text


DEF_COLUMNS = (("id", "ID"), ("key", "KEY"), ("version", "VERSION"), ("name", "NAME"))
INSTANCE_COLUMNS = (("id", "ID"), ("definitionId", "DEFINITION"), ("businessKey", "BUSINESS KEY"),
                    ("state", "STATE"), ("startTime", "STARTED"))
TASK_COLUMNS = (("id", "ID"), ("name", "NAME"), ("taskDefinitionKey", "ELEMENT"), ("assignee", "ASSIGNEE"),
                ("candidateGroups", "GROUPS"), ("due", "DUE"), ("priority", "PRIO"),
                ("processInstanceId", "INSTANCE"))


def _common(*, suppress: bool) -> argparse.ArgumentParser:
    # A subcommand's defaults would overwrite what was given before the command (`stageflow --json tasks`),
    # so the subcommands' copies of these options default to SUPPRESS: set only when given there.
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="machine-readable output")
    common.add_argument("--database", metavar="URL", default=argparse.SUPPRESS if suppress else None,
                        help="database URL (default: $STAGEFLOW_DATABASE_URL or sqlite:///stageflow.db)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="print the engine's log on stderr ($STAGEFLOW_LOG_LEVEL=DEBUG for everything)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common(suppress=True)
    parser = _Parser(prog="stageflow", description="Stageflow BPMN engine",
                                     parents=[_common(suppress=False)])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common], description=help_text)

    p = cmd("deploy", "deploy .bpmn/.dmn files as one deployment")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--name", help="deployment name")

    p = cmd("definitions", "list process definitions")
    p.add_argument("--key")
    p.add_argument("--latest", action="store_true", help="only the latest version of each key")

    p = cmd("start", "start a process instance")
    p.add_argument("key", metavar="KEY", help="process key or definition id")
    p.add_argument("--business-key")
    p.add_argument("--version", type=int, help="a definition version (default: the latest)")
    p.add_argument("--var", action="append", metavar="NAME=VALUE", help="a variable (JSON value or string)")
    p.add_argument("--user", help="who starts it (the initiator)")
    p.add_argument("--unique", action="store_true", help="refuse a second running instance with this business key")
    p.add_argument("--form", action="store_true",
                   help="check the variables against the start event's form, as Camunda's submit-form does")

    p = cmd("instances", "list process instances")
    p.add_argument("--key", help="process key")
    p.add_argument("--business-key")
    p.add_argument("--state", type=str.lower, choices=["active", "suspended", "completed", "canceled"])
    p.add_argument("--max", type=int, default=100)

    p = cmd("show", "show an instance: state, variables, open tasks, timers, history")
    p.add_argument("instance", metavar="INSTANCE")

    p = cmd("variables", "read, set or remove an instance's variables")
    p.add_argument("instance", metavar="INSTANCE")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", dest="set_vars")
    p.add_argument("--remove", action="append", metavar="NAME")

    p = cmd("tasks", "list open tasks")
    p.add_argument("--user", help="tasks assigned to the user, delegated by them, or unclaimed and offered to "
                                  "them or their groups")
    p.add_argument("--group", action="append", help="unclaimed tasks offered to this group (repeatable)")
    p.add_argument("--include-assigned", action="store_true",
                   help="with --user or --group: also tasks offered to them that someone has claimed")
    p.add_argument("--assignee")
    p.add_argument("--instance")
    p.add_argument("--business-key")
    p.add_argument("--key", help="process key")
    p.add_argument("--due-before", type=_date)
    p.add_argument("--due-after", type=_date)
    p.add_argument("--max", type=int, default=100)

    p = cmd("claim", "claim a task for a user")
    p.add_argument("task", metavar="TASK")
    p.add_argument("--user", required=True)

    p = cmd("unclaim", "give a task back to its candidates")
    p.add_argument("task", metavar="TASK")

    p = cmd("assign", "set a task's assignee")
    p.add_argument("task", metavar="TASK")
    p.add_argument("assignee", metavar="USER")

    p = cmd("complete", "complete a task with variables")
    p.add_argument("task", metavar="TASK")
    p.add_argument("--var", action="append", metavar="NAME=VALUE")
    p.add_argument("--user", help="who completes it")

    p = cmd("delegate", "hand a task to a user who gives it back with `resolve` (its assignee becomes its owner)")
    p.add_argument("task", metavar="TASK")
    p.add_argument("--user", required=True, help="the user to delegate it to")
    p.add_argument("--by", help="who delegates it (default: its assignee)")

    p = cmd("resolve", "give a delegated task back to its owner, with variables; the task stays open")
    p.add_argument("task", metavar="TASK")
    p.add_argument("--var", action="append", metavar="NAME=VALUE")
    p.add_argument("--user", help="who resolves it (default: its assignee, the delegate)")

    p = cmd("correlate", "deliver a message to the instance that waits for it (or start one)")
    p.add_argument("message", metavar="MESSAGE")
    p.add_argument("--business-key")
    p.add_argument("--instance")
    p.add_argument("--key", action="append", metavar="NAME=VALUE", help="a correlation key: a process variable")
    p.add_argument("--var", action="append", metavar="NAME=VALUE")
    p.add_argument("--all", action="store_true", help="deliver to every matching instance")

    p = cmd("signal", "broadcast a signal")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--var", action="append", metavar="NAME=VALUE")

    for name, help_text in (("cancel", "cancel an instance"), ("suspend", "suspend an instance"),
                            ("resume", "resume a suspended instance")):
        p = cmd(name, help_text)
        p.add_argument("instance", metavar="INSTANCE")
        if name == "cancel":
            p.add_argument("--reason")

    p = cmd("timers", "list pending timers")
    p.add_argument("--instance")

    cmd("fire-timers", "fire every timer that is due now")

    p = cmd("incidents", "list open incidents (failed jobs and scripts)")
    p.add_argument("--instance")

    p = cmd("retry", "retry a failed job or external task after fixing its cause")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--retries", type=int, default=1)

    p = cmd("job", "operate a pending job")
    p.add_argument("action", choices=["set-due"], help="set-due: move a timer to a new date-time")
    p.add_argument("job", metavar="JOB")
    p.add_argument("due", metavar="DATETIME", type=_date, help="ISO 8601, e.g. 2026-12-01T09:00:00Z")

    p = cmd("simulate", "run a process on a virtual clock with scripted answers and print its timeline")
    p.add_argument("files", nargs="+", metavar="FILE", help=".bpmn (and .dmn) files")
    p.add_argument("--answers", metavar="answers.json", help="variables, task answers and messages (see docs)")
    p.add_argument("--process", help="the process key when the files hold several")
    p.add_argument("--var", action="append", metavar="NAME=VALUE", help="a start variable")

    p = cmd("conformance", "deploy and run every BPMN model of a folder on throwaway databases; classify each")
    p.add_argument("folder", metavar="DIR", help="a folder of .bpmn/.bpmn20.xml files (searched recursively)")
    p.add_argument("--out", metavar="FILE", default="conformance-results.jsonl", help="per-file results (JSON lines)")
    p.add_argument("--max-steps", type=int, default=200, help="actions per file before giving up")
    p.add_argument("--time-limit", type=float, default=30.0, help="seconds per file before giving up")
    p.add_argument("--start-variables", metavar="FILE",
                   help='JSON {"files": {"PATH": {"start": {...}, "tasks": {"KEY": {...}}}}}: the variables a '
                   "file's test starts it with and sets at its tasks")
    p.add_argument("--deployments", metavar="FILE",
                   help='JSON {"files": {"PATH": {"with": ["PATH", ...]}}}: the files a file\'s test deploys with it')
    p.add_argument("--expected-failures", metavar="FILE",
                   help='JSON {"files": {"PATH": {"kind": ..., "match": ..., ...}}}: refusals and errors Camunda\'s '
                   "own tests expect (counted as refused-as-camunda / error-as-camunda when ours is the same)")

    p = cmd("db", "database schema")
    p.add_argument("action", choices=["upgrade", "revision"], help="upgrade: create or upgrade the schema")

    p = cmd("worker", "fire timers in the background (as many workers as you like, on one database)")
    p.add_argument("--memory-limit", type=int, metavar="MB",
                   help="address space per process, in MiB (a runaway script then fails instead of the machine)")

    p = cmd("serve", "run the HTTP server (REST API and inbox) and fire timers")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--deploy", action="extend", nargs="+", metavar="FILE",
                   help="deploy these files first (as one deployment; --deploy may be repeated)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.add_argument("--threads", type=int, default=8, help="threads per worker for requests (default 8)")
    p.add_argument("--long-polls", type=int, default=32, metavar="N",
                   help="threads per worker, besides those, for long-polling fetchAndLock requests that wait "
                        "(default 32; a poll beyond them is answered at once)")
    p.add_argument("--no-timers", action="store_true",
                   help="serve requests only; timers are left to `stageflow worker` processes")
    p.add_argument("--memory-limit", type=int, metavar="MB",
                   help="address space per process, in MiB (a runaway script then fails instead of the machine)")

    p = cmd("user", "users and groups of the inbox and the REST API")
    p.add_argument("action", choices=["add", "list", "password", "groups", "delete"])
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--password", help="at least 8 characters (add, password)")
    p.add_argument("--group", action="append", default=[], metavar="GROUP", help="a group (repeat for several)")
    p.add_argument("--exist-ok", action="store_true", help="add: a user of that name already there is no error")

    p = cmd("token", "API tokens for the REST API (Authorization: Bearer TOKEN)")
    p.add_argument("action", choices=["create", "revoke"])
    p.add_argument("token", nargs="?", metavar="TOKEN", help="the token to revoke")
    p.add_argument("--user", help="the token's user (create)")
    p.add_argument("--label", help="what the token is for")
    return parser


def run(args: argparse.Namespace) -> int:
    from .api import Engine
    from .config import Settings

    overrides = {"database_url": args.database} if args.database else {}
    settings = Settings.from_env(**overrides)
    out = Output(args.json)
    if args.command == "simulate":  # its own throwaway engine on a virtual clock
        return c_simulate(None, args, out)
    engine = Engine(settings)
    try:
        return COMMANDS[args.command](engine, args, out)
    finally:
        engine.close()


def c_deploy(engine: Any, args: argparse.Namespace, out: Output) -> int:
    result = engine.definitions.deploy_files(args.files, name=args.name)
    if out.as_json:
        out.record(result, "")
    elif not result.definitions and not result.decisions:
        print(f"nothing deployed: {_nothing_to_deploy(args.files, engine.settings.max_definition_bytes)}")
    elif not result.created:
        print(f"nothing changed: {', '.join(f'{d.key} v{d.version}' for d in result.definitions)}")
    else:
        print(f"deployment {result.id}")
        for d in result.definitions + result.decisions:
            print(f"  {d.key} version {d.version}  ({d.id})")
    if not out.as_json and (result.definitions or result.decisions):
        skipped = _not_executable(args.files, engine.settings.max_definition_bytes)
        if skipped:
            print(f"skipped, not executable (isExecutable=\"false\"): {', '.join(skipped)}")
    return 0


def _not_executable(paths: list[str], max_bytes: int) -> list[str]:
    """The processes of the BPMN files among `paths` that are not executable (deployed as Camunda does: skipped)."""
    from .definitions import not_executable

    return not_executable(_read(paths), max_bytes)


def _nothing_to_deploy(paths: list[str], max_bytes: int) -> str:
    """Why files that deployed cleanly gave no definition (exit status 0, as Camunda deploys them)."""
    from .definitions import nothing_to_deploy

    return nothing_to_deploy(_read(paths), max_bytes)


def _read(paths: list[str]) -> list[tuple[str, bytes]]:
    from pathlib import Path

    return [(path, Path(path).read_bytes()) for path in paths]


def c_definitions(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.records(engine.definitions.list(key=args.key, latest_only=args.latest), DEF_COLUMNS)
    return 0


def c_start(engine: Any, args: argparse.Namespace, out: Output) -> int:
    instance = engine.instances.start(args.key, business_key=args.business_key, variables=_vars(args.var),
                                      version=args.version, user=args.user,
                                      unique_business_key=True if args.unique else None, validate_form=args.form)
    out.record(instance, lambda b: f"started {b['id']} ({b['definitionId']}) state {b['state']}")
    return 0


def c_instances(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.records(engine.instances.list(definition_key=args.key, business_key=args.business_key, state=args.state,
                                      max_results=args.max), INSTANCE_COLUMNS)
    return 0


def c_show(engine: Any, args: argparse.Namespace, out: Output) -> int:
    state = engine.instances.state(args.instance)
    if out.as_json:
        out.record(state, "")
        return 0
    i = state.instance
    print(f"instance   {i.id}\ndefinition {i.definition_id}\nbusiness   {i.business_key or '-'}\n"
          f"state      {i.state}\nstarted    {i.started_at.isoformat()}"
          + (f"\nended      {i.ended_at.isoformat()}" if i.ended_at else "")
          + (f"\nreason     {i.delete_reason}" if i.delete_reason else ""))
    print(f"active     {', '.join(state.active_elements) or '-'}")
    print("variables")
    for name, value in state.variables.items():
        print(f"  {name} = {_text(value)}")
    if state.tasks:
        print("tasks")
        for t in state.tasks:
            print(f"  {t.id}  {t.name or t.task_definition_key}  assignee={t.assignee or '-'}  "
                  f"groups={','.join(t.candidate_groups) or '-'}")
    for title, rows in (("timers", state.timers), ("waiting for", state.subscriptions),
                        ("external tasks", state.external_tasks), ("incidents", state.incidents)):
        if rows:
            print(title)
            for row in rows:
                print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    print("history")
    for h in state.history:
        who = f" by {h.user_id}" if h.user_id else ""
        print(f"  {h.at.isoformat()}  {h.event:<10} {h.element_id} ({h.element_type}){who}")
    return 0


def _text(value: Any) -> str:
    """A variable's value for people: JSON, with its characters as they are (not `\\u00fc` escapes)."""
    return json_text(value, default=_json_value, ensure_ascii=False)


def c_variables(engine: Any, args: argparse.Namespace, out: Output) -> int:
    if args.set_vars or args.remove:
        engine.instances.set_variables(args.instance, _vars(args.set_vars), remove=args.remove or [])
    values = engine.instances.variables(args.instance)
    if out.as_json:
        print(json_text(values, indent=2, default=_json_value))
    else:
        for name, value in values.items():
            print(f"{name} = {_text(value)}")
    return 0


def c_tasks(engine: Any, args: argparse.Namespace, out: Output) -> int:
    filters: dict[str, Any] = {
        "assignee": args.assignee, "instance_id": args.instance, "business_key": args.business_key,
        "process_key": args.key, "due_before": args.due_before, "due_after": args.due_after,
    }
    if args.include_assigned and not (args.user or args.group):  # as Camunda's "Invalid query usage"
        raise BadRequest("--include-assigned goes with --user or --group: it adds the tasks offered to them that "
                         "someone has claimed")
    if args.user:  # the user's tasks and those offered to them or, as the REST API's candidateUser, their groups
        filters["involved_user"] = args.user
        filters["involved_groups"] = sorted({*_groups_of(engine, args.user), *(args.group or [])})
        filters["offered_unassigned"] = not args.include_assigned  # claimed by another: no longer on offer
    elif args.group:
        filters["candidate_groups"] = args.group
        filters["include_assigned"] = args.include_assigned
    out.records(engine.tasks.list(max_results=args.max, **filters), TASK_COLUMNS)
    return 0


def _groups_of(engine: Any, user: str) -> tuple[str, ...]:
    """The groups of a user account; a name with no account (`claim --user` takes any) has none."""
    try:
        return tuple(engine.identity.principal(user).groups)
    except NotFound:
        return ()


def c_claim(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.record(engine.tasks.claim(args.task, args.user), f"task {args.task} claimed by {args.user}")
    return 0


def c_unclaim(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.record(engine.tasks.unclaim(args.task), f"task {args.task} unclaimed")
    return 0


def c_assign(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.record(engine.tasks.assign(args.task, args.assignee), f"task {args.task} assigned to {args.assignee}")
    return 0


def c_complete(engine: Any, args: argparse.Namespace, out: Output) -> int:
    variables = engine.tasks.complete(args.task, _vars(args.var), user=args.user)
    out.record({"id": args.task, "variables": variables}, f"task {args.task} completed")
    return 0


def c_delegate(engine: Any, args: argparse.Namespace, out: Output) -> int:
    by = args.by or engine.tasks.get(args.task).assignee  # who hands it on: its assignee, when no one is named
    task = engine.tasks.delegate(args.task, args.user, by)
    out.record(task, f"task {args.task} delegated to {args.user}" + (f" by {by}" if by else ""))
    return 0


def c_resolve(engine: Any, args: argparse.Namespace, out: Output) -> int:
    variables = _vars(args.var)
    user = args.user or engine.tasks.get(args.task).assignee  # as `complete`: the delegate, when no one is named
    task = engine.tasks.resolve(args.task, variables, user=user)
    out.record(task, f"task {args.task} resolved: back with {task.owner}" if task.owner
               else f"task {args.task} resolved: back with its candidates (it had no owner)")
    return 0


def c_correlate(engine: Any, args: argparse.Namespace, out: Output) -> int:
    results = engine.messages.correlate(args.message, business_key=args.business_key, instance_id=args.instance,
                                        correlation_keys=_vars(args.key) or None, variables=_vars(args.var),
                                        all=args.all)
    if out.as_json:
        print(json_text([r.to_json() for r in results], indent=2, default=_json_value))
    else:
        for r in results:
            verb = "started" if r.result_type == "ProcessDefinition" else "delivered to"
            print(f"message {args.message} {verb} {r.instance.id}")
    return 0


def c_signal(engine: Any, args: argparse.Namespace, out: Output) -> int:
    count = engine.messages.signal(args.name, variables=_vars(args.var))
    out.record({"signal": args.name, "received": count}, f"signal {args.name} reached {count} instance(s)")
    return 0


def c_cancel(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.record(engine.instances.cancel(args.instance, reason=args.reason), f"instance {args.instance} cancelled")
    return 0


def c_suspend(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.record(engine.instances.suspend(args.instance), f"instance {args.instance} suspended")
    return 0


def c_resume(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.record(engine.instances.resume(args.instance), f"instance {args.instance} resumed")
    return 0


def c_timers(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.records(engine.jobs.list(instance_id=args.instance),
                (("id", "ID"), ("activityId", "ELEMENT"), ("dueDate", "DUE"), ("processInstanceId", "INSTANCE")))
    return 0


def c_fire_timers(engine: Any, args: argparse.Namespace, out: Output) -> int:
    """One tick of the scheduler, by hand: the due jobs, then the built-in workers (notifications, process starts,
    the client register) until none is left, then the notifications' mails."""
    fired, missed = engine.jobs.run_due(limit=100)
    worked = 0
    for _ in range(100):  # what follows a notification may be another one; a bound keeps a loop of them finite
        done = engine.handlers.run()
        worked += done
        if not done:
            break
    engine.mailer.deliver()
    out.record({"fired": fired, "failed": missed, "builtInTasks": worked}, f"{fired} due job(s) fired" + (
        f", {missed} failed: see `stageflow timers` (retries) and `stageflow incidents`" if missed else "") + (
        f"; the built-in workers did {worked} task(s) (notifications, process starts)" if worked else ""))
    return 0


def c_incidents(engine: Any, args: argparse.Namespace, out: Output) -> int:
    out.records(engine.jobs.incidents(instance_id=args.instance),
                (("id", "ID"), ("incidentType", "TYPE"), ("processInstanceId", "INSTANCE"), ("activityId", "ELEMENT"),
                 ("jobId", "JOB"), ("incidentMessage", "MESSAGE")))
    return 0


def c_retry(engine: Any, args: argparse.Namespace, out: Output) -> int:
    try:
        job = engine.jobs.retry(args.job, retries=args.retries)
    except NotFound:  # `incidents` lists a failed external task by its id too: give it new tries
        try:
            engine.external_tasks.set_retries(args.job, args.retries)
        except NotFound:
            raise NotFound(f"no job or external task '{args.job}'") from None
        task = engine.external_tasks.get(args.job)
        out.record(task, f"external task {args.job} can be fetched again ({task['retries']} retries)")
        return 0
    out.record(job, f"job {args.job} will run again now ({job['retries']} retries)")
    return 0


def c_user(engine: Any, args: argparse.Namespace, out: Output) -> int:
    identity = engine.identity
    if args.action == "list":
        out.records(identity.users(), [("id", "user"), ("groups", "groups")])
        return 0
    if not args.name:
        raise BadRequest(f"user {args.action} needs a NAME")
    if args.action == "add":
        if not args.password:
            raise BadRequest("user add needs --password")
        if args.exist_ok and any(u["id"] == args.name for u in identity.users()):
            out.record({"id": args.name}, f"user {args.name} already exists")
            return 0
        user = identity.add_user(args.name, args.password, args.group)
        out.record({"id": user.user_id, "groups": list(user.groups)},
                   f"user {user.user_id} added" + (f" to {', '.join(user.groups)}" if user.groups else ""))
    elif args.action == "password":
        if not args.password:
            raise BadRequest("user password needs --password")
        identity.set_password(args.name, args.password)
        out.record({"id": args.name}, f"password of {args.name} changed")
    elif args.action == "groups":
        identity.set_groups(args.name, args.group)
        out.record({"id": args.name, "groups": sorted(set(args.group))},
                   f"{args.name} is now in: {', '.join(sorted(set(args.group))) or 'no group'}")
    else:
        identity.delete_user(args.name)
        out.record({"id": args.name}, f"user {args.name} deleted")
    return 0


def c_token(engine: Any, args: argparse.Namespace, out: Output) -> int:
    if args.action == "create":
        if not args.user:
            raise BadRequest("token create needs --user")
        token = engine.identity.create_token(args.user, args.label)
        out.record({"user": args.user, "token": token}, token)
    else:
        if not args.token:
            raise BadRequest("token revoke needs the TOKEN")
        engine.identity.revoke_token(args.token)
        out.record({"revoked": True}, "token revoked")
    return 0


def c_job(engine: Any, args: argparse.Namespace, out: Output) -> int:
    job = engine.jobs.set_due(args.job, args.due)
    out.record(job, f"job {args.job} now due {job['dueDate']}")
    return 0


def c_simulate(engine: Any, args: argparse.Namespace, out: Output) -> int:
    from pathlib import Path

    from .simulate import load_answers, simulate

    answers = load_answers(args.answers) if args.answers else None
    timeline = simulate([Path(f) for f in args.files], answers=answers, process_key=args.process,
                        variables=_vars(args.var) or None)
    if out.as_json:
        print(json_text(timeline.to_json(), indent=2, default=_json_value))
    else:
        print(timeline.to_text())
    return EXIT_ERROR if timeline.status == "error" else 0


def c_conformance(engine: Any, args: argparse.Namespace, out: Output) -> int:
    from .conformance import main as conformance

    return conformance(args.folder, out=args.out, as_json=out.as_json, max_steps=args.max_steps,
                       time_limit=args.time_limit, start_variables=args.start_variables,
                       deployments=args.deployments, expected_failures=args.expected_failures)


def c_db(engine: Any, args: argparse.Namespace, out: Output) -> int:
    revision = engine.upgrade() if args.action == "upgrade" else engine.db.current_revision()
    if args.action == "upgrade":
        engine.db.analyze()  # fresh planner statistics (SQLite keeps none until asked)
    text = f"database at revision {revision}" if revision else "database not set up (run: stageflow db upgrade)"
    out.record({"revision": revision}, text)
    return 0


def c_serve(engine: Any, args: argparse.Namespace, out: Output) -> int:
    from web.server import serve  # the web layer sits on the engine, not in it: imported only here

    if args.long_polls < 0:
        raise BadRequest("--long-polls must not be negative")
    engine.upgrade()
    if args.deploy:
        # compared with what is deployed under any name, as `stageflow deploy` does: the same file deployed
        # before by hand makes no new version
        result = engine.definitions.deploy_files(args.deploy, source="serve --deploy")
        for d in result.definitions:
            print(f"{'deployed' if d.deployment_id == result.id else 'unchanged:'} {d.key} version {d.version}")
        for d in result.decisions:
            print(f"{'deployed' if d.deployment_id == result.id else 'unchanged:'} decision {d.key} version "
                  f"{d.version}")
    settings = engine.settings
    engine.close()  # the workers open their own after the fork
    _limit_memory(args.memory_limit)
    print(f"Stageflow listening on http://{args.host}:{args.port}/ (inbox) and "
          f"http://{args.host}:{args.port}/engine-rest (REST API), {args.workers} workers x {args.threads} threads"
          f" (and {args.long_polls} for long polls)"
          + ("" if args.no_timers else ", firing timers"), flush=True)
    serve(settings, host=args.host, port=args.port, workers=args.workers, threads=args.threads,
          long_polls=args.long_polls, scheduler=not args.no_timers)
    return 0


def _limit_memory(megabytes: int | None) -> None:
    """Cap this process's address space (inherited by gunicorn's workers, each capped on its own).

    Scripts have a time limit but no memory limit of their own: `s = s + s` in a loop doubles until the time
    limit. With a cap, the allocation that crosses it fails inside the script (an incident), not the machine.
    """
    if megabytes:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def c_worker(engine: Any, args: argparse.Namespace, out: Output) -> int:
    """Fire due timers until SIGTERM or SIGINT, then stop cleanly (a job in progress finishes): exit status 0."""
    import signal
    import threading

    from .scheduler import TimerScheduler

    _limit_memory(args.memory_limit)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    scheduler = TimerScheduler(engine)
    scheduler.start()
    print(f"Stageflow worker firing timers every {scheduler.poll_seconds} s", flush=True)
    try:
        stop.wait()
    finally:
        scheduler.stop()
    print("Stageflow worker stopped", flush=True)
    return 0


COMMANDS: dict[str, Callable[[Any, argparse.Namespace, Output], int]] = {
    "deploy": c_deploy, "definitions": c_definitions, "start": c_start, "instances": c_instances,
    "show": c_show, "variables": c_variables, "tasks": c_tasks, "claim": c_claim, "unclaim": c_unclaim,
    "assign": c_assign, "delegate": c_delegate, "resolve": c_resolve,
    "complete": c_complete, "correlate": c_correlate, "signal": c_signal, "cancel": c_cancel,
    "suspend": c_suspend, "resume": c_resume, "timers": c_timers, "fire-timers": c_fire_timers, "db": c_db,
    "incidents": c_incidents, "retry": c_retry, "job": c_job, "simulate": c_simulate,
    "conformance": c_conformance,
    "serve": c_serve, "worker": c_worker, "user": c_user, "token": c_token,
}


# commands that run until stopped: their log is how an operator sees failing timers and jobs
LOGGING_COMMANDS = frozenset({"serve", "worker"})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `stageflow` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = getattr(args, "json", False)
    _readable_output()
    try:
        _configure_logging(args.command, verbose=args.verbose)
        return run(args)
    except StageflowError as err:
        _report(err.to_json(), err.message, as_json)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `stageflow tasks | head -1`: the reader has all it wanted
        sys.stderr.close()
        return 0
    except Exception as err:  # noqa: BLE001 - a command line never shows a traceback
        logging.getLogger("stageflow").debug("unexpected error", exc_info=True)
        message = _database_problem(err, args) or f"unexpected {type(err).__name__}: {err}"
        _report({"type": "ProcessEngineException", "message": message, "code": 0}, message, as_json)
        return EXIT_ERROR


def _configure_logging(command: str, *, verbose: bool) -> None:
    """Engine log lines on stderr for `serve` and `worker`, `--verbose` or `$STAGEFLOW_LOG_LEVEL` only.

    Elsewhere a failure is reported once, as the one `error:` line: the engine's own warning about the same
    failing script would make it two.
    """
    raw = os.environ.get("STAGEFLOW_LOG_LEVEL", "").strip()
    level: int | None = None
    if raw:  # every logger at that level (SpiffWorkflow's and Alembic's too)
        level = logging.getLevelNamesMapping().get(raw.upper())
        if level is None:
            raise BadRequest(f"STAGEFLOW_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not '{raw}'")
    elif verbose or command in LOGGING_COMMANDS:
        level = logging.WARNING
    root = logging.getLogger()
    if level is None:
        if not root.handlers:  # else Python's last-resort handler still prints warnings on stderr
            root.addHandler(logging.NullHandler())
        return
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose and not raw:  # the engine's steps, without the libraries' chatter at INFO
        logging.getLogger("stageflow").setLevel(logging.INFO)


def _readable_output() -> None:
    """Characters a terminal's encoding lacks are printed as escapes rather than failing the command."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _database_problem(err: Exception, args: argparse.Namespace) -> str | None:
    """One line for a database the driver refused (SQLAlchemy's text adds a second line with a link)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from .config import DEFAULT_DATABASE_URL

    if not isinstance(err, DBAPIError):
        return None
    reason = _one_line(str(err.orig if err.orig is not None else err))
    url = make_url(getattr(args, "database", None) or os.environ.get("STAGEFLOW_DATABASE_URL", DEFAULT_DATABASE_URL))
    if not url.drivername.startswith("sqlite"):
        return f"database error ({url.render_as_string(hide_password=True)}): {reason}"
    from pathlib import Path

    path = Path(url.database or "")
    if "unable to open" in reason:
        missing = "" if path.parent.is_dir() else f"; the folder {path.parent} does not exist"
        return f"cannot open the database file {path}: {reason}{missing}"
    return f"database file {path}: {reason}"


def _one_line(message: str) -> str:
    """A message of several lines (a driver's hint on its second line) as one."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def _report(body: dict[str, Any], message: str, as_json: bool) -> None:
    print(json.dumps(body) if as_json else f"error: {_one_line(message)}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (`error: ...`, or JSON with --json), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        text = f"{self.prog}: {message} (see {self.prog.split()[0]} --help)"
        if "--json" in sys.argv[1:]:
            print(json.dumps(BadRequest(text).to_json()), file=sys.stderr)  # the shape of every other error
        else:
            print(f"error: {text}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())
