"""External tasks: `fetchAndLock` (with long polling), complete, failure, bpmnError, extendLock, unlock, list."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, current_app, jsonify, request

from engine.errors import BadRequest, NotFound
from engine.external_tasks import TopicRequest

from . import (
    arg_bool,
    arg_date,
    arg_list,
    arg_long,
    body,
    body_int,
    bp,
    engine,
    paging,
    readable_values,
    require_admin,
    sorting,
    typed_variables,
)

LONG_POLL_LIMIT_MS = 30 * 60 * 1000  # Camunda's upper bound for asyncResponseTimeout
POLL_INTERVAL_S = 0.2  # how often a long poll looks again (the worker's request is held meanwhile)


def _topics(data: dict[str, Any]) -> list[TopicRequest]:
    raw = data.get("topics")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'topics' must be a non-empty list")
    topics = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("topicName"), str):
            raise BadRequest("each topic needs a 'topicName'")
        names = item.get("variables")
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise BadRequest("a topic's 'variables' must be a list of names")
        keys = item.get("processDefinitionKeyIn") or ([item["processDefinitionKey"]]
                                                      if item.get("processDefinitionKey") else [])
        ids = item.get("processDefinitionIdIn") or ([item["processDefinitionId"]]
                                                    if item.get("processDefinitionId") else [])
        tenants = item.get("tenantIdIn")
        if tenants is not None and (not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants)):
            raise BadRequest("a topic's 'tenantIdIn' must be a list of tenant ids")
        topics.append(TopicRequest(topic_name=item["topicName"], lock_duration_ms=body_int(item, "lockDuration"),
                                   variables=names, local_variables=bool(arg_bool("localVariables", item)),
                                   business_key=item.get("businessKey"),
                                   process_definition_keys=list(keys), process_definition_ids=list(ids),
                                   process_variables=_plain_values(item.get("processVariables")),
                                   tenant_ids=tenants, version_tag=_text_or_none(item, "processDefinitionVersionTag"),
                                   include_extension_properties=bool(arg_bool("includeExtensionProperties", item))))
    return topics


def _text_or_none(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"a topic's '{name}' must be text")
    return value


def _plain_values(raw: Any) -> dict[str, Any]:
    """A topic's `processVariables` filter: names and plain values (Camunda's FetchExternalTaskTopicDto)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("a topic's 'processVariables' must map variable names to values")
    return dict(raw)


@bp.post("/external-task/fetchAndLock")
def fetch_and_lock():  # type: ignore[no-untyped-def]
    data = body()
    worker = data.get("workerId")
    if not isinstance(worker, str) or not worker:
        raise BadRequest("'workerId' is required")
    max_tasks = body_int(data, "maxTasks", 1)
    topics = _topics(data)
    timeout_ms = body_int(data, "asyncResponseTimeout", 0)
    if not 0 <= timeout_ms <= LONG_POLL_LIMIT_MS:
        raise BadRequest(f"asyncResponseTimeout must be between 0 and {LONG_POLL_LIMIT_MS} ms")
    use_priority = bool(arg_bool("usePriority", data))
    newest_first = _newest_first(data.get("sorting"))
    # a topic's deserializeValues (false by default, as Camunda's): its tasks' Objects as the JSON they hold
    readable = {t["topicName"] for t in data["topics"] if arg_bool("deserializeValues", t)}

    def answer(tasks: list[dict[str, Any]]) -> Response:
        for task in tasks:
            if task.get("topicName") in readable and task.get("variables"):
                task["variables"] = readable_values(task["variables"])
        return jsonify(tasks)

    def fetch() -> list[dict[str, Any]]:
        return engine().external_tasks.fetch_and_lock(worker, max_tasks, topics, use_priority=use_priority,
                                                      newest_first=newest_first)

    deadline = time.monotonic() + timeout_ms / 1000
    names = [t.topic_name for t in topics]
    tasks = fetch()
    if tasks or timeout_ms == 0:
        return answer(tasks)
    # A waiting poll holds one of the server's threads: past the process's slots for waiting polls, a poll is
    # answered at once (nothing yet), and its worker polls again, so that polls never take every thread.
    slots = current_app.extensions["stageflow_long_polls"]
    if not slots.acquire(blocking=False):
        return answer(tasks)
    try:
        while True:
            time.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))
            tasks = fetch() if engine().external_tasks.any_free(names) else []
            if tasks or time.monotonic() >= deadline:
                return answer(tasks)
    finally:
        slots.release()


def _newest_first(sorting: Any) -> bool:
    """Camunda's fetch `sorting` (7.21): `[{"sortBy": "createTime", "sortOrder": "desc"}]` fetches the newest tasks
    first; `asc` (the default) the oldest. `createTime` is the one criterion Camunda has."""
    if sorting is None:
        return False
    if not isinstance(sorting, list) or not all(isinstance(c, dict) for c in sorting):
        raise BadRequest("'sorting' must be a list of {sortBy, sortOrder} objects")
    newest = False
    for criterion in sorting:
        sort_by, order = criterion.get("sortBy"), criterion.get("sortOrder", "asc")
        if sort_by != "createTime":
            raise BadRequest(f"Cannot set query sortBy parameter to value '{sort_by}': fetchAndLock sorts by "
                             "'createTime' only")
        if order not in ("asc", "desc"):
            raise BadRequest(f"Cannot set query sortOrder parameter to value '{order}' (use 'asc' or 'desc')")
        newest = order == "desc"
    return newest


@contextmanager
def _task_errors() -> Iterator[None]:
    """An unknown task (404) or a request the engine refuses (400) as Camunda's ExternalTaskResourceImpl answers
    them: a `RestException`, where a malformed request body is an `InvalidRequestException`."""
    try:
        yield
    except (NotFound, BadRequest) as err:
        err.rest_type = "RestException"
        raise


def _worker(data: dict[str, Any]) -> str:
    worker = data.get("workerId")
    if not isinstance(worker, str) or not worker:
        raise BadRequest("'workerId' is required")
    return worker


@bp.post("/external-task/<task_id>/complete")
def complete_external(task_id: str):  # type: ignore[no-untyped-def]
    data = body()
    worker, values, local = _worker(data), typed_variables(data), typed_variables(data, "localVariables")
    with _task_errors():
        engine().external_tasks.complete(task_id, worker, values, local_variables=local)
    return "", 204


@bp.post("/external-task/<task_id>/failure")
def fail_external(task_id: str):  # type: ignore[no-untyped-def]
    data = body()
    worker, retries, timeout = _worker(data), body_int(data, "retries", 0), body_int(data, "retryTimeout", 0)
    values, local = typed_variables(data), typed_variables(data, "localVariables")
    with _task_errors():
        engine().external_tasks.failure(task_id, worker, data.get("errorMessage"),
                                        error_details=data.get("errorDetails"), retries=retries,
                                        retry_timeout_ms=timeout, variables=values, local_variables=local)
    return "", 204


@bp.post("/external-task/<task_id>/bpmnError")
def bpmn_error(task_id: str):  # type: ignore[no-untyped-def]
    data = body()
    code = data.get("errorCode")
    if not isinstance(code, str) or not code:
        raise BadRequest("'errorCode' is required")
    worker, values = _worker(data), typed_variables(data)
    with _task_errors():
        engine().external_tasks.bpmn_error(task_id, worker, code, data.get("errorMessage"), values)
    return "", 204


@bp.post("/external-task/<task_id>/lock")
def lock_external(task_id: str):  # type: ignore[no-untyped-def]
    data = body()
    worker, duration = _worker(data), body_int(data, "lockDuration")
    with _task_errors():
        engine().external_tasks.lock(task_id, worker, duration)
    return "", 204


@bp.post("/external-task/<task_id>/extendLock")
def extend_lock(task_id: str):  # type: ignore[no-untyped-def]
    data = body()
    worker, duration = _worker(data), body_int(data, "newDuration")
    with _task_errors():
        engine().external_tasks.extend_lock(task_id, worker, duration)
    return "", 204


@bp.post("/external-task/<task_id>/unlock")
def unlock(task_id: str):  # type: ignore[no-untyped-def]
    with _task_errors():
        engine().external_tasks.unlock(task_id)
    return "", 204


@bp.put("/external-task/<task_id>/retries")
def external_retries(task_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    retries = body_int(body(), "retries")
    with _task_errors():
        engine().external_tasks.set_retries(task_id, retries)
    return "", 204


@bp.put("/external-task/<task_id>/priority")
def external_priority(task_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    priority = body_int(body(), "priority")
    with _task_errors():
        engine().external_tasks.set_priority(task_id, priority)
    return "", 204


@bp.get("/external-task/<task_id>/errorDetails")
def external_error_details(task_id: str):  # type: ignore[no-untyped-def]
    """The last failure's details as plain text (Camunda: 204 when there are none)."""
    with _task_errors():
        details = engine().external_tasks.error_details(task_id)
    if details is None:
        return "", 204
    return Response(details, mimetype="text/plain")


@bp.get("/external-task/topic-names")
def topic_names():  # type: ignore[no-untyped-def]
    locked, unlocked = bool(arg_bool("withLockedTasks")), bool(arg_bool("withUnlockedTasks"))
    return jsonify(engine().external_tasks.topic_names(
        locked=None if locked == unlocked else locked, with_retries_left=bool(arg_bool("withRetriesLeft"))))


def _filters(source: Any) -> dict[str, Any]:
    """Camunda's external task query, from the query string (`GET`) or a JSON body (`POST`): lists are
    comma-separated in the one and arrays in the other, as Camunda's."""
    locked = True if arg_bool("locked", source) else (False if arg_bool("notLocked", source) else None)
    suspended = True if arg_bool("suspended", source) else (False if arg_bool("active", source) else None)
    ids = arg_list("externalTaskIdIn", source)
    if source.get("externalTaskId"):
        ids = [str(source["externalTaskId"])] if ids is None else [i for i in ids if i == source["externalTaskId"]]
    if (arg_bool("locked", source) and arg_bool("notLocked", source)
            or arg_bool("suspended", source) and arg_bool("active", source)):
        ids = []  # Camunda applies both of two opposite filters: no task passes them
    return {"ids": ids, "topic": source.get("topicName"), "worker_id": source.get("workerId"),
            "instance_id": source.get("processInstanceId"), "instance_ids": arg_list("processInstanceIdIn", source),
            "activity_id": source.get("activityId"), "activity_ids": arg_list("activityIdIn", source),
            "execution_id": source.get("executionId"), "definition_id": source.get("processDefinitionId"),
            "definition_key": source.get("processDefinitionKey"), "locked": locked, "suspended": suspended,
            "with_retries_left": arg_bool("withRetriesLeft", source),
            "no_retries_left": arg_bool("noRetriesLeft", source),
            "lock_expiration_after": arg_date("lockExpirationAfter", source),
            "lock_expiration_before": arg_date("lockExpirationBefore", source),
            "min_priority": arg_long("priorityHigherThanOrEquals", source),
            "max_priority": arg_long("priorityLowerThanOrEquals", source)}


@bp.get("/external-task")
def list_external():  # type: ignore[no-untyped-def]
    first, count = paging()
    return jsonify(engine().external_tasks.list(first=first, max_results=count, sorting=sorting(),
                                                **_filters(request.args)))


@bp.post("/external-task")
def query_external():  # type: ignore[no-untyped-def]
    first, count = paging()
    data = body()
    return jsonify(engine().external_tasks.list(first=first, max_results=count, sorting=sorting(data),
                                                **_filters(data)))


@bp.get("/external-task/count")
def count_external():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().external_tasks.count(**_filters(request.args))})


@bp.post("/external-task/count")
def query_count_external():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().external_tasks.count(**_filters(body()))})


@bp.get("/external-task/<task_id>")
def get_external(task_id: str):  # type: ignore[no-untyped-def]
    with _task_errors():
        return jsonify(engine().external_tasks.get(task_id))


