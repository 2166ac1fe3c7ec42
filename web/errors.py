"""Map domain exceptions and bad input to JSON errors: {"error": {code, message, field}}."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException

from command.auth import AuthError
from command.errors import CommandError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def pydantic_field(exc: ValidationError) -> tuple[str, str | None]:
    """The first problem of a pydantic error as (message, dotted field path)."""
    first = exc.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or None
    return first["msg"], path


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return jsonify(error_body(exc.code, exc.message, exc.field)), exc.status

    @app.errorhandler(CommandError)
    def _domain_error(exc: CommandError) -> Any:
        extra = getattr(exc, "extra", {})
        return jsonify(error_body(exc.code, exc.message, exc.field, **extra)), exc.status

    @app.errorhandler(AuthError)
    def _auth_error(exc: AuthError) -> Any:
        return jsonify(error_body("unauthorized", str(exc))), 401

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> Any:
        message, field = pydantic_field(exc)
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                    for e in exc.errors()]
        return jsonify(error_body("invalid", message, field, problems=problems)), 422

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            code = (exc.name or "error").lower().replace(" ", "_")
            resp = jsonify(error_body(code, exc.description or exc.name))
            # keep what the exception says beyond the body (Allow on 405, Retry-After, ...)
            for name, value in exc.get_headers():
                if name.lower() != "content-type":
                    resp.headers[name] = value
            return resp, exc.code
        return exc

    @app.errorhandler(OperationalError)
    @app.errorhandler(SQLAlchemyTimeoutError)
    def _database_unavailable(exc: Exception) -> Any:
        # the database restarting or unreachable: the transaction was rolled back (or, if the
        # link broke during COMMIT, its outcome is unknown), so say "try again" plainly; a
        # retry with the same client_id is applied at most once
        app.logger.warning("database unavailable: %s", str(exc).splitlines()[0][:200])
        resp = jsonify(error_body("unavailable", "database unavailable; try again (with the "
                                  "same client_id)"))
        resp.headers["Retry-After"] = "2"
        return resp, 503

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error")
        return jsonify(error_body("internal", "internal error; nothing was changed")), 500
