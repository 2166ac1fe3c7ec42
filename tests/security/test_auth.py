"""Passwords, tokens, sessions and login throttling, against the real hub and database."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from command.models import AuthToken, User
from tests.clock import Clock
from tests.security.helpers import app_for, login
from web.auth import RateLimiter
from web.extensions import socketio
from web.security import COOKIE_NAME, CSRF_HEADER, SECURE_COOKIE_NAME


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Any]:
    with app_for(db_url, CLOCK=clock, TOKEN_TTL_S=3600, LOGIN_RATE_LIMIT="5/60") as app:
        yield app


def test_passwords_are_stored_as_argon2id(app: Any) -> None:
    hub = app.extensions["redline"]
    with hub.service.reading() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    assert hashes
    for h in hashes:
        assert h.startswith("$argon2id$"), h[:20]
        assert "duty" not in h


def test_tokens_are_stored_only_as_hashes(app: Any) -> None:
    client = app.test_client()
    token = login(client, "duty")["token"]
    hub = app.extensions["redline"]
    with hub.service.reading() as s:
        stored = list(s.scalars(select(AuthToken.token_hash)))
    assert token not in stored and all(len(h) == 64 for h in stored)


def test_a_token_expires(app: Any, clock: Clock) -> None:
    client = app.test_client()
    headers = login(client, "duty")["headers"]
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    clock.now += dt.timedelta(seconds=3599)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    clock.now += dt.timedelta(seconds=2)
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    # an expired token cannot open a Socket.IO connection either
    sio = socketio.test_client(app, namespace="/hub",
                               auth={"token": headers["Authorization"][7:]})
    assert not sio.is_connected("/hub")


def test_logout_revokes_the_token_for_rest_and_socketio(app: Any) -> None:
    client = app.test_client()
    data = login(client, "E11")
    sio = socketio.test_client(app, namespace="/hub", auth={"token": data["token"]})
    assert sio.is_connected("/hub")
    assert client.post("/api/v1/auth/logout", headers=data["headers"]).status_code == 200
    assert client.get("/api/v1/me", headers=data["headers"]).status_code == 401
    # the open socket is closed at once: it hears no more events
    assert not sio.is_connected("/hub")
    again = socketio.test_client(app, namespace="/hub", auth={"token": data["token"]})
    assert not again.is_connected("/hub")


def test_admin_revokes_another_users_sessions(app: Any) -> None:
    client = app.test_client()
    admin = login(client, "admin")["headers"]
    victim = [login(client, "E12")["headers"] for _ in range(2)]
    users = client.get("/api/v1/users", headers=admin).get_json()
    e12 = next(u for u in users if u["username"] == "E12")
    assert e12["live_tokens"] == 2 and "password_hash" not in e12
    # nobody but an admin may end someone's sessions
    duty = login(client, "duty")["headers"]
    resp = client.post(f"/api/v1/users/{e12['id']}/revoke", headers=duty)
    assert resp.status_code == 403
    resp = client.post(f"/api/v1/users/{e12['id']}/revoke", headers=admin)
    assert resp.status_code == 200 and resp.get_json() == {"revoked": 2}
    for headers in victim:
        assert client.get("/api/v1/me", headers=headers).status_code == 401
    # the revocation is in the audit log, with who did it
    events = client.get("/api/v1/events", headers=admin).get_json()
    audit = [e for e in events if e["type"] == "user.tokens_revoked"]
    assert audit and audit[-1]["data"] == {"user_id": e12["id"], "username": "E12",
                                           "revoked": 2}


def test_admin_manages_users(app: Any) -> None:
    client = app.test_client()
    admin_login = login(client, "admin")
    admin = admin_login["headers"]
    name = "officer_" + secrets.token_hex(3)
    resp = client.post("/api/v1/users", headers=admin, json={
        "username": name, "password": "long enough pw", "role": "duty_officer"})
    assert resp.status_code == 201, resp.get_json()
    new = resp.get_json()
    assert new["role"] == "duty_officer" and new["active"] is True
    # taken names, short passwords and unit accounts without a unit are refused by field
    for payload, field in (
            ({"username": name, "password": "long enough pw", "role": "trainer"}, "username"),
            ({"username": name + "x", "password": "short", "role": "trainer"}, "password"),
            ({"username": name + "y", "password": "long enough pw", "role": "unit"}, "unit_id"),
            ({"username": name + "z", "password": "long enough pw", "role": "root"}, "role")):
        resp = client.post("/api/v1/users", headers=admin, json=payload)
        assert 400 <= resp.status_code < 500 and resp.get_json()["error"]["field"] == field
    officer = login(client, name, "long enough pw")["headers"]
    # an officer cannot manage accounts
    assert client.get("/api/v1/users", headers=officer).status_code == 403
    assert client.patch(f"/api/v1/users/{new['id']}", headers=officer,
                        json={"role": "admin"}).status_code == 403
    # disabling the account ends its sessions and its logins
    resp = client.patch(f"/api/v1/users/{new['id']}", headers=admin, json={"active": False})
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert client.get("/api/v1/me", headers=officer).status_code == 401
    resp = client.post("/api/v1/auth/login",
                       json={"username": name, "password": "long enough pw"})
    assert resp.status_code == 401
    # an admin cannot lock themselves out
    me = next(u for u in client.get("/api/v1/users", headers=admin).get_json()
              if u["username"] == "admin")
    resp = client.patch(f"/api/v1/users/{me['id']}", headers=admin, json={"active": False})
    assert resp.status_code == 409


def test_login_is_rate_limited_per_username_and_address(app: Any) -> None:
    client = app.test_client()
    for _ in range(5):
        resp = client.post("/api/v1/auth/login", json={"username": "duty", "password": "bad"})
        assert resp.status_code == 401
    resp = client.post("/api/v1/auth/login", json={"username": "duty", "password": "duty"})
    assert resp.status_code == 429, "even the right password waits out the window"
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.get_json()["error"]["code"] == "rate_limited"
    # another user from the same address, and the same user from elsewhere, are not blocked
    assert client.post("/api/v1/auth/login",
                       json={"username": "admin", "password": "admin"}).status_code == 200
    other = client.post("/api/v1/auth/login", json={"username": "duty", "password": "duty"},
                        environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200


def test_spraying_usernames_does_not_reset_a_blocked_login() -> None:
    """The table is bounded, but filling it with new usernames never frees a key under
    attack: the limiter evicts expired keys, then the least recently tried, never all."""
    now = [0.0]
    limiter = RateLimiter(3, 60, max_keys=50, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.hit("10.0.0.1|duty") is None
    assert limiter.hit("10.0.0.1|duty") is not None
    # ten times more usernames than the table holds, trying duty again now and then
    for i in range(500):
        now[0] += 0.01
        assert limiter.hit(f"10.0.0.1|user{i}") is None
        if i % 20 == 0:
            assert limiter.hit("10.0.0.1|duty") is not None, f"duty unblocked after {i}"
        assert limiter.tracked_keys() <= 50
    # recent sprayed keys kept their counts as well
    assert limiter.hit("10.0.0.1|user499") is None
    assert limiter.hit("10.0.0.1|user499") is None
    assert limiter.hit("10.0.0.1|user499") is not None
    now[0] += 61
    assert limiter.hit("10.0.0.1|duty") is None, "the window passed"


def test_a_full_login_limiter_drops_expired_keys_then_the_oldest() -> None:
    now = [0.0]
    limiter = RateLimiter(1, 10, max_keys=3, clock=lambda: now[0])
    for t, key in ((0, "a"), (5, "b"), (11, "c"), (12, "d")):  # at 12 "a" has expired
        now[0] = t
        assert limiter.hit(key) is None
    assert limiter.tracked_keys() == 3
    assert limiter.hit("b") is not None  # still blocked, and now the most recently tried
    now[0] = 13
    assert limiter.hit("e") is None  # full, nothing expired: "c", tried longest ago, goes
    assert limiter.tracked_keys() == 3
    assert limiter.hit("b") is not None
    assert limiter.hit("d") is not None
    assert limiter.hit("c") is None


@pytest.mark.services
def test_login_limit_is_shared_by_hub_processes_through_redis(db_url: str) -> None:
    """Two hubs on one Redis count the same attempts: spreading guesses over processes
    gains nothing."""
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.RedisError:
        pytest.fail("Redis on 127.0.0.1:6379 is required for the services tests")
    channel = "redline-test-" + secrets.token_hex(4)
    user = "nobody_" + secrets.token_hex(4)  # a fresh key: runs never share a window
    conf = {"REDIS_URL": "redis://127.0.0.1:6379/0", "SOCKETIO_CHANNEL": channel,
            "LOGIN_RATE_LIMIT": "4/60"}
    try:
        with app_for(db_url, **conf) as one, app_for(db_url, **conf) as two:
            from web.security import RedisRateLimiter

            assert isinstance(one.extensions["redline"].login_limiter, RedisRateLimiter)
            codes = []
            for i in range(6):
                app = one if i % 2 == 0 else two
                resp = app.test_client().post("/api/v1/auth/login",
                                              json={"username": user, "password": "x"})
                codes.append(resp.status_code)
            assert codes == [401, 401, 401, 401, 429, 429]
    finally:
        # later apps in this process run without a message queue
        with app_for(db_url):
            pass


def test_cookie_sessions_are_httponly_samesite_and_need_csrf(app: Any) -> None:
    client = app.test_client()
    resp = client.post("/api/v1/auth/login",
                       json={"username": "duty", "password": "duty", "cookie": True})
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["token"] is None and data["csrf_token"]
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(COOKIE_NAME + "=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on one machine; see the Secure test below
    # the cookie authenticates reads
    assert client.get("/api/v1/me").get_json()["username"] == "duty"
    # a state change with the cookie alone is refused and changes nothing
    before = client.get("/api/v1/incidents").get_json()
    enterprises = client.get("/api/v1/enterprises").get_json()
    report = {"kind": "fire", "enterprise_id": enterprises[0]["id"]}
    resp = client.post("/api/v1/incidents", json=report)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "csrf_failed"
    resp = client.post("/api/v1/incidents", json=report, headers={CSRF_HEADER: "0" * 64})
    assert resp.status_code == 403
    assert client.get("/api/v1/incidents").get_json() == before
    resp = client.post("/api/v1/incidents", json=report,
                       headers={CSRF_HEADER: data["csrf_token"]})
    assert resp.status_code == 201
    # logout clears the cookie and revokes its token
    resp = client.post("/api/v1/auth/logout", headers={CSRF_HEADER: data["csrf_token"]})
    assert resp.status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_secure_cookie_configuration(db_url: str) -> None:
    with app_for(db_url, SESSION_COOKIE_SECURE=True) as app:
        client = app.test_client()
        resp = client.post("/api/v1/auth/login",
                           json={"username": "duty", "password": "duty", "cookie": True},
                           base_url="https://hub.example")
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith(SECURE_COOKIE_NAME + "=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_revoked_session_stops_hearing_live_events(app: Any) -> None:
    """Revoking ends the socket too, not only the next command it sends."""
    client = app.test_client()

    def token(name: str) -> str:
        r = client.post("/api/v1/auth/login", json={"username": name, "password": name})
        return str(r.get_json()["token"])

    officer = socketio.test_client(app, namespace="/hub", auth={"token": token("duty")})
    admin = token("admin")
    watcher = socketio.test_client(app, namespace="/hub", auth={"token": admin})
    assert officer.is_connected("/hub") and watcher.is_connected("/hub")
    users = client.get("/api/v1/users", headers={"Authorization": f"Bearer {admin}"}).get_json()
    duty_id = next(u["id"] for u in users if u["username"] == "duty")
    resp = client.post(f"/api/v1/users/{duty_id}/revoke",
                       headers={"Authorization": f"Bearer {admin}"})
    assert resp.status_code == 200 and resp.get_json()["revoked"] >= 1
    assert not officer.is_connected("/hub"), "the revoked officer's socket is closed"
    assert watcher.is_connected("/hub"), "other sessions stay"
    watcher.disconnect("/hub")


def test_an_event_named_disconnect_cannot_hide_a_socket_from_revocation(app: Any) -> None:
    """A client that emits an ordinary event called "disconnect" stays connected: it must
    not drop out of the hub's table and so keep hearing events after its token is revoked."""
    client = app.test_client()

    def token(name: str) -> str:
        r = client.post("/api/v1/auth/login", json={"username": name, "password": name})
        return str(r.get_json()["token"])

    officer = socketio.test_client(app, namespace="/hub", auth={"token": token("duty")})
    admin = token("admin")
    officer.emit("disconnect", {}, namespace="/hub")
    assert officer.is_connected("/hub")
    users = client.get("/api/v1/users", headers={"Authorization": f"Bearer {admin}"}).get_json()
    duty_id = next(u["id"] for u in users if u["username"] == "duty")
    client.post(f"/api/v1/users/{duty_id}/revoke", headers={"Authorization": f"Bearer {admin}"})
    assert not officer.is_connected("/hub"), "revocation cut the socket whatever it sent"


def test_behind_a_trusted_proxy_one_address_cannot_lock_out_the_others(db_url: str) -> None:
    """nginx forwards every client from one address: only a configured proxy's
    X-Forwarded-For names the client, so ten wrong passwords lock out their sender only."""
    with app_for(db_url, LOGIN_RATE_LIMIT="5/60", TRUSTED_PROXIES=["127.0.0.1"]) as app:
        client = app.test_client()
        attacker = {"X-Forwarded-For": "203.0.113.5"}
        for _ in range(5):
            r = client.post("/api/v1/auth/login", headers=attacker,
                            json={"username": "duty", "password": "bad"})
            assert r.status_code == 401
        assert client.post("/api/v1/auth/login", headers=attacker, json={
            "username": "duty", "password": "duty"}).status_code == 429
        officer = {"X-Forwarded-For": "198.51.100.7"}
        assert client.post("/api/v1/auth/login", headers=officer, json={
            "username": "duty", "password": "duty"}).status_code == 200


def test_an_untrusted_peer_cannot_pick_its_address(db_url: str) -> None:
    """Without a trusted proxy the header is ignored: rotating it evades nothing."""
    with app_for(db_url, LOGIN_RATE_LIMIT="5/60") as app:
        client = app.test_client()
        for i in range(5):
            client.post("/api/v1/auth/login", headers={"X-Forwarded-For": f"10.0.0.{i}"},
                        json={"username": "duty", "password": "bad"})
        r = client.post("/api/v1/auth/login", headers={"X-Forwarded-For": "10.9.9.9"},
                        json={"username": "duty", "password": "duty"})
        assert r.status_code == 429


def test_passwords_an_attacker_would_guess_are_refused_everywhere(app: Any) -> None:
    """API and CLI alike: short, containing the username, or common."""
    from command.auth import check_password
    from command.errors import InvalidInput

    client = app.test_client()
    admin = login(client, "admin")["headers"]
    for pw in ("x", "short-pw", "officer_zhangsan1", "password123", "aaaaaaaaaaaa"):
        r = client.post("/api/v1/users", headers=admin, json={
            "username": "officer_zhangsan", "password": pw, "role": "duty_officer"})
        assert r.status_code == 422 and r.get_json()["error"]["field"] == "password", pw
    with pytest.raises(InvalidInput):
        check_password("duty", "duty")
    check_password("officer_zhangsan", "Ruby-kettle-4471")


def test_cli_refuses_weak_passwords_and_missing_regions_in_one_line(
        db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from command.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["users", "add", "zhao", "--role", "duty_officer", "--password", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("refused: a password needs at least 10") and "Traceback" not in err
    assert main(["users", "add", "zhao", "--role", "duty_officer", "--password",
                 "Ruby-kettle-4471", "--region-id", "99999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("refused:") and "Traceback" not in err and err.count("\n") == 1
