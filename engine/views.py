"""What the engine returns: plain records with the field names of the Camunda 7 REST API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .store import models as m


def iso(value: datetime | None) -> str | None:
    """Camunda's date format, `2026-01-05T09:00:00.000+0000`, in UTC (the zone Stageflow serves in, as Camunda writes
    every date in its server's zone) and with four digits of year (year 26 is `0026`, which any ISO 8601 reader
    takes; `strftime` writes `26`). A moment with no zone is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is not None and value.utcoffset():
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # before year 1 in UTC: kept in its own zone
            offset = value.strftime("%z")
            return f"{_plain_iso(value)}{offset}"
    return f"{_plain_iso(value)}+0000"


def _plain_iso(v: datetime) -> str:
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
            f".{v.microsecond // 1000:03d}")


@dataclass
class DefinitionView:
    id: str
    key: str
    version: int
    name: str | None
    version_tag: str | None
    deployment_id: str
    resource: str
    suspended: bool
    startable: bool
    has_start_form: bool
    details: dict[str, Any] = field(default_factory=dict)  # the row's description: category, history time to live

    @classmethod
    def of(cls, row: m.ProcessDefinition) -> DefinitionView:
        return cls(row.id, row.key, row.version, row.name, row.version_tag, row.deployment_id,
                   row.resource_name, row.suspended, row.startable, row.has_start_form, row.description or {})

    @property
    def in_tasklist(self) -> bool:
        """Whether people start it from the inbox: not when `camunda:isStartableInTasklist="false"`, nor when only a
        message, signal or timer starts it."""
        return self.startable and self.details.get("startableInTasklist", True) is not False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "category": self.details.get("category", "http://bpmn.io/schema/bpmn"),
            "description": None,
            "name": self.name,
            "version": self.version,
            "resource": self.resource,
            "deploymentId": self.deployment_id,
            "diagram": None,
            "suspended": self.suspended,
            "tenantId": None,
            "versionTag": self.version_tag,
            "historyTimeToLive": self.details.get("historyTimeToLive"),
            # camunda:isStartableInTasklist as Camunda shows it (true unless false); the inbox lists by `in_tasklist`
            "startableInTasklist": self.details.get("startableInTasklist", True) is not False,
        }


@dataclass
class DecisionView:
    id: str
    key: str
    version: int
    name: str | None
    deployment_id: str
    resource: str

    @classmethod
    def of(cls, row: m.DecisionDefinition) -> DecisionView:
        return cls(row.id, row.key, row.version, row.name, row.deployment_id, row.resource_name)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "category": "http://camunda.org/schema/1.0/dmn",
            "name": self.name,
            "version": self.version,
            "resource": self.resource,
            "deploymentId": self.deployment_id,
            "tenantId": None,
            "decisionRequirementsDefinitionId": None,  # Stageflow keeps no decision requirements graphs
            "decisionRequirementsDefinitionKey": None,
            "versionTag": None,
            "historyTimeToLive": None,
        }


@dataclass
class DeploymentView:
    id: str
    name: str | None
    source: str | None
    deployment_time: datetime
    created: bool
    definitions: list[DefinitionView] = field(default_factory=list)
    decisions: list[DecisionView] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "deploymentTime": iso(self.deployment_time),
            "tenantId": None,
            "created": self.created,
            # what this deployment deployed, as Camunda's (unchanged files it left to earlier ones are not)
            "deployedProcessDefinitions": {d.id: d.to_json() for d in self.definitions
                                           if d.deployment_id == self.id} or None,
            "deployedDecisionDefinitions": {d.id: d.to_json() for d in self.decisions
                                            if d.deployment_id == self.id} or None,
        }


@dataclass
class ResourceView:
    """A file of a deployment, as Camunda's `DeploymentResourceDto`."""

    id: str
    name: str
    deployment_id: str

    @classmethod
    def of(cls, row: m.Resource) -> ResourceView:
        return cls(row.id, row.name, row.deployment_id)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "deploymentId": self.deployment_id}


ACTIVITY_STATISTICS_CLASS = "org.camunda.bpm.engine.rest.dto.repository.ActivityStatisticsResultDto"


@dataclass
class ActivityStatisticsView:
    """One activity of a definition at run time, as Camunda's `ActivityStatisticsResultDto`: the running
    instances waiting there, its failed jobs and open incidents (per type)."""

    id: str
    instances: int = 0
    failed_jobs: int = 0
    incidents: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"@class": ACTIVITY_STATISTICS_CLASS, "id": self.id, "instances": self.instances,
                "failedJobs": self.failed_jobs, "incidents": incident_counts_json(self.incidents)}


def incident_counts_json(incidents: dict[str, int]) -> list[dict[str, Any]]:
    """Open incidents per type, as Camunda's statistics list them (`IncidentStatisticsResultDto`)."""
    return [{"incidentType": kind, "incidentCount": count} for kind, count in sorted(incidents.items())]


@dataclass
class InstanceView:
    id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    state: str
    started_at: datetime
    ended_at: datetime | None
    variables: dict[str, Any] | None = None
    replayed: bool = False  # a repeated idempotent start returned the first one's instance
    delete_reason: str | None = None  # why it was cancelled (`cancel --reason`, Camunda's deleteReason)

    @classmethod
    def of(cls, row: m.ProcessInstance, variables: dict[str, Any] | None = None) -> InstanceView:
        return cls(row.id, row.definition_id, row.definition_key, row.business_key, row.state,
                   row.started_at, row.ended_at, variables, delete_reason=row.delete_reason)

    @property
    def ended(self) -> bool:
        return self.state in ("COMPLETED", "CANCELED")

    @property
    def suspended(self) -> bool:
        return self.state == "SUSPENDED"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "definitionId": self.definition_id,
            "definitionKey": self.definition_key,
            "businessKey": self.business_key,
            "caseInstanceId": None,
            "ended": self.ended,
            "suspended": self.suspended,
            "tenantId": None,
            "state": self.state,
            "startTime": iso(self.started_at),
            "endTime": iso(self.ended_at),
        }
        if self.variables is not None:
            body["variables"] = self.variables
        return body


@dataclass
class TaskView:
    id: str
    name: str | None
    task_definition_key: str
    process_instance_id: str
    process_definition_id: str
    process_definition_key: str
    business_key: str | None
    assignee: str | None
    owner: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    created: datetime
    due: datetime | None
    follow_up: datetime | None
    priority: int
    description: str | None
    form: list[dict[str, Any]]
    ended_at: datetime | None
    outcome: str | None
    suspended: bool
    form_key: str | None = None
    delegation_state: str | None = None  # PENDING once delegated, RESOLVED once handed back to the owner

    @classmethod
    def of(cls, row: m.HumanTask) -> TaskView:
        return cls(row.id, row.name, row.element_id, row.instance_id, row.definition_id, row.definition_key,
                   row.business_key, row.assignee, row.owner, list(row.candidate_users or []),
                   list(row.candidate_groups or []), row.created_at, row.due, row.follow_up, row.priority,
                   row.description, list(row.form or []), row.ended_at, row.outcome, row.suspended,
                   row.form_key, row.delegation_state)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "assignee": self.assignee,
            "owner": self.owner,
            "created": iso(self.created),
            "due": iso(self.due),
            "followUp": iso(self.follow_up),
            "delegationState": self.delegation_state,
            "description": self.description,
            "executionId": self.process_instance_id,
            "parentTaskId": None,
            "priority": self.priority,
            "processDefinitionId": self.process_definition_id,
            "processInstanceId": self.process_instance_id,
            "taskDefinitionKey": self.task_definition_key,
            "caseExecutionId": None,
            "caseInstanceId": None,
            "caseDefinitionId": None,
            "suspended": self.suspended,
            "formKey": self.form_key,
            "tenantId": None,
            "businessKey": self.business_key,
            "processDefinitionKey": self.process_definition_key,
            "candidateUsers": self.candidate_users,
            "candidateGroups": self.candidate_groups,
        }


@dataclass
class HistoryView:
    element_id: str
    element_type: str
    element_name: str | None
    event: str
    task_id: str | None
    user_id: str | None
    at: datetime
    details: dict[str, Any] | None

    @classmethod
    def of(cls, row: m.HistoryEvent) -> HistoryView:
        return cls(row.element_id, row.element_type, row.element_name, row.event, row.task_id, row.user_id,
                   row.at, row.details)

    def to_json(self) -> dict[str, Any]:
        return {
            "activityId": self.element_id,
            "activityType": self.element_type,
            "activityName": self.element_name,
            "event": self.event,
            "taskId": self.task_id,
            "userId": self.user_id,
            "time": iso(self.at),
            "details": self.details,
        }


@dataclass
class InstanceState:
    """An instance as an operator reads it: variables, open elements, waiting events, history."""

    instance: InstanceView
    variables: dict[str, Any]
    active_elements: list[str]
    tasks: list[TaskView]
    timers: list[dict[str, Any]]
    subscriptions: list[dict[str, Any]]
    external_tasks: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    history: list[HistoryView]

    def to_json(self) -> dict[str, Any]:
        body = self.instance.to_json()
        body.update({
            "deleteReason": self.instance.delete_reason,
            "variables": self.variables,
            "activeActivityIds": self.active_elements,
            "tasks": [t.to_json() for t in self.tasks],
            "timers": self.timers,
            "subscriptions": self.subscriptions,
            "externalTasks": self.external_tasks,
            "incidents": self.incidents,
            "history": [h.to_json() for h in self.history],
        })
        return body


@dataclass
class DiagramMarkers:
    """Which diagram elements of an instance to mark: where it waits or runs, where it has been, where it failed."""

    active: list[str]
    completed: list[str]
    incidents: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"active": self.active, "completed": self.completed, "incidents": self.incidents}
