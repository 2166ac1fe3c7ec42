"""The spine against a real hub process (eventlet) with real python-socketio clients."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.liveserver import live_hub

pytestmark = pytest.mark.server


def _client(url: str, token: str, inbox: list[dict[str, Any]], got: threading.Event
            ) -> socketio.Client:
    c = socketio.Client(reconnection=False)

    @c.on("event", namespace="/hub")
    def _on_event(data: dict[str, Any]) -> None:
        inbox.append(data)
        if data["type"] == "task_board":
            got.set()

    c.connect(url, namespaces=["/hub"], auth={"token": token}, transports=["websocket"],
              wait_timeout=10)
    return c


def test_report_reaches_unit_tablets_on_a_real_server(tmp_path: Path) -> None:
    with live_hub(tmp_path) as hub:
        duty = hub.login("duty")
        units = requests.get(hub.url + "/api/v1/units", headers=duty["headers"],
                             timeout=10).json()
        inboxes: dict[int, list[dict[str, Any]]] = {}
        flags: dict[int, threading.Event] = {}
        clients = []
        for u in units:
            inboxes[u["id"]], flags[u["id"]] = [], threading.Event()
            token = hub.login(u["callsign"])["token"]
            clients.append(_client(hub.url, token, inboxes[u["id"]], flags[u["id"]]))
        officer_inbox: list[dict[str, Any]] = []
        officer = _client(hub.url, duty["token"], officer_inbox, threading.Event())
        try:
            enterprise = requests.get(hub.url + "/api/v1/enterprises", headers=duty["headers"],
                                      timeout=10).json()[2]
            r = requests.post(hub.url + "/api/v1/incidents", headers=duty["headers"], timeout=30,
                              json={"kind": "fire", "enterprise_id": enterprise["id"],
                                    "confirm_new": True})
            assert r.status_code == 201, r.text
            incident = r.json()
            assigned = {a["unit_id"] for a in incident["assignments"]}
            assert assigned
            for uid in assigned:
                assert flags[uid].wait(10), f"unit {uid} got no board"
            for uid, inbox in inboxes.items():
                boards = [e for e in inbox if e["type"] == "task_board"]
                assert len(boards) == (1 if uid in assigned else 0)
                assert all(e["data"]["assignment"]["unit_id"] == uid for e in boards)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                    e["type"] == "incident.created" for e in officer_inbox):
                time.sleep(0.05)
            assert any(e["type"] == "incident.created" for e in officer_inbox)
        finally:
            for c in [*clients, officer]:
                c.disconnect()
