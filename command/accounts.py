"""Account administration: create, change, disable users and end their sessions.

The account rules live in command/auth.py as functions on a session; here each change and
its audit event (never the password) commit together through the command service. An admin
bound to a region manages only the accounts inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from command.auth import (
    Actor,
    create_user,
    live_token_counts,
    managed_user,
    revoke_user_tokens,
    update_user,
)
from command.models import Role, User
from command.service import CommandService, Tx


@dataclass(frozen=True)
class Account:
    """A user with the count of their live sessions (tokens)."""

    user: User
    live_tokens: int


class Accounts:
    """The admin's account desk."""

    def __init__(self, service: CommandService) -> None:
        self.service = service

    def scope(self, admin: Actor) -> frozenset[int] | None:
        """The regions the admin manages (None: the whole platform)."""
        return self.service.region_counties(admin.region_id)

    def _audit(self, tx: Tx, admin: Actor, type_: str, user: User, **data: Any) -> None:
        # filed under the account's region, so the admins and officers above it see it
        tx.record(type_, {"user_id": user.id, "username": user.username, **data},
                  county_id=user.region_id, actor=admin)

    def list(self, admin: Actor) -> list[Account]:
        scope = self.scope(admin)
        with self.service.reading() as s:
            live = live_token_counts(s, self.service.clock())
            out = [Account(u, live.get(u.id, 0))
                   for u in s.scalars(select(User).order_by(User.id))
                   if scope is None or u.region_id in scope]
            # detach them loaded: the read-only session ends in a rollback, which would
            # expire them
            s.expunge_all()
        return out

    def create(self, admin: Actor, *, username: str, password: str, role: Role,
               unit_id: int | None = None, region_id: int | None = None,
               language: str = "zh_CN") -> User:
        scope = self.scope(admin)
        # a regional admin's new accounts belong to that region unless a region below is named
        region_id = region_id if region_id is not None else admin.region_id
        with self.service.transaction() as tx:
            user = create_user(tx.session, username=username, password=password, role=role,
                               unit_id=unit_id, region_id=region_id, language=language,
                               scope=scope)
            self._audit(tx, admin, "user.created", user, role=user.role.value,
                        unit_id=user.unit_id, region_id=user.region_id)
        return user

    def change(self, admin: Actor, user_id: int, changes: dict[str, Any]) -> Account:
        """Apply changes (role, unit, region, language, password, active); all but a language
        change revoke the user's tokens."""
        scope = self.scope(admin)
        with self.service.transaction() as tx:
            user = managed_user(tx.session, user_id, scope)
            changed = update_user(tx.session, user, tx.now, acting_user_id=admin.user_id,
                                  changes=changes, scope=scope)
            if changed:
                self._audit(tx, admin, "user.changed", user, fields=changed)
            tx.session.flush()
            live = live_token_counts(tx.session, tx.now).get(user.id, 0)
        return Account(user, live)

    def revoke_sessions(self, admin: Actor, user_id: int) -> int:
        """End every session of the user now; returns how many were live."""
        scope = self.scope(admin)
        with self.service.transaction() as tx:
            user = managed_user(tx.session, user_id, scope)
            count = revoke_user_tokens(tx.session, user.id, tx.now)
            self._audit(tx, admin, "user.tokens_revoked", user, revoked=count)
        return count
