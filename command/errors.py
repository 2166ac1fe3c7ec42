"""Domain exceptions; the web adapter maps each to an HTTP status or a Socket.IO error event."""

from __future__ import annotations


class CommandError(Exception):
    """Base class: a request the domain refuses, with a code and the offending field."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(CommandError):
    status = 422
    code = "invalid"


class NotFound(CommandError):
    status = 404
    code = "not_found"


class Forbidden(CommandError):
    status = 403
    code = "forbidden"


class Conflict(CommandError):
    status = 409
    code = "conflict"


class UnitNotAvailable(Conflict):
    code = "unit_not_available"


class IncidentClosed(Conflict):
    code = "incident_closed"


class PossibleDuplicate(Conflict):
    """A report at the enterprise of, or near, an open incident: the officer decides first."""

    code = "possible_duplicate"

    def __init__(self, message: str, candidates: list[dict[str, object]]) -> None:
        super().__init__(message, "confirm_new")
        self.extra = {"candidates": candidates}
