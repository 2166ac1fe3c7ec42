"""Accounts, password hashing (Argon2id) and revocable, expiring bearer tokens.

argon2-cffi's PasswordHasher defaults to Argon2id (RFC 9106 low-memory profile); a stored
hash made with weaker parameters is upgraded at the next successful login.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from command.errors import Conflict, InvalidInput, NotFound
from command.models import AuthToken, Region, Role, Unit, User

_hasher = PasswordHasher()
# verifying against this keeps login time the same whether or not the username exists
_DUMMY_HASH = _hasher.hash("redline-dummy-password")


class AuthError(Exception):
    """Bad credentials or an unusable token."""


@dataclass(frozen=True)
class Actor:
    """The authenticated user behind a request or a socket connection."""

    user_id: int
    username: str
    role: Role
    unit_id: int | None
    region_id: int | None
    token_id: int | None = None
    language: str = "zh_CN"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


MIN_PASSWORD_LENGTH = 10
# the passwords every attacker tries first, and the demo's own
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password123", "passw0rd", "12345678", "123456789",
    "1234567890", "0123456789", "qwertyuiop", "1q2w3e4r5t", "iloveyou12", "admin12345",
    "administrator", "letmein123", "welcome123", "abc1234567", "aaaaaaaaaa", "1111111111",
    "0000000000", "8888888888", "5201314520", "woaini1314", "qwerty1234", "zaq12wsxcde",
    "redline123", "redline2026", "duty123456", "trainer123", "changeme12",
})


def check_password(username: str, password: str) -> None:
    """Refuse a password an attacker would guess: short, the username, or a common one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
                           "password")
    low = password.lower()
    if username and username.lower() in low:
        raise InvalidInput("a password must not contain the username", "password")
    if low in COMMON_PASSWORDS or len(set(low)) < 4:
        raise InvalidInput("this password is too easy to guess", "password")


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash."""
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(
    session: Session, username: str, password: str, now: dt.datetime, ttl: dt.timedelta
) -> tuple[str, Actor]:
    """Check a password and issue a new token; the same error for any failure."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise AuthError("invalid username or password") from None
    if user is None or not user.active:
        raise AuthError("invalid username or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    row = AuthToken(token_hash=_token_digest(token), user_id=user.id, created_at=now,
                    expires_at=now + ttl)
    session.add(row)
    session.flush()
    return token, _actor(user, row.id)


def authenticate(session: Session, token: str, now: dt.datetime) -> Actor:
    """The actor behind a bearer token, if it exists, is not expired and not revoked."""
    if not token or len(token) > 200:
        raise AuthError("missing or malformed token")
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == _token_digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthError("invalid or expired token")
    if not row.user.active:
        raise AuthError("account disabled")
    return _actor(row.user, row.id)


def revoke(session: Session, token_id: int, now: dt.datetime) -> None:
    row = session.get(AuthToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


def live_token_ids(session: Session, token_ids: set[int], now: dt.datetime) -> set[int]:
    """Which of these tokens are still valid (not revoked, not expired)."""
    if not token_ids:
        return set()
    return set(session.scalars(select(AuthToken.id).where(
        AuthToken.id.in_(token_ids), AuthToken.revoked_at.is_(None),
        AuthToken.expires_at > now)))


def revoke_user_tokens(session: Session, user_id: int, now: dt.datetime) -> int:
    """Revoke every live token of a user (an admin ending their sessions); how many."""
    rows = session.scalars(select(AuthToken).where(AuthToken.user_id == user_id,
                                                   AuthToken.revoked_at.is_(None),
                                                   AuthToken.expires_at > now))
    count = 0
    for tok in rows:
        tok.revoked_at = now
        count += 1
    return count


# ---- account management (admins only; the web layer checks the role) ---------------------


def user_view(user: User, live_tokens: int = 0) -> dict[str, object]:
    """A user as an admin sees it; never the password hash."""
    return {"id": user.id, "username": user.username, "role": user.role.value,
            "unit_id": user.unit_id, "region_id": user.region_id, "active": user.active,
            "language": user.language, "live_tokens": live_tokens}


def live_token_counts(session: Session, now: dt.datetime) -> dict[int, int]:
    rows = session.execute(select(AuthToken.user_id, func.count())
                           .where(AuthToken.revoked_at.is_(None), AuthToken.expires_at > now)
                           .group_by(AuthToken.user_id))
    return {int(uid): int(n) for uid, n in rows}


def _check_links(session: Session, role: Role, unit_id: int | None,
                 region_id: int | None, scope: frozenset[int] | None) -> None:
    """A unit account names an existing unit and nothing else does; the region exists and
    lies inside the managing admin's region."""
    if role is Role.UNIT:
        if unit_id is None:
            raise InvalidInput("a unit account needs unit_id", "unit_id")
    elif unit_id is not None:
        raise InvalidInput("only unit accounts have a unit_id", "unit_id")
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise InvalidInput(f"no unit {unit_id}", "unit_id")
        # a tablet account sees the unit's boards and acts for it: only the unit's own
        # county's admins (and those above) may make one, and its region must cover the unit
        if scope is not None and unit.county_id not in scope:
            raise InvalidInput(f"unit {unit_id} lies outside your region", "unit_id")
        if region_id is not None and unit.county_id is not None and region_id not in \
                _region_chain(session, unit.county_id):
            raise InvalidInput(f"unit {unit_id} lies outside region {region_id}", "region_id")
    if region_id is not None and session.get(Region, region_id) is None:
        raise InvalidInput(f"no region {region_id}", "region_id")
    if scope is not None and (region_id is None or region_id not in scope):
        raise InvalidInput("region_id must lie within your own region", "region_id")


def _region_chain(session: Session, region_id: int) -> set[int]:
    """The region and every region above it."""
    chain: set[int] = set()
    current: int | None = region_id
    while current is not None and current not in chain:
        chain.add(current)
        region = session.get(Region, current)
        current = region.parent_id if region is not None else None
    return chain


def managed_user(session: Session, user_id: int, scope: frozenset[int] | None) -> User:
    """A user the admin may manage: admins of a region manage only accounts inside it."""
    user = session.get(User, user_id)
    if user is None or (scope is not None and user.region_id not in scope):
        raise NotFound(f"no user {user_id}", "user_id")
    return user


def create_user(session: Session, *, username: str, password: str, role: Role,
                unit_id: int | None = None, region_id: int | None = None,
                language: str = "zh_CN", scope: frozenset[int] | None = None) -> User:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username} is taken", "username")
    check_password(username, password)
    _check_links(session, role, unit_id, region_id, scope)
    user = User(username=username, password_hash=hash_password(password), role=role,
                unit_id=unit_id, region_id=region_id, language=language, active=True)
    session.add(user)
    session.flush()
    return user


def update_user(session: Session, user: User, now: dt.datetime, *, acting_user_id: int,
                changes: dict[str, Any], scope: frozenset[int] | None = None) -> list[str]:
    """Apply an admin's changes; a new password, a new role or deactivation revokes the
    user's tokens. Returns the names of the fields changed."""
    if user.id == acting_user_id and (changes.get("active") is False
                                      or changes.get("role") not in (None, Role.ADMIN)):
        # the last way back in must not be an admin locking themselves out
        raise Conflict("you cannot deactivate or demote your own account", "active")
    role = Role(changes["role"]) if changes.get("role") is not None else user.role
    unit_id = changes.get("unit_id", user.unit_id)
    if role is not Role.UNIT and "unit_id" not in changes:
        unit_id = None
    region_id = changes.get("region_id", user.region_id)
    _check_links(session, role, unit_id, region_id, scope)
    changed: list[str] = []
    for name, value in (("role", role), ("unit_id", unit_id), ("region_id", region_id)):
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if "active" in changes and changes["active"] is not None and user.active != changes["active"]:
        user.active = bool(changes["active"])
        changed.append("active")
    if changes.get("language") is not None and user.language != changes["language"]:
        user.language = str(changes["language"])
        changed.append("language")
    if changes.get("password") is not None:
        check_password(user.username, str(changes["password"]))
        user.password_hash = hash_password(str(changes["password"]))
        changed.append("password")
    if {"password", "role", "active", "unit_id", "region_id"} & set(changed):
        revoke_user_tokens(session, user.id, now)
    return changed


def set_password(session: Session, username: str, password: str) -> None:
    """Set a user's password and revoke their tokens."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError(f"no such user: {username}")
    check_password(username, password)
    user.password_hash = hash_password(password)
    revoke_user_tokens(session, user.id, dt.datetime.now(dt.UTC))


def _actor(user: User, token_id: int | None) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        unit_id=user.unit_id,
        region_id=user.region_id,
        token_id=token_id,
        language=user.language,
    )
