"""The one error hierarchy of Stageflow.

Every layer raises these; `web/` maps each class to one HTTP status and the CLI to one line of text.
Each error carries the Camunda REST error ``type`` it is reported under.
"""

from __future__ import annotations


class StageflowError(Exception):
    """Base of every error Stageflow reports to a user."""

    status = 500
    rest_type = "ProcessEngineException"
    code = 0  # Camunda's exception code (7.20+): 1 for optimistic locking, which a client may retry; else 0

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, object]:
        """The error in Camunda's REST shape."""
        return {"type": self.rest_type, "message": self.message, "code": self.code}


class DefinitionError(StageflowError):
    """A BPMN or DMN file cannot be deployed; names the file, the element id and the line."""

    status = 400
    rest_type = "ParseException"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        element_id: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.element_id = element_id
        self.line = line
        self.column = column  # known for malformed XML only
        where = []
        if file:
            where.append(file + (f":{line}" if line else ""))
        elif line:
            where.append(f"line {line}")
        if element_id:
            where.append(f"element '{element_id}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)

    def to_json(self) -> dict[str, object]:
        body = super().to_json()
        body["details"] = {"file": self.file, "elementId": self.element_id, "line": self.line}
        return body

    def camunda_details(self) -> dict[str, object]:
        """The `details` of Camunda's ParseException body (REST): a report per resource, as Camunda Modeler reads
        it (`column` where the XML parser gave one)."""
        problem = {"message": self.message, "line": self.line, "column": self.column, "mainElementId": self.element_id,
                   "elementIds": [self.element_id] if self.element_id else []}
        return {self.file or "deployment": {"errors": [problem], "warnings": []}}


class ExpressionError(StageflowError):
    """An expression or condition is outside the supported subset or fails to compile."""

    status = 400
    rest_type = "ProcessEngineException"


class Unauthorized(StageflowError):
    """No credentials, or wrong ones."""

    status = 401
    rest_type = "AuthenticationException"


class TooManyAttempts(Unauthorized):
    """Sign-in refused for a while after several wrong passwords for the same user (`retry_after` seconds)."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(StageflowError):
    """A signed-in person asks for what is not theirs to see or do."""

    status = 403
    rest_type = "AuthorizationException"


class NotFound(StageflowError):
    """An id or key names nothing."""

    status = 404
    rest_type = "InvalidRequestException"


class Conflict(StageflowError):
    """A stale update, a task already completed, or a duplicate business key."""

    status = 409
    rest_type = "OptimisticLockingException"
    code = 1


class AlreadyClaimed(Conflict):
    """A task someone else has claimed: trying again will not help (Camunda's TaskAlreadyClaimedException, where a
    client retries an optimistic-locking conflict)."""

    rest_type = "TaskAlreadyClaimedException"
    code = 0


class DuplicateBusinessKey(Conflict):
    """A second running instance of a process with the same business key, where business keys are unique
    (Stageflow's option; Camunda has none): trying again will not help while the first one runs."""

    rest_type = "ProcessEngineException"
    code = 0


class InUse(Conflict):
    """A deployment whose definitions still have running instances, deleted without cascade (Camunda answers a
    ProcessEngineException: "Deletion of process definition without cascading failed")."""

    rest_type = "ProcessEngineException"
    code = 0


class Suspended(Conflict):
    """Work on a suspended instance, task or definition: trying again will not help until it is resumed
    (Camunda's SuspendedEntityInteractionException, where a client retries an optimistic-locking conflict)."""

    rest_type = "SuspendedEntityInteractionException"
    code = 0


class InvalidVariables(StageflowError):
    """Submitted variables do not fit a form or a type; names the field and the reason."""

    status = 400
    rest_type = "InvalidRequestException"

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        self.problems = [(field, reason)]  # every wrong field of a form, in form order (this one first)
        super().__init__(f"variable '{field}': {reason}")

    def to_json(self) -> dict[str, object]:
        body = super().to_json()
        body["details"] = {"field": self.field, "reason": self.reason}
        return body


class BadRequest(StageflowError):
    """A request that is malformed in a way no other class describes."""

    status = 400
    rest_type = "InvalidRequestException"


class MismatchingCorrelation(BadRequest):
    """A message that reaches no execution and starts no process, or several where one is expected (Camunda's
    MismatchingMessageCorrelationException, which clients tell from other bad requests)."""

    rest_type = "MismatchingMessageCorrelationException"


class ScriptError(StageflowError):
    """A script or expression failed while an instance ran; names the instance and element.

    Over HTTP a 400 (Camunda answers 500): the request's change is undone and the caller can act on the message,
    which is most often a variable the request left out.
    """

    status = 400
    rest_type = "ScriptEvaluationException"

    def __init__(
        self,
        message: str,
        *,
        element_id: str | None = None,
        instance_id: str | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = message
        self.element_id = element_id
        self.instance_id = instance_id
        self.line = line
        where = []
        if instance_id:
            where.append(f"instance {instance_id}")
        if element_id:
            where.append(f"element '{element_id}'")
        if line:
            where.append(f"line {line}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ScriptRejected(StageflowError):
    """A script uses something the restricted script engine does not allow (imports, dunders, ...)."""

    status = 400
    rest_type = "ScriptCompilationException"


class Unavailable(StageflowError):
    """The database cannot be reached right now."""

    status = 503
    rest_type = "ProcessEngineException"
