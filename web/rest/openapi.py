"""The OpenAPI 3 document of the REST API, served at `/engine-rest/openapi.json`.

Written as data next to the routes it describes; `tests/rest/test_openapi.py` checks that it is valid, that every
route of the blueprint is in it (so a new route cannot go undocumented) and fuzzes the API against it.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from engine import __version__
from engine.variables import BINARY_TYPES, CAMUNDA_TYPES

from . import bp

JSON = "application/json"


def _s(kind: str, nullable: bool = False, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, **extra}
    if nullable:
        schema["nullable"] = True
    return schema


STR, INT, BOOL, NUM = _s("string"), _s("integer"), _s("boolean"), _s("number")
NSTR, NINT = _s("string", True), _s("integer", True)
DATE = _s("string", True)  # Camunda's 2026-01-05T09:00:00.000+0000


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, **extra}
    if required:
        schema["required"] = required
    return schema


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


# the filters of Camunda's external task query, by kind (query string and POST body alike)
_EXT_TEXT = ("externalTaskId", "topicName", "workerId", "processInstanceId", "activityId", "executionId",
             "processDefinitionId", "processDefinitionKey", "lockExpirationAfter", "lockExpirationBefore")
_EXT_FLAGS = ("locked", "notLocked", "withRetriesLeft", "noRetriesLeft", "active", "suspended")
_EXT_LONG = ("priorityHigherThanOrEquals", "priorityLowerThanOrEquals")
_EXT_LISTS = ("externalTaskIdIn", "processInstanceIdIn", "activityIdIn")
EXT_SORT = ("id", "lockExpirationTime", "processInstanceId", "processDefinitionId", "processDefinitionKey",
            "taskPriority", "createTime")

# an instance's variables belong to its execution and root activity instance (ids: the instance's), a task's own to
# the task; Stageflow has no cases, batches or tenants, so a filter by one of them matches nothing
_VAR_SCOPES = ["executionIdIn", "activityInstanceIdIn", "taskIdIn", "caseInstanceIdIn", "caseExecutionIdIn",
               "caseActivityIdIn", "batchIdIn", "tenantIdIn"]
SCHEMAS: dict[str, Any] = {
    "Error": _obj({"type": STR, "message": STR, "code": INT, "details": _s("object", True)}, ["type", "message"]),
    "Count": _obj({"count": INT}, ["count"]),
    "VariableValue": _obj({"value": {"nullable": True},
                           # Camunda's type names, the first letter in either case (its JS client lowers it)
                           "type": _s("string", enum=[f(t[0]) + t[1:] for f in (str.upper, str.lower)
                                                      for t in (*CAMUNDA_TYPES, *BINARY_TYPES)]),
                           "valueInfo": _s("object")}),
    "Variables": _s("object", additionalProperties=_ref("VariableValue")),
    "Link": _obj({"method": STR, "href": STR, "rel": STR}),
    "ProcessDefinition": _obj({"id": STR, "key": STR, "category": NSTR, "description": NSTR, "name": NSTR,
                               "version": INT, "resource": NSTR, "deploymentId": STR, "diagram": NSTR,
                               "suspended": BOOL, "tenantId": NSTR, "versionTag": NSTR,
                               "historyTimeToLive": NINT, "startableInTasklist": BOOL},
                              ["id", "key", "version"]),
    "DecisionDefinition": _obj({"id": STR, "key": STR, "category": NSTR, "name": NSTR, "version": INT,
                                "resource": NSTR, "deploymentId": STR, "tenantId": NSTR,
                                "decisionRequirementsDefinitionId": NSTR, "decisionRequirementsDefinitionKey": NSTR,
                                "versionTag": NSTR, "historyTimeToLive": {"type": "integer", "nullable": True}},
                               ["id", "key", "version"]),
    "EvaluateRequest": _obj({"variables": _ref("Variables")}),
    "VariableInstance": _obj({"id": STR, "name": STR, "type": STR, "value": {"nullable": True},
                              "valueInfo": _s("object"), "processDefinitionId": NSTR, "processInstanceId": NSTR,
                              "executionId": NSTR, "caseInstanceId": NSTR, "caseExecutionId": NSTR, "taskId": NSTR,
                              "batchId": NSTR, "activityInstanceId": NSTR, "errorMessage": NSTR, "tenantId": NSTR},
                             ["id", "name", "type"]),
    "VariableQuery": _obj({"variableName": STR, "variableNameLike": STR, "processInstanceIdIn": _list(STR),
                           **{name: _list(STR) for name in _VAR_SCOPES},
                           "variableValues": _list(_obj({"name": STR, "operator": STR, "value": {"nullable": True}},
                                                        ["name"])),
                           "sortBy": STR, "sortOrder": STR,
                           "sorting": _list(_obj({"sortBy": STR, "sortOrder": STR}))},
                          additionalProperties=False),
    "HistoricVariableQuery": _obj({"variableName": STR, "variableNameLike": STR, "processInstanceId": STR,
                                   "variableValue": {"nullable": True},
                                   "processInstanceIdIn": _list(STR), "processDefinitionId": STR,
                                   "processDefinitionKey": STR, **{name: _list(STR) for name in _VAR_SCOPES},
                                   "variableValues": _list(_obj({"name": STR, "operator": STR,
                                                                 "value": {"nullable": True}}, ["name"])),
                                   "sortBy": STR, "sortOrder": STR,
                                   "sorting": _list(_obj({"sortBy": STR, "sortOrder": STR}))},
                                  additionalProperties=False),
    # POST queries: a field Stageflow does not support is a 400, never ignored (additionalProperties false)
    "ProcessInstanceQuery": _obj({
        **{name: STR for name in ("businessKey", "businessKeyLike", "processDefinitionKey", "processDefinitionId",
                                  "sortBy", "sortOrder")},
        "active": BOOL, "suspended": BOOL, "processInstanceIds": _list(STR), "processDefinitionKeyIn": _list(STR),
        "withIncident": BOOL, "activityIdIn": _list(STR), "rootProcessInstances": BOOL,
        "leafProcessInstances": BOOL,
        "variables": _list(_obj({"name": STR, "operator": _s("string", enum=["eq", "neq", "gt", "gteq", "lt", "lteq",
                                                                      "like"]),
                                 "value": {"nullable": True}},
                                ["name"])),
        "sorting": _list(_obj({"sortBy": STR, "sortOrder": STR}, ["sortBy", "sortOrder"]))},
        additionalProperties=False),
    "HistoricProcessInstanceQuery": _obj({
        **{name: STR for name in ("processInstanceId", "processDefinitionKey", "processDefinitionId", "businessKey",
                                  "processInstanceBusinessKey", "processInstanceBusinessKeyLike", "startedBy",
                                  "startedAfter", "startedBefore", "finishedAfter", "finishedBefore", "sortBy",
                                  "sortOrder")},
        "state": _s("string", enum=["ACTIVE", "SUSPENDED", "COMPLETED", "EXTERNALLY_TERMINATED",
                                    "INTERNALLY_TERMINATED"]),
        "finished": BOOL, "unfinished": BOOL, "processInstanceIds": _list(STR),
        "sorting": _list(_obj({"sortBy": STR, "sortOrder": STR}, ["sortBy", "sortOrder"]))},
        additionalProperties=False),
    "ExternalTaskQuery": _obj({
        **{name: STR for name in _EXT_TEXT}, **{name: BOOL for name in _EXT_FLAGS},
        **{name: INT for name in _EXT_LONG}, **{name: _list(STR) for name in _EXT_LISTS},
        "sorting": _list(_obj({"sortBy": STR, "sortOrder": STR}, ["sortBy", "sortOrder"]))},
        additionalProperties=False),
    "TaskQuery": _obj({
        **{name: STR for name in ("assignee", "candidateUser", "candidateGroup", "processInstanceId",
                                  "processInstanceBusinessKey", "processDefinitionKey", "processDefinitionId",
                                  "taskDefinitionKey", "nameLike", "dueBefore", "dueAfter", "sortBy", "sortOrder",
                                  "taskId", "involvedUser", "owner", "delegationState", "name",
                                  "createdBefore", "createdAfter")},
        **{name: _list(STR) for name in ("taskIdIn", "processDefinitionKeyIn", "assigneeIn",
                                         "processInstanceBusinessKeyIn")},
        "processVariables": _list(_obj({"name": STR, "operator": _s("string", enum=["eq", "neq", "gt", "gteq", "lt",
                                                                                     "lteq", "like"]),
                                        "value": {"nullable": True}}, ["name"])),
        **{name: BOOL for name in ("includeAssignedTasks", "unassigned", "withoutDueDate", "active", "suspended",
                                   "withCandidateGroups", "withoutCandidateGroups")},
        "candidateGroups": _list(STR),
        "sorting": _list(_obj({"sortBy": STR, "sortOrder": STR}, ["sortBy", "sortOrder"]))},
        additionalProperties=False),
    "UserProfile": _obj({"id": STR, "firstName": NSTR, "lastName": NSTR, "email": NSTR}, ["id"]),
    "Group": _obj({"id": STR, "name": NSTR, "type": NSTR}, ["id"]),
    "GroupInfo": _obj({"groups": _list(_ref("Group")),
                       "groupUsers": _list(_obj({"id": STR, "firstName": NSTR, "lastName": NSTR,
                                                 "displayName": NSTR}, ["id"]))}, ["groups", "groupUsers"]),
    "Deployment": _obj({"id": STR, "name": NSTR, "source": NSTR, "deploymentTime": DATE, "tenantId": NSTR,
                        "links": _list(_ref("Link")),
                        "deployedProcessDefinitions": _s("object", True,
                                                         additionalProperties=_ref("ProcessDefinition")),
                        "deployedDecisionDefinitions": _s("object", True),
                        "deployedCaseDefinitions": _s("object", True),
                        "deployedDecisionRequirementsDefinitions": _s("object", True)}, ["id"]),
    "ProcessInstance": _obj({"id": STR, "definitionId": STR, "definitionKey": STR, "businessKey": NSTR,
                             "caseInstanceId": NSTR, "ended": BOOL, "suspended": BOOL, "tenantId": NSTR,
                             "state": STR, "startTime": DATE, "endTime": DATE, "links": _list(_ref("Link")),
                             "variables": _ref("Variables")}, ["id", "definitionId", "ended", "suspended"]),
    "ActivityInstance": _obj({"id": STR, "parentActivityInstanceId": NSTR, "activityId": STR,
                              "activityType": NSTR, "activityName": NSTR, "name": NSTR, "processInstanceId": STR,
                              "processDefinitionId": STR, "childActivityInstances": _list(_s("object")),
                              "childTransitionInstances": _list(_s("object")), "executionIds": _list(STR),
                              "incidentIds": _list(STR), "incidents": _list(_s("object"))}, ["id", "activityId"]),
    "Task": _obj({"id": STR, "name": NSTR, "assignee": NSTR, "owner": NSTR, "created": DATE, "due": DATE,
                  "followUp": DATE, "delegationState": NSTR, "description": NSTR, "executionId": STR,
                  "parentTaskId": NSTR, "priority": INT, "processDefinitionId": STR, "processInstanceId": STR,
                  "taskDefinitionKey": STR, "caseExecutionId": NSTR, "caseInstanceId": NSTR,
                  "caseDefinitionId": NSTR, "suspended": BOOL, "formKey": NSTR, "tenantId": NSTR,
                  "businessKey": NSTR, "processDefinitionKey": NSTR, "candidateUsers": _list(STR),
                  "candidateGroups": _list(STR)}, ["id", "taskDefinitionKey", "processInstanceId"]),
    # PUT /task/{id}: the task as GET gave it, changed; fields other than these (id, created, ...) are ignored
    "TaskUpdateRequest": _obj({"name": NSTR, "description": NSTR, "assignee": NSTR, "owner": NSTR,
                               "delegationState": NSTR, "due": DATE, "followUp": DATE, "priority": NINT,
                               "parentTaskId": NSTR, "caseInstanceId": NSTR, "tenantId": NSTR}),
    "IdentityLink": _obj({"userId": NSTR, "groupId": NSTR, "type": STR}, ["type"]),
    "IdentityLinkRequest": _obj({"userId": NSTR, "groupId": NSTR, "type": STR}, ["type"]),
    "Comment": _obj({"id": STR, "userId": NSTR, "taskId": STR, "processInstanceId": NSTR, "time": DATE,
                     "message": STR, "removalTime": DATE, "rootProcessInstanceId": NSTR}, ["id", "message"]),
    "ExternalTask": _obj({"activityId": STR, "activityInstanceId": STR, "errorMessage": NSTR,
                          "errorDetails": NSTR, "executionId": STR, "id": STR, "lockExpirationTime": DATE,
                          "processDefinitionId": STR, "processDefinitionKey": STR,
                          "processDefinitionVersionTag": NSTR, "processInstanceId": STR, "retries": NINT,
                          "suspended": BOOL, "workerId": NSTR, "topicName": STR, "tenantId": NSTR, "priority": INT,
                          "businessKey": NSTR, "extensionProperties": _s("object"),
                          "variables": _ref("Variables")}, ["id", "topicName"]),
    "FormKey": _obj({"key": NSTR, "contextPath": NSTR}, ["key"]),
    "Job": _obj({"id": STR, "jobDefinitionId": NSTR, "processInstanceId": NSTR, "processDefinitionId": NSTR,
                 "processDefinitionKey": NSTR, "executionId": NSTR, "activityId": STR, "dueDate": DATE,
                 "retries": INT, "exceptionMessage": NSTR,
                 "failedActivityId": NSTR, "suspended": BOOL, "priority": INT, "tenantId": NSTR,
                 "createTime": DATE, "jobType": STR, "timerKind": NSTR}, ["id"]),
    "EventSubscription": _obj({"id": STR, "eventType": STR, "eventName": STR, "executionId": NSTR,
                               "processInstanceId": NSTR, "activityId": NSTR, "createdDate": DATE,
                               "tenantId": NSTR}, ["id", "eventType", "eventName"]),
    "Incident": _obj({"id": STR, "incidentType": STR, "processInstanceId": NSTR, "processDefinitionId": NSTR,
                      "activityId": NSTR, "failedActivityId": NSTR, "jobId": NSTR, "configuration": NSTR,
                      "incidentMessage": STR, "incidentTimestamp": DATE, "executionId": NSTR, "tenantId": NSTR,
                      "causeIncidentId": NSTR, "rootCauseIncidentId": NSTR, "jobDefinitionId": NSTR,
                      "annotation": NSTR},
                     ["id", "incidentType"]),
    "HistoricIncident": _obj({"id": STR, "processDefinitionKey": NSTR, "processDefinitionId": NSTR,
                              "processInstanceId": NSTR, "executionId": NSTR, "rootProcessInstanceId": NSTR,
                              "createTime": DATE, "endTime": DATE, "removalTime": DATE, "incidentType": STR,
                              "activityId": NSTR, "failedActivityId": NSTR, "causeIncidentId": NSTR,
                              "rootCauseIncidentId": NSTR, "configuration": NSTR, "historyConfiguration": NSTR,
                              "incidentMessage": STR, "tenantId": NSTR, "jobDefinitionId": NSTR, "open": BOOL,
                              "deleted": BOOL, "resolved": BOOL, "annotation": NSTR},
                             ["id", "incidentType", "open", "deleted", "resolved"]),
    "CorrelationResult": _obj({"resultType": _s("string", enum=["Execution", "ProcessDefinition"]),
                               "execution": _s("object", True), "processInstance": _s("object", True),
                               "variables": _ref("Variables")}, ["resultType"]),
    "HistoricProcessInstance": _obj({"id": STR, "businessKey": NSTR, "processDefinitionId": STR,
                                     "processDefinitionKey": STR, "processDefinitionName": NSTR,
                                     "processDefinitionVersion": NINT, "startTime": DATE, "endTime": DATE,
                                     "removalTime": DATE, "durationInMillis": NINT, "startUserId": NSTR,
                                     "startActivityId": NSTR, "endActivityId": NSTR, "state": STR,
                                     "deleteReason": NSTR, "rootProcessInstanceId": NSTR,
                                     "superProcessInstanceId": NSTR, "superCaseInstanceId": NSTR,
                                     "caseInstanceId": NSTR, "tenantId": NSTR}, ["id", "state"]),
    "HistoricActivityInstance": _obj({"id": STR, "parentActivityInstanceId": NSTR, "activityId": STR,
                                      "activityName": NSTR, "activityType": NSTR, "processInstanceId": STR,
                                      "processDefinitionId": STR, "processDefinitionKey": STR, "executionId": NSTR,
                                      "taskId": NSTR, "assignee": NSTR, "calledProcessInstanceId": NSTR,
                                      "calledCaseInstanceId": NSTR, "startTime": DATE, "endTime": DATE,
                                      "durationInMillis": NINT, "canceled": BOOL, "completeScope": BOOL,
                                      "tenantId": NSTR, "removalTime": DATE, "rootProcessInstanceId": NSTR},
                                     ["id", "activityId"]),
    "HistoricDecisionInstance": _obj({
        **{name: NSTR for name in (
            "decisionDefinitionId", "decisionDefinitionName", "processDefinitionId", "processDefinitionKey",
            "processInstanceId", "activityId", "activityInstanceId", "userId", "rootDecisionInstanceId",
            "rootProcessInstanceId", "caseDefinitionId", "caseDefinitionKey", "caseInstanceId",
            "decisionRequirementsDefinitionId", "decisionRequirementsDefinitionKey", "tenantId")},
        "id": STR, "decisionDefinitionKey": STR, "evaluationTime": DATE, "removalTime": DATE,
        "inputs": {"type": "array", "nullable": True, "items": _s("object")},
        "outputs": {"type": "array", "nullable": True, "items": _s("object")},
        "collectResultValue": {"nullable": True}}, ["id", "decisionDefinitionKey", "evaluationTime"]),
    "HistoricTask": _obj({"id": STR, "processDefinitionKey": STR, "processDefinitionId": STR,
                          "processInstanceId": STR, "executionId": STR, "activityInstanceId": STR, "name": NSTR,
                          "description": NSTR, "deleteReason": NSTR, "owner": NSTR, "assignee": NSTR,
                          "startTime": DATE, "endTime": DATE, "duration": NINT, "taskDefinitionKey": STR,
                          "priority": INT, "due": DATE, "followUp": DATE, "tenantId": NSTR, "parentTaskId": NSTR,
                          "caseDefinitionKey": NSTR, "caseDefinitionId": NSTR, "caseInstanceId": NSTR,
                          "caseExecutionId": NSTR, "removalTime": DATE, "rootProcessInstanceId": NSTR}, ["id"]),
    "Statistics": _obj({"@class": STR, "id": STR, "instances": INT, "failedJobs": INT,
                        "definition": _ref("ProcessDefinition"), "tenantId": NSTR,
                        "incidents": _list(_s("object"))}, ["id", "instances"]),
    "ActivityStatistics": _obj({"@class": STR, "id": STR, "instances": INT, "failedJobs": INT,
                                "incidents": _list(_obj({"incidentType": STR, "incidentCount": INT},
                                                        ["incidentType", "incidentCount"]))},
                               ["id", "instances", "failedJobs", "incidents"]),
    "DeploymentResource": _obj({"id": STR, "name": STR, "deploymentId": STR}, ["id", "name", "deploymentId"]),
    "StartRequest": _obj({"businessKey": NSTR, "variables": _ref("Variables"), "withVariablesInReturn": BOOL}),
    "CompleteRequest": _obj({"variables": _ref("Variables"), "withVariablesInReturn": BOOL}),
    "UserIdRequest": _obj({"userId": NSTR}),
    "ResolveRequest": _obj({"variables": _ref("Variables")}),
    "MessageRequest": _obj({"messageName": STR, "businessKey": NSTR, "processInstanceId": NSTR,
                            "correlationKeys": _ref("Variables"), "processVariables": _ref("Variables"),
                            "all": BOOL, "resultEnabled": BOOL, "variablesInResultEnabled": BOOL},
                           ["messageName"]),
    "SignalRequest": _obj({"name": STR, "executionId": NSTR, "variables": _ref("Variables"), "tenantId": NSTR,
                           "withoutTenantId": BOOL}, ["name"]),
    "FetchAndLockRequest": _obj({
        "workerId": STR, "maxTasks": _s("integer", minimum=0, maximum=2**31 - 1), "usePriority": BOOL,
        "sorting": _list(_obj({"sortBy": STR, "sortOrder": STR}, ["sortBy"])),
        "asyncResponseTimeout": _s("integer", minimum=0, maximum=1_800_000),
        "topics": _list(_obj({"topicName": STR, "lockDuration": _s("integer", minimum=1, maximum=2**31 - 1),
                              "variables": _list(STR), "localVariables": BOOL, "businessKey": NSTR,
                              "processDefinitionKey": NSTR,
                              "processDefinitionKeyIn": _list(STR), "processDefinitionId": NSTR,
                              "processDefinitionIdIn": _list(STR), "processVariables": _s("object"),
                              "tenantIdIn": _list(STR), "withoutTenantId": BOOL,
                              "processDefinitionVersionTag": NSTR, "includeExtensionProperties": BOOL,
                              "deserializeValues": BOOL},
                             ["topicName", "lockDuration"]))},
        ["workerId", "topics"]),
    "ExternalCompleteRequest": _obj({"workerId": STR, "variables": _ref("Variables"),
                                     "localVariables": _ref("Variables")}, ["workerId"]),
    "ExternalFailureRequest": _obj({"workerId": STR, "errorMessage": NSTR, "errorDetails": NSTR,
                                    "retries": _s("integer", minimum=0), "retryTimeout": _s("integer", minimum=0),
                                    "variables": _ref("Variables"), "localVariables": _ref("Variables")},
                                   ["workerId"]),
    "BpmnErrorRequest": _obj({"workerId": STR, "errorCode": STR, "errorMessage": NSTR,
                              "variables": _ref("Variables")}, ["workerId", "errorCode"]),
    "TaskBpmnErrorRequest": _obj({"errorCode": STR, "errorMessage": NSTR, "variables": _ref("Variables")},
                                 ["errorCode"]),
    "TaskEscalationRequest": _obj({"escalationCode": STR, "variables": _ref("Variables")}, ["escalationCode"]),
    "ExtendLockRequest": _obj({"workerId": STR, "newDuration": _s("integer", minimum=1)},
                              ["workerId", "newDuration"]),
    "Execution": _obj({"id": STR, "processInstanceId": STR, "ended": BOOL, "tenantId": NSTR},
                      ["id", "processInstanceId"]),
    "TriggerRequest": _obj({"variables": _ref("Variables")}),
    "VerifyRequest": _obj({"username": STR, "password": STR}, ["username", "password"]),
    "LockRequest": _obj({"workerId": STR, "lockDuration": _s("integer", minimum=1)}, ["workerId", "lockDuration"]),
    "RetriesRequest": _obj({"retries": _s("integer", minimum=0)}, ["retries"]),
    "JobRetriesRequest": _obj({"retries": _s("integer", minimum=0), "dueDate": DATE}, ["retries"]),
    "PriorityRequest": _obj({"priority": _s("integer")}, ["priority"]),
    "DueDateRequest": _obj({"duedate": STR}),
    "SuspendedRequest": _obj({"suspended": BOOL}, ["suspended"]),
    "InstancesSuspendedRequest": _obj({"suspended": BOOL, "processDefinitionId": NSTR, "processDefinitionKey": NSTR,
                                       "processInstanceIds": _list(STR), "processInstanceQuery": {"type": "object"},
                                       "historicProcessInstanceQuery": {"type": "object"},
                                       "processDefinitionTenantId": NSTR,
                                       "processDefinitionWithoutTenantId": BOOL}, ["suspended"]),
    "ModifyVariablesRequest": _obj({"modifications": _ref("Variables"), "deletions": _list(STR)}),
    "CommentRequest": _obj({"message": STR}, ["message"]),
}



def _optional_nullable(schema: dict[str, Any]) -> None:
    """Clients send `null` for optional request fields (Camunda's own external task client does): allow it."""
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        if name not in required and "$ref" not in prop:
            prop["nullable"] = True
        items = prop.get("items", {})
        if items.get("type") == "object":
            _optional_nullable(items)


for _name, _schema in SCHEMAS.items():
    if _name.endswith("Request"):
        _optional_nullable(_schema)

_ERRORS = {str(code): {"description": text, "content": {JSON: {"schema": _ref("Error")}}}
           for code, text in ((400, "bad input"), (401, "no or wrong credentials"), (403, "not allowed"),
                              (404, "unknown id"), (409, "conflict: already done, or a stale update"),
                              (503, "the database is not reachable"))}


def _op(summary: str, ok: dict[str, Any] | None, *, params: list[dict[str, Any]] | None = None,
        body: str | None = None, multipart: bool = False, public: bool = False,
        text: str | None = None) -> dict[str, Any]:
    """One operation; `text`: the media type of a plain-text result (instead of JSON)."""
    responses: dict[str, Any] = {}
    if text is not None:
        responses["200"] = {"description": "the result", "content": {text: {"schema": STR}}}
    elif ok is None:
        responses["204"] = {"description": "done"}
    else:
        responses["200"] = {"description": "the result", "content": {JSON: {"schema": ok}}}
    responses.update(_ERRORS)
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": False, "content": {JSON: {"schema": _ref(body)}}}
    if multipart:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": _obj({
            "deployment-name": STR, "deployment-source": STR, "deploy-changed-only": STR,
            "enable-duplicate-filtering": STR, "data": _s("string", format="binary")})}}}
    if public:
        op["security"] = []
    return op


def _q(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or STR}


def _p(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": STR}


PAGE = [_q("firstResult", _s("integer", minimum=0)), _q("maxResults", _s("integer", minimum=0))]
ID, KEY, NAME = _p("id"), _p("key"), _p("name")
# Camunda's deserializeValues (deserializeValue for one value), true by default: an Object serialized as JSON comes
# back as the JSON value it holds; false: as sent
DESERIALIZE = _q("deserializeValues", BOOL)
DESERIALIZE_ONE = _q("deserializeValue", BOOL)
DEF_FILTERS = [_q("key"), _q("keysIn"), _q("keyLike"), _q("name"), _q("nameLike"), _q("deploymentId"),
               _q("processDefinitionId"), _q("processDefinitionIdIn"), _q("versionTag"),
               _q("latestVersion", BOOL), _q("version", _s("integer", minimum=0)), _q("suspended", BOOL),
               _q("active", BOOL)]
DEC_FILTERS = [_q("key"), _q("name"), _q("latestVersion", BOOL)]
VAR_FILTERS = [_q("variableName"), _q("variableNameLike"), _q("processInstanceIdIn"), _q("variableValues"),
               *(_q(name) for name in _VAR_SCOPES), _q("sortBy"), _q("sortOrder")]
HISTORIC_VAR_FILTERS = [*VAR_FILTERS, _q("processInstanceId"), _q("processDefinitionId"), _q("processDefinitionKey"),
                        _q("variableValue")]
USER_FILTERS = [_q("id"), _q("idIn"), _q("firstName"), _q("lastName"), _q("email"), _q("memberOfGroup")]
GROUP_FILTERS = [_q("id"), _q("idIn"), _q("member"), _q("userMember")]
SORT_ORDER = _q("sortOrder", _s("string", enum=["asc", "desc"]))
# activity statistics: `incidents` and `incidentsForType` exclude each other
STATS = [_q("failedJobs", BOOL), _q("incidents", BOOL), _q("incidentsForType")]


def _sort_by(*names: str) -> list[dict[str, Any]]:
    """`sortBy` (one of `names`) and `sortOrder`: given together, as Camunda wants them."""
    return [_q("sortBy", _s("string", enum=list(names))), SORT_ORDER]


INST_FILTERS = [_q("businessKey"), _q("businessKeyLike"), _q("processDefinitionKey"), _q("processDefinitionId"),
                _q("processInstanceIds"), _q("active", BOOL), _q("suspended", BOOL), _q("variables"),
                _q("processDefinitionKeyIn"), _q("withIncident", BOOL), _q("activityIdIn"),
                _q("rootProcessInstances", BOOL), _q("leafProcessInstances", BOOL),
                *_sort_by("instanceId", "definitionKey", "definitionId", "businessKey")]
TASK_FILTERS = [_q("taskId"), _q("taskIdIn"), _q("involvedUser"), _q("assignee"), _q("candidateUser"),
                _q("candidateGroup"), _q("candidateGroups"),
                _q("includeAssignedTasks", BOOL), _q("unassigned", BOOL), _q("processInstanceId"),
                _q("processInstanceBusinessKey"), _q("processDefinitionKey"), _q("processDefinitionId"),
                _q("taskDefinitionKey"), _q("owner"), _q("delegationState"), _q("nameLike"), _q("dueBefore"),
                _q("dueAfter"), _q("name"), _q("processDefinitionKeyIn"), _q("assigneeIn"),
                _q("processInstanceBusinessKeyIn"), _q("createdBefore"), _q("createdAfter"), _q("processVariables"),
                _q("active", BOOL), _q("suspended", BOOL), _q("withCandidateGroups", BOOL),
                _q("withoutCandidateGroups", BOOL),
                _q("withoutDueDate", BOOL), _q("sortBy", _s("string", enum=["created", "dueDate", "followUpDate",
                                                                            "priority", "name", "assignee",
                                                                            "id", "nameCaseInsensitive"])),
                _q("sortOrder", _s("string", enum=["asc", "desc"]))]
HIST_INST_FILTERS = [_q("processInstanceId"), _q("processInstanceIds"), _q("processDefinitionKey"),
                     _q("processDefinitionId"), _q("businessKey"), _q("processInstanceBusinessKey"),
                     _q("processInstanceBusinessKeyLike"), _q("startedBy"), _q("finished", BOOL),
                     _q("unfinished", BOOL), _q("startedAfter"), _q("startedBefore"), _q("finishedAfter"),
                     _q("finishedBefore"),
                     _q("state", _s("string", enum=["ACTIVE", "SUSPENDED", "COMPLETED", "EXTERNALLY_TERMINATED",
                                                    "INTERNALLY_TERMINATED"])),
                     *_sort_by("instanceId", "definitionKey", "definitionId", "businessKey", "startTime",
                               "endTime")]
HIST_TASK_FILTERS = [_q("taskId"), _q("processInstanceId"), _q("processDefinitionKey"), _q("processDefinitionId"),
                     _q("processInstanceBusinessKey"), _q("taskAssignee"), _q("taskDefinitionKey"),
                     _q("finished", BOOL), _q("unfinished", BOOL),
                     *_sort_by("taskId", "startTime", "endTime", "taskName", "assignee", "dueDate",
                               "followUpDate", "priority", "taskDefinitionKey", "processInstanceId",
                               "processDefinitionId", "processDefinitionKey")]
HIST_DECISION_FILTERS = [_q(name) for name in (
    "decisionInstanceId", "decisionInstanceIdIn", "decisionDefinitionId", "decisionDefinitionIdIn",
    "decisionDefinitionKey", "decisionDefinitionKeyIn", "decisionDefinitionName", "processDefinitionId",
    "processDefinitionKey", "processInstanceId", "activityIdIn", "evaluatedBefore", "evaluatedAfter", "userId",
    "rootDecisionInstanceId")] + [_q(name, BOOL) for name in (
        "rootDecisionInstancesOnly", "includeInputs", "includeOutputs", "disableBinaryFetching",
        "disableCustomObjectDeserialization")] + _sort_by("evaluationTime")
EXECUTION_FILTERS = [_q(name) for name in (
    "processInstanceId", "businessKey", "processDefinitionId", "processDefinitionKey", "activityId",
    "messageEventSubscriptionName", "signalEventSubscriptionName")] + [_q("active", BOOL), _q("suspended", BOOL)]
SUBSCRIPTION_FILTERS = [_q("eventSubscriptionId"), _q("eventName"),
                        _q("eventType", _s("string", enum=["message", "signal", "compensate", "conditional"])),
                        _q("executionId"), _q("processInstanceId"), _q("activityId"), *_sort_by("created")]
JOB_FILTERS = [_q("jobId"), _q("processInstanceId"), _q("processDefinitionId"), _q("processDefinitionKey"),
               _q("activityId"),
               _q("dueDateBefore"), _q("dueDateAfter"), _q("dueDates"), _q("timers", BOOL), _q("messages", BOOL),
               _q("executable", BOOL), _q("withException", BOOL), _q("noRetriesLeft", BOOL),
               _q("withRetriesLeft", BOOL), _q("suspended", BOOL), _q("active", BOOL),
               *_sort_by("jobId", "jobDueDate", "jobRetries", "processInstanceId", "processDefinitionId")]
_INCIDENT_COMMON = [_q("incidentId"), _q("incidentType"), _q("incidentMessage"), _q("incidentMessageLike"),
                    _q("processDefinitionId"), _q("processDefinitionKeyIn"), _q("processInstanceId"),
                    _q("executionId"), _q("activityId"), _q("failedActivityId"), _q("causeIncidentId"),
                    _q("rootCauseIncidentId"), _q("configuration")]
_INCIDENT_SORTS = ("incidentId", "incidentMessage", "incidentType", "activityId", "failedActivityId",
                   "processInstanceId", "processDefinitionId", "executionId", "causeIncidentId",
                   "rootCauseIncidentId", "configuration")
INCIDENT_FILTERS = [*_INCIDENT_COMMON, _q("incidentTimestampBefore"), _q("incidentTimestampAfter"),
                    *_sort_by("incidentTimestamp", *_INCIDENT_SORTS)]
HIST_INCIDENT_FILTERS = [*_INCIDENT_COMMON, _q("processDefinitionKey"), _q("createTimeBefore"),
                         _q("createTimeAfter"), _q("open", BOOL), _q("resolved", BOOL), _q("deleted", BOOL),
                         *_sort_by("createTime", *_INCIDENT_SORTS)]
DEPLOYMENT_FILTERS = [_q("id"), _q("name"), _q("nameLike"), _q("source"), _q("after"), _q("before")]
EXT_FILTERS = [*(_q(name) for name in _EXT_TEXT), *(_q(name, BOOL) for name in _EXT_FLAGS),
               *(_q(name, _s("integer")) for name in _EXT_LONG), *(_q(name) for name in _EXT_LISTS),
               *_sort_by(*EXT_SORT)]
L = _list

PATHS: dict[str, dict[str, Any]] = {
    "/engine": {"get": _op("the engines", L(_obj({"name": STR})), public=True)},
    "/version": {"get": _op("the API version", _obj({"version": STR}), public=True)},
    "/openapi.json": {"get": _op("this document", _s("object"), public=True)},
    "/deployment/create": {"post": _op("deploy .bpmn/.dmn files (admins)", _ref("Deployment"), multipart=True)},
    "/deployment": {"get": _op("deployments", L(_ref("Deployment")),
                               params=DEPLOYMENT_FILTERS + _sort_by("id", "name", "deploymentTime") + PAGE)},
    "/deployment/count": {"get": _op("how many deployments", _ref("Count"), params=DEPLOYMENT_FILTERS)},
    "/deployment/{id}": {"get": _op("a deployment", _ref("Deployment"), params=[ID]),
                         "delete": _op("delete a deployment (admins)", None, params=[ID, _q("cascade", BOOL)])},
    "/deployment/{id}/resources": {"get": _op("the deployment's files", L(_ref("DeploymentResource")),
                                              params=[ID])},
    "/deployment/{id}/resources/{resource_id}": {"get": _op("one file of the deployment",
                                                            _ref("DeploymentResource"),
                                                            params=[ID, _p("resource_id")])},
    "/deployment/{id}/resources/{resource_id}/data": {"get": _op("the file's bytes as deployed", None,
                                                                 params=[ID, _p("resource_id")],
                                                                 text="application/octet-stream")},
    "/process-definition": {"get": _op("process definitions", L(_ref("ProcessDefinition")),
                                       params=DEF_FILTERS + _sort_by("id", "key", "name", "version", "deploymentId",
                                                                     "versionTag") + PAGE)},
    "/process-definition/count": {"get": _op("how many", _ref("Count"), params=DEF_FILTERS)},
    "/process-definition/statistics": {"get": _op("running instances per definition", L(_ref("Statistics")),
                                                  params=STATS)},
    "/process-definition/{id}": {"get": _op("a definition", _ref("ProcessDefinition"), params=[ID])},
    "/process-definition/key/{key}": {"get": _op("the latest version of a key", _ref("ProcessDefinition"),
                                                 params=[KEY])},
    "/process-definition/{id}/xml": {"get": _op("the BPMN", _obj({"id": STR, "bpmn20Xml": STR}), params=[ID])},
    "/process-definition/key/{key}/xml": {"get": _op("the BPMN", _obj({"id": STR, "bpmn20Xml": STR}),
                                                     params=[KEY])},
    "/process-definition/{id}/start": {"post": _op("start an instance", _ref("ProcessInstance"), params=[ID],
                                                   body="StartRequest")},
    "/process-definition/key/{key}/start": {"post": _op("start an instance", _ref("ProcessInstance"),
                                                        params=[KEY], body="StartRequest")},
    "/process-definition/{id}/submit-form": {"post": _op("start with the start form", _ref("ProcessInstance"),
                                                         params=[ID], body="StartRequest")},
    "/process-definition/key/{key}/submit-form": {"post": _op("start with the start form",
                                                              _ref("ProcessInstance"), params=[KEY],
                                                              body="StartRequest")},
    "/process-definition/{id}/startForm": {"get": _op("the start form key (camunda:formKey)", _ref("FormKey"),
                                                       params=[ID])},
    "/process-definition/key/{key}/startForm": {"get": _op("the start form key (camunda:formKey)",
                                                           _ref("FormKey"), params=[KEY])},
    "/process-definition/{id}/deployed-start-form": {"get": _op(
        "the file the start event's camunda:formKey names in the deployment", None, params=[ID],
        text="application/xhtml+xml")},
    "/process-definition/key/{key}/deployed-start-form": {"get": _op(
        "the file the start event's camunda:formKey names in the deployment", None, params=[KEY],
        text="application/xhtml+xml")},
    "/process-definition/{id}/form-variables": {"get": _op("start form fields", _ref("Variables"),
                                                           params=[ID, _q("variableNames")])},
    "/process-definition/key/{key}/form-variables": {"get": _op("start form fields", _ref("Variables"),
                                                                params=[KEY, _q("variableNames")])},
    "/process-definition/{id}/statistics": {"get": _op("running instances, failed jobs and incidents per activity",
                                                       L(_ref("ActivityStatistics")), params=[ID, *STATS])},
    "/process-definition/key/{key}/statistics": {"get": _op("the same, of the latest version of a key",
                                                            L(_ref("ActivityStatistics")), params=[KEY, *STATS])},
    "/decision-definition": {"get": _op("decision definitions", L(_ref("DecisionDefinition")),
                                        params=DEC_FILTERS + PAGE)},
    "/decision-definition/count": {"get": _op("how many", _ref("Count"), params=DEC_FILTERS)},
    "/decision-definition/{id}": {"get": _op("a decision", _ref("DecisionDefinition"), params=[ID])},
    "/decision-definition/key/{key}": {"get": _op("the latest version of a key", _ref("DecisionDefinition"),
                                                  params=[KEY])},
    "/decision-definition/{id}/xml": {"get": _op("the DMN", _obj({"id": STR, "dmnXml": STR}), params=[ID])},
    "/decision-definition/key/{key}/xml": {"get": _op("the DMN", _obj({"id": STR, "dmnXml": STR}),
                                                      params=[KEY])},
    "/decision-definition/{id}/evaluate": {"post": _op("evaluate: one map of outputs per matched rule",
                                                       L(_ref("Variables")), params=[ID], body="EvaluateRequest")},
    "/decision-definition/key/{key}/evaluate": {"post": _op("evaluate the latest version",
                                                            L(_ref("Variables")), params=[KEY],
                                                            body="EvaluateRequest")},
    "/variable-instance": {"get": _op("variables of running instances", L(_ref("VariableInstance")),
                                      params=VAR_FILTERS + PAGE + [DESERIALIZE]),
                           "post": _op("variables of running instances (query in the body)",
                                       L(_ref("VariableInstance")), params=PAGE + [DESERIALIZE],
                                       body="VariableQuery")},
    "/variable-instance/count": {"get": _op("how many", _ref("Count"), params=VAR_FILTERS),
                                 "post": _op("how many (query in the body)", _ref("Count"), body="VariableQuery")},
    "/history/variable-instance": {"get": _op("each variable's last value, of running and ended instances",
                                              L(_ref("VariableInstance")),
                                              params=HISTORIC_VAR_FILTERS + PAGE + [DESERIALIZE]),
                                   "post": _op("the same (query in the body)", L(_ref("VariableInstance")),
                                               params=PAGE + [DESERIALIZE], body="HistoricVariableQuery")},
    "/history/variable-instance/count": {"get": _op("how many", _ref("Count"),
                                                    params=HISTORIC_VAR_FILTERS),
                                         "post": _op("how many (query in the body)", _ref("Count"),
                                                     body="HistoricVariableQuery")},
    "/history/variable-instance/{id}": {"get": _op("one variable's last value, of a running or an ended instance",
                                                   _ref("VariableInstance"), params=[ID, DESERIALIZE_ONE])},
    "/variable-instance/{id}": {"get": _op("one variable", _ref("VariableInstance"),
                                           params=[ID, DESERIALIZE_ONE])},
    "/identity/groups": {"get": _op("a user's groups and their members", _ref("GroupInfo"),
                                    params=[_q("userId")])},
    "/identity/verify": {"post": _op("whether a username and password sign in",
                                     _obj({"authenticatedUser": NSTR, "authenticated": BOOL}),
                                     body="VerifyRequest")},
    "/user": {"get": _op("users (admins: all; others: their groups' members)", L(_ref("UserProfile")),
                         params=USER_FILTERS + PAGE)},
    "/user/count": {"get": _op("how many", _ref("Count"), params=USER_FILTERS)},
    "/user/{id}/profile": {"get": _op("a user's profile", _ref("UserProfile"), params=[ID])},
    "/group": {"get": _op("groups (admins: all; others: their own)", L(_ref("Group")),
                          params=GROUP_FILTERS + PAGE)},
    "/group/count": {"get": _op("how many", _ref("Count"), params=GROUP_FILTERS)},
    "/group/{id}": {"get": _op("a group", _ref("Group"), params=[ID])},
    "/process-instance": {"get": _op("running instances", L(_ref("ProcessInstance")), params=INST_FILTERS + PAGE),
                          "post": _op("running instances (query in the body)", L(_ref("ProcessInstance")),
                                      params=PAGE, body="ProcessInstanceQuery")},
    "/process-instance/count": {"get": _op("how many", _ref("Count"), params=INST_FILTERS),
                                "post": _op("how many (query in the body)", _ref("Count"),
                                            body="ProcessInstanceQuery")},
    "/process-instance/{id}": {"get": _op("a running instance", _ref("ProcessInstance"), params=[ID]),
                               "delete": _op("cancel it (admins)", None,
                                             params=[ID, _q("deleteReason"), _q("failIfNotExists")])},
    "/process-instance/suspended": {"put": _op(
        "suspend or resume the running instances of a definition, of a key's versions or those named (admins)",
        None, body="InstancesSuspendedRequest")},
    "/process-instance/{id}/suspended": {"put": _op("suspend or resume (admins)", None, params=[ID],
                                                    body="SuspendedRequest")},
    "/process-instance/{id}/variables": {"get": _op("its variables", _ref("Variables"), params=[ID, DESERIALIZE]),
                                         "post": _op("change variables (admins)", None, params=[ID],
                                                     body="ModifyVariablesRequest")},
    "/process-instance/{id}/variables/{name}": {"get": _op("one variable", _ref("VariableValue"),
                                                           params=[ID, NAME, DESERIALIZE_ONE]),
                                                "put": _op("set one variable (admins)", None, params=[ID, NAME],
                                                           body="VariableValue"),
                                                "delete": _op("remove one variable (admins)", None,
                                                              params=[ID, NAME])},
    "/process-instance/{id}/activity-instances": {"get": _op("the activity tree", _ref("ActivityInstance"),
                                                             params=[ID])},
    "/task": {"get": _op("open tasks", L(_ref("Task")), params=TASK_FILTERS + PAGE),
              "post": _op("open tasks (query in the body)", L(_ref("Task")), params=PAGE, body="TaskQuery")},
    "/task/count": {"get": _op("how many", _ref("Count"), params=TASK_FILTERS),
                    "post": _op("how many (query in the body)", _ref("Count"), body="TaskQuery")},
    "/task/{id}": {"get": _op("an open task (404 once completed or cancelled)", _ref("Task"), params=[ID]),
                   "put": _op("replace its name, description, assignee, owner, delegationState, due, followUp and "
                              "priority (a field not given is cleared, the priority 0, as Camunda's)", None,
                              params=[ID], body="TaskUpdateRequest")},
    "/task/{id}/claim": {"post": _op("claim", None, params=[ID], body="UserIdRequest")},
    "/task/{id}/unclaim": {"post": _op("unclaim", None, params=[ID])},
    "/task/{id}/assignee": {"post": _op("set the assignee", None, params=[ID], body="UserIdRequest")},
    "/task/{id}/delegate": {"post": _op("delegate to userId (the assignee becomes the owner)", None, params=[ID],
                                        body="UserIdRequest")},
    "/task/{id}/resolve": {"post": _op("hand a delegated task back to its owner, setting variables", None,
                                       params=[ID], body="ResolveRequest")},
    "/task/{id}/complete": {"post": _op("complete (200 with variables when asked)", _ref("Variables"),
                                        params=[ID], body="CompleteRequest")},
    "/task/{id}/submit-form": {"post": _op("complete through its form", _ref("Variables"), params=[ID],
                                           body="CompleteRequest")},
    "/task/{id}/bpmnError": {"post": _op("report a BPMN error: the catching error event takes over", None,
                                         params=[ID], body="TaskBpmnErrorRequest")},
    "/task/{id}/bpmnEscalation": {"post": _op("report an escalation: the catching escalation event takes over", None,
                                              params=[ID], body="TaskEscalationRequest")},
    "/task/{id}/deployed-form": {"get": _op("the file the task's camunda:formKey names in the deployment", None,
                                           params=[ID], text="application/xhtml+xml")},
    "/task/{id}/form": {"get": _op("the form key (camunda:formKey)", _ref("FormKey"), params=[ID])},
    "/task/{id}/form-variables": {"get": _op("form fields typed by their form types, then the task's other "
                                             "variables", _ref("Variables"),
                                             params=[ID, _q("variableNames"), DESERIALIZE])},
    "/task/{id}/variables": {"get": _op("the variables it sees", _ref("Variables"), params=[ID, DESERIALIZE]),
                             "post": _op("change its instance's variables (who may work it)", None, params=[ID],
                                         body="ModifyVariablesRequest")},
    "/task/{id}/variables/{name}": {"get": _op("one variable it sees", _ref("VariableValue"),
                                               params=[ID, NAME, DESERIALIZE_ONE]),
                                    "put": _op("set one variable of its instance", None, params=[ID, NAME],
                                               body="VariableValue"),
                                    "delete": _op("remove one variable of its instance", None, params=[ID, NAME])},
    "/task/{id}/localVariables": {"get": _op("its own variables (Camunda's local ones)", _ref("Variables"),
                                             params=[ID, DESERIALIZE]),
                                  "post": _op("change its own variables", None, params=[ID],
                                              body="ModifyVariablesRequest")},
    "/task/{id}/localVariables/{name}": {"get": _op("one of its own variables", _ref("VariableValue"),
                                                    params=[ID, NAME, DESERIALIZE_ONE]),
                                         "put": _op("set one of its own variables", None, params=[ID, NAME],
                                                    body="VariableValue"),
                                         "delete": _op("remove one of its own variables", None,
                                                       params=[ID, NAME])},
    "/task/{id}/identity-links": {"get": _op("assignee and candidates", L(_ref("IdentityLink")),
                                             params=[ID, _q("type")]),
                                  "post": _op("add a candidate user or group, or set the assignee or owner", None,
                                              params=[ID], body="IdentityLinkRequest")},
    "/task/{id}/identity-links/delete": {"post": _op("remove a candidate, or clear the assignee or owner", None,
                                                     params=[ID], body="IdentityLinkRequest")},
    "/task/{id}/comment": {"get": _op("comments", L(_ref("Comment")), params=[ID])},
    "/task/{id}/comment/create": {"post": _op("comment", _ref("Comment"), params=[ID], body="CommentRequest")},
    "/message": {"post": _op("correlate a message (200 with results when resultEnabled)",
                             L(_ref("CorrelationResult")), body="MessageRequest")},
    "/signal": {"post": _op("broadcast a signal", None, body="SignalRequest")},
    "/external-task": {"get": _op("external tasks", L(_ref("ExternalTask")), params=EXT_FILTERS + PAGE),
                       "post": _op("external tasks (query in the body)", L(_ref("ExternalTask")), params=PAGE,
                                   body="ExternalTaskQuery")},
    "/external-task/count": {"get": _op("how many", _ref("Count"), params=EXT_FILTERS),
                             "post": _op("how many (query in the body)", _ref("Count"),
                                         body="ExternalTaskQuery")},
    "/external-task/fetchAndLock": {"post": _op("fetch and lock (long polling)", L(_ref("ExternalTask")),
                                                body="FetchAndLockRequest")},
    "/external-task/{id}": {"get": _op("an external task", _ref("ExternalTask"), params=[ID])},
    "/external-task/{id}/complete": {"post": _op("complete", None, params=[ID], body="ExternalCompleteRequest")},
    "/external-task/{id}/failure": {"post": _op("report a failure", None, params=[ID],
                                                body="ExternalFailureRequest")},
    "/external-task/{id}/bpmnError": {"post": _op("raise a BPMN error", None, params=[ID],
                                                  body="BpmnErrorRequest")},
    "/external-task/{id}/lock": {"post": _op("lock one task by its id for a worker", None, params=[ID],
                                             body="LockRequest")},
    "/external-task/{id}/extendLock": {"post": _op("extend the lock", None, params=[ID],
                                                   body="ExtendLockRequest")},
    "/external-task/{id}/unlock": {"post": _op("unlock", None, params=[ID])},
    "/external-task/{id}/retries": {"put": _op("set retries (admins)", None, params=[ID], body="RetriesRequest")},
    "/external-task/{id}/priority": {"put": _op("set the priority (admins)", None, params=[ID],
                                                body="PriorityRequest")},
    "/external-task/{id}/errorDetails": {"get": _op("the last failure's details as plain text (204: none)", None,
                                                    params=[ID], text="text/plain")},
    "/external-task/topic-names": {"get": _op("the topics of open external tasks", L(STR), params=[
        _q("withLockedTasks", BOOL), _q("withUnlockedTasks", BOOL), _q("withRetriesLeft", BOOL)])},
    "/job": {"get": _op("jobs (admins)", L(_ref("Job")), params=JOB_FILTERS + PAGE)},
    "/job/count": {"get": _op("how many (admins)", _ref("Count"), params=JOB_FILTERS)},
    "/job/{id}": {"get": _op("a job (admins)", _ref("Job"), params=[ID])},
    "/job/{id}/stacktrace": {"get": _op("the last failure as plain text (admins)", None, params=[ID],
                                        text="text/plain")},
    "/job/{id}/retries": {"put": _op("set retries (admins), from `dueDate` when given", None, params=[ID],
                                     body="JobRetriesRequest")},
    "/job/{id}/duedate": {"put": _op("move the due date (admins)", None, params=[ID], body="DueDateRequest")},
    "/job/{id}/execute": {"post": _op("run it now (admins)", None, params=[ID])},
    "/event-subscription": {"get": _op("what waits for a message or signal (admins)", L(_ref("EventSubscription")),
                                       params=SUBSCRIPTION_FILTERS + PAGE)},
    "/event-subscription/count": {"get": _op("how many (admins)", _ref("Count"), params=SUBSCRIPTION_FILTERS)},
    "/incident": {"get": _op("open incidents (admins)", L(_ref("Incident")), params=INCIDENT_FILTERS + PAGE)},
    "/incident/count": {"get": _op("how many (admins)", _ref("Count"), params=INCIDENT_FILTERS)},
    "/history/incident": {"get": _op("every incident, open, resolved or deleted with its instance (admins)",
                                     L(_ref("HistoricIncident")), params=HIST_INCIDENT_FILTERS + PAGE)},
    "/history/incident/count": {"get": _op("how many (admins)", _ref("Count"), params=HIST_INCIDENT_FILTERS)},
    "/incident/{id}": {"get": _op("one open incident (admins)", _ref("Incident"), params=[ID])},
    "/history/process-instance": {"get": _op("instances, running and ended", L(_ref("HistoricProcessInstance")),
                                             params=HIST_INST_FILTERS + PAGE),
                                  "post": _op("instances, running and ended (query in the body)",
                                              L(_ref("HistoricProcessInstance")), params=PAGE,
                                              body="HistoricProcessInstanceQuery")},
    "/history/process-instance/count": {"get": _op("how many", _ref("Count"), params=HIST_INST_FILTERS),
                                        "post": _op("how many (query in the body)", _ref("Count"),
                                                    body="HistoricProcessInstanceQuery")},
    "/history/process-instance/{id}": {"get": _op("an instance, running or ended",
                                                  _ref("HistoricProcessInstance"), params=[ID])},
    "/history/activity-instance": {"get": _op("what an instance went through and where it waits",
                                              L(_ref("HistoricActivityInstance")),
                                              params=[_q("processInstanceId"), _q("activityId"), _q("activityType"),
                                                      _q("finished", BOOL), _q("unfinished", BOOL),
                                                      *_sort_by("activityInstanceId", "activityId", "activityName",
                                                                "activityType", "startTime", "endTime",
                                                                "duration")] + PAGE)},
    "/report/funnel": {"get": _op("the funnel and stage report of a process (admins, sales-heads)",
                                  _obj({"processDefinitionKey": STR, "at": STR, "instances": INT, "won": INT,
                                        "lost": INT, "stages": L(_s("object")), "people": L(_s("object"))}),
                                  params=[_q("processDefinitionKey")])},
    "/execution": {"get": _op("executions: one per running instance", L(_ref("Execution")),
                              params=EXECUTION_FILTERS + PAGE)},
    "/execution/count": {"get": _op("how many", _ref("Count"), params=EXECUTION_FILTERS)},
    "/execution/{id}": {"get": _op("an execution (an instance's, or an external task's)", _ref("Execution"),
                                   params=[ID])},
    "/execution/{id}/messageSubscriptions/{name}": {"get": _op("its wait for a message", _ref("EventSubscription"),
                                                               params=[ID, NAME])},
    "/execution/{id}/messageSubscriptions/{name}/trigger": {"post": _op(
        "deliver the message to this wait", None, params=[ID, NAME], body="TriggerRequest")},
    "/history/decision-instance": {"get": _op("decisions evaluated, by business rule tasks and on their own",
                                              L(_ref("HistoricDecisionInstance")),
                                              params=HIST_DECISION_FILTERS + PAGE)},
    "/history/decision-instance/count": {"get": _op("how many", _ref("Count"), params=HIST_DECISION_FILTERS)},
    "/history/decision-instance/{id}": {"get": _op("one decision evaluated", _ref("HistoricDecisionInstance"),
                                                   params=[ID, _q("includeInputs", BOOL),
                                                           _q("includeOutputs", BOOL),
                                                           _q("disableBinaryFetching", BOOL),
                                                           _q("disableCustomObjectDeserialization", BOOL)])},
    "/history/task": {"get": _op("tasks, open and ended", L(_ref("HistoricTask")), params=HIST_TASK_FILTERS + PAGE)},
    "/history/task/count": {"get": _op("how many", _ref("Count"), params=HIST_TASK_FILTERS)},
}

# a file's media type follows its name, as Camunda's (.bpmn and .dmn: application/xml)
PATHS["/deployment/{id}/resources/{resource_id}/data"]["get"]["responses"]["200"]["content"] = {
    media: {"schema": _s("string", format="binary")}
    for media in ("application/xml", "application/json", "application/octet-stream", "text/plain", "text/html",
                  "image/gif", "image/jpeg", "image/png", "image/svg+xml", "image/tiff")}

# a deployed form: an HTML form (embedded:deployment:...), or a Camunda Form's JSON (camunda-forms:deployment:...)
for _path in ("/task/{id}/deployed-form", "/process-definition/{id}/deployed-start-form",
              "/process-definition/key/{key}/deployed-start-form"):
    PATHS[_path]["get"]["responses"]["200"]["content"] = {
        media: {"schema": STR} for media in ("application/xhtml+xml", "application/json")}

# answered 204 unless the caller asks for the result (`withVariablesInReturn`, `resultEnabled`)
for _path in ("/task/{id}/complete", "/task/{id}/submit-form", "/message"):
    PATHS[_path]["post"]["responses"]["204"] = {"description": "done (no result asked for)"}


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.0 document."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Stageflow REST API (Camunda 7 compatible subset)", "version": __version__},
        "servers": [{"url": "/engine-rest"}],
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic"}, "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"basic": []}, {"bearer": []}],
        "paths": PATHS,
    }


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(document())
