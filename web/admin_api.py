"""Account management for administrators: list, create, change, disable users, end sessions.

Only admins reach these routes; an admin bound to a region manages only accounts inside it.
Every change is an audit event in the log (never the password), written with the change.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, jsonify
from pydantic import Field
from sqlalchemy import select

from command.auth import (
    create_user,
    live_token_counts,
    managed_user,
    revoke_user_tokens,
    update_user,
    user_view,
)
from command.models import Role, User
from web.api import Id, Strict, body
from web.auth import current_actor, hub, require
from web.hub import sweep_sessions
from web.openapi import documented

bp = Blueprint("admin", __name__, url_prefix="/api/v1")

Username = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")]
# long enough to resist guessing, short enough that hashing it is no denial of service
Password = Annotated[str, Field(min_length=8, max_length=200)]
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


def _scope() -> frozenset[int] | None:
    """The regions the calling admin manages (None: the whole platform)."""
    actor = current_actor()
    return hub().service.region_counties(actor.region_id)


def _audit(tx: Any, type_: str, user: User, **data: Any) -> None:
    # filed under the account's region, so the admins and officers above it see it
    tx.record(type_, {"user_id": user.id, "username": user.username, **data},
              county_id=user.region_id, actor=current_actor())


@bp.get("/users")
@require(Role.ADMIN)
def list_users() -> Any:
    """Every account the admin manages, with its count of live tokens."""
    h = hub()
    scope = _scope()
    with h.service.reading() as s:
        live = live_token_counts(s, h.service.clock())
        users = s.scalars(select(User).order_by(User.id))
        return jsonify([user_view(u, live.get(u.id, 0)) for u in users
                        if scope is None or u.region_id in scope])


@bp.post("/users")
@require(Role.ADMIN)
def add_user() -> Any:
    """Create an account."""
    data = body(NewUser)
    scope = _scope()
    # a regional admin's new accounts belong to that region unless a region below is named
    region_id = data.region_id if data.region_id is not None else current_actor().region_id
    with hub().service.transaction() as tx:
        user = create_user(tx.session, username=data.username, password=data.password,
                           role=data.role, unit_id=data.unit_id, region_id=region_id,
                           language=data.language, scope=scope)
        _audit(tx, "user.created", user, role=user.role.value, unit_id=user.unit_id,
               region_id=user.region_id)
        view = user_view(user)
    return jsonify(view), 201


@bp.patch("/users/<int:user_id>")
@require(Role.ADMIN)
def change_user(user_id: int) -> Any:
    """Change role, unit, region, language or password, or disable the account; all but a
    language change end the user's sessions."""
    data = body(UserChange)
    actor = current_actor()
    scope = _scope()
    with hub().service.transaction() as tx:
        user = managed_user(tx.session, user_id, scope)
        changed = update_user(tx.session, user, tx.now, acting_user_id=actor.user_id,
                              changes=data.model_dump(exclude_unset=True), scope=scope)
        if changed:
            _audit(tx, "user.changed", user, fields=changed)
        view = user_view(user, live_token_counts(tx.session, tx.now).get(user.id, 0))
    sweep_sessions(hub())
    return jsonify(view)


@bp.post("/users/<int:user_id>/revoke")
@documented(response={"type": "object", "required": ["revoked"],
                      "properties": {"revoked": {"type": "integer", "minimum": 0}}})
@require(Role.ADMIN)
def revoke_sessions(user_id: int) -> Any:
    """End every session of a user now (a lost tablet, a suspected leak)."""
    scope = _scope()
    with hub().service.transaction() as tx:
        user = managed_user(tx.session, user_id, scope)
        count = revoke_user_tokens(tx.session, user.id, tx.now)
        _audit(tx, "user.tokens_revoked", user, revoked=count)
    sweep_sessions(hub())  # its open sockets on this process go now, others' within seconds
    return jsonify({"revoked": count})
