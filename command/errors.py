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
