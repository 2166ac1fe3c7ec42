"""Security headers on every response, CORS closed unless CORS_ORIGINS opens it, for REST and
Socket.IO alike."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.helpers import app_for, login

EVIL = "https://evil.example"
FRIEND = "https://console.county.example"
ENGINEIO = "/socket.io/?EIO=4&transport=polling"


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    with app_for(db_url) as app:
        yield app


def assert_hardened(resp: Any, where: str) -> None:
    h = resp.headers
    csp = h.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp, f"{where}: CSP {csp!r}"
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, where
    assert "unsafe-eval" not in csp, where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Referrer-Policy") == "no-referrer", where
    assert "Access-Control-Allow-Origin" not in h, f"{where}: CORS opened"


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:int:)?\w+>", "1", rule).replace("<path:filename>", "css/trainer.css")


def test_every_get_route_and_error_carries_the_headers(app: Any) -> None:
    client = app.test_client()
    headers = login(client, "duty")["headers"]
    rules = sorted({r.rule for r in app.url_map.iter_rules() if "GET" in (r.methods or ())})
    assert len(rules) > 20
    for rule in rules:
        url = _concrete(rule)
        for who, h in (("anonymous", {}), ("duty", headers)):
            resp = client.get(url, headers={**h, "Origin": EVIL})
            assert_hardened(resp, f"GET {url} as {who} ({resp.status_code})")
            if url.startswith("/api/"):
                assert resp.headers.get("Cache-Control") == "no-store" or \
                    "max-age" in resp.headers.get("Cache-Control", ""), url
    # errors too: unknown page, unknown API path, wrong method, malformed JSON, too large
    for resp in (client.get("/nowhere"), client.get("/api/v1/nowhere"),
                 client.delete("/api/v1/health"),
                 client.post("/api/v1/incidents", headers=headers, data="{",
                             content_type="application/json"),
                 client.post("/api/v1/auth/login", data=b"x" * (9 * 1024 * 1024),
                             content_type="application/json")):
        assert resp.status_code in (400, 404, 405, 413), resp.status_code
        assert_hardened(resp, f"error {resp.status_code}")
        if resp.request.path.startswith("/api/"):
            assert "error" in resp.get_json()


def test_cors_is_closed_by_default(app: Any) -> None:
    client = app.test_client()
    pre = client.open("/api/v1/incidents", method="OPTIONS", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert "Access-Control-Allow-Origin" not in pre.headers
    assert "Access-Control-Allow-Headers" not in pre.headers
    resp = client.post("/api/v1/auth/login", json={"username": "duty", "password": "duty"},
                       headers={"Origin": EVIL})
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Origin" in resp.headers.get("Vary", "")


def test_cors_opens_only_for_listed_origins(db_url: str) -> None:
    with app_for(db_url, CORS_ORIGINS=[FRIEND]) as app:
        client = app.test_client()
        pre = client.open("/api/v1/incidents", method="OPTIONS", headers={
            "Origin": FRIEND, "Access-Control-Request-Method": "POST"})
        assert pre.headers["Access-Control-Allow-Origin"] == FRIEND
        assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
        # never with credentials: a listed origin still needs a bearer token
        assert "Access-Control-Allow-Credentials" not in pre.headers
        resp = client.get("/api/v1/health", headers={"Origin": EVIL})
        assert "Access-Control-Allow-Origin" not in resp.headers
        resp = client.get("/api/v1/health", headers={"Origin": FRIEND + ".evil.example"})
        assert "Access-Control-Allow-Origin" not in resp.headers
        # Socket.IO follows the same list
        assert client.get(ENGINEIO, headers={"Origin": FRIEND}).status_code == 200
        assert client.get(ENGINEIO, headers={"Origin": EVIL}).status_code == 400


def test_socketio_refuses_foreign_origins_by_default(app: Any) -> None:
    client = app.test_client()
    assert client.get(ENGINEIO, headers={"Origin": EVIL}).status_code == 400
    assert client.get(ENGINEIO, headers={"Origin": "null"}).status_code == 400
    # the hub's own pages, and clients that are not browsers (no Origin), may connect
    own = client.get(ENGINEIO, headers={"Origin": "http://localhost"})
    assert own.status_code == 200 and own.get_data().startswith(b"0{")
    assert client.get(ENGINEIO).status_code == 200
