"""Account management for administrators: list, create, change, disable users, end sessions.

Only admins reach these routes; an admin bound to a region manages only accounts inside it.
Every change is an audit event in the log (never the password), written with the change.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, jsonify
from pydantic import Field

from command.accounts import Accounts
from command.auth import user_view
from command.models import Role
from web.api import Id, Strict, body
from web.auth import current_actor, hub, require
from web.hub import sweep_sessions
from web.openapi import documented

bp = Blueprint("admin", __name__, url_prefix="/api/v1")

Username = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")]
# long enough to resist guessing, short enough that hashing it is no denial of service
Password = Annotated[str, Field(min_length=10, max_length=200)]
Language = Annotated[str, Field(pattern=r"^(zh_CN|en)$")]


class NewUser(Strict):
    username: Username
    password: Password
    role: Role
    unit_id: Id | None = None
    region_id: Id | None = None
    language: Language = "zh_CN"


class UserChange(Strict):
    password: Password | None = None
    role: Role | None = None
    unit_id: Id | None = None
    region_id: Id | None = None
    active: bool | None = None
    language: Language | None = None


def _accounts() -> Accounts:
    return Accounts(hub().service)


@bp.get("/users")
@require(Role.ADMIN)
def list_users() -> Any:
    """Every account the admin manages, with its count of live tokens."""
    return jsonify([user_view(a.user, a.live_tokens)
                    for a in _accounts().list(current_actor())])


@bp.post("/users")
@require(Role.ADMIN)
def add_user() -> Any:
    """Create an account."""
    data = body(NewUser)
    user = _accounts().create(current_actor(), **data.model_dump())
    return jsonify(user_view(user)), 201


@bp.patch("/users/<int:user_id>")
@require(Role.ADMIN)
def change_user(user_id: int) -> Any:
    """Change role, unit, region, language or password, or disable the account; all but a
    language change end the user's sessions."""
    data = body(UserChange)
    account = _accounts().change(current_actor(), user_id, data.model_dump(exclude_unset=True))
    sweep_sessions(hub())
    return jsonify(user_view(account.user, account.live_tokens))


@bp.post("/users/<int:user_id>/revoke")
@documented(response={"type": "object", "required": ["revoked"],
                      "properties": {"revoked": {"type": "integer", "minimum": 0}}})
@require(Role.ADMIN)
def revoke_sessions(user_id: int) -> Any:
    """End every session of a user now (a lost tablet, a suspected leak)."""
    count = _accounts().revoke_sessions(current_actor(), user_id)
    sweep_sessions(hub())  # its open sockets on this process go now, others' within seconds
    return jsonify({"revoked": count})
