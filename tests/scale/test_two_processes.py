"""Two real hub processes (eventlet) on one PostgreSQL database with Redis as the Socket.IO
message queue: an event committed in either reaches clients of both, and seq stays gapless."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.liveserver import LiveHub
from tests.scale.cluster import Watcher, all_events, cluster, login, wait_until

pytestmark = [pytest.mark.server, pytest.mark.services]


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveHub]]:
    with cluster(tmp_path_factory.mktemp("two"), n=2, tag="two") as hubs:
        yield hubs


def _report(hub: LiveHub, headers: dict[str, str], enterprise_id: int, kind: str = "fire"
            ) -> requests.Response:
    return requests.post(hub.url + "/api/v1/incidents", headers=headers, timeout=60,
                         json={"kind": kind, "enterprise_id": enterprise_id,
                               "confirm_new": True})


def test_both_processes_share_one_database_and_demo(hubs: list[LiveHub]) -> None:
    a, b = hubs
    for h in hubs:
        health = requests.get(h.url + "/api/v1/health", timeout=10).json()
        assert health["database_engine"] == "postgresql"
    ua = requests.get(a.url + "/api/v1/units", headers=login(a.url, "duty")["headers"],
                      timeout=10).json()
    ub = requests.get(b.url + "/api/v1/units", headers=login(b.url, "duty")["headers"],
                      timeout=10).json()
    # loaded once although both started together on the empty database
    assert [u["id"] for u in ua] == [u["id"] for u in ub] and len(ua) == 16


def test_report_on_a_reaches_officer_and_tablets_on_b(hubs: list[LiveHub]) -> None:
    a, b = hubs
    duty_a = login(a.url, "duty")
    officer_b = Watcher(b.url, login(b.url, "duty")["token"], "officer@B").connect()
    units = requests.get(b.url + "/api/v1/units", headers=duty_a["headers"], timeout=10).json()
    tablets = {u["id"]: Watcher(b.url, login(b.url, u["callsign"])["token"], u["callsign"])
               .connect() for u in units if u["status"] == "available"}
    try:
        enterprise = requests.get(a.url + "/api/v1/enterprises", headers=duty_a["headers"],
                                  timeout=10).json()[0]
        r = _report(a, duty_a["headers"], enterprise["id"])
        assert r.status_code == 201, r.text
        incident = r.json()
        assigned = {x["unit_id"] for x in incident["assignments"]}
        assert assigned

        def created() -> bool:
            return any(e["type"] == "incident.created" and e["incident_id"] == incident["id"]
                       for e in officer_b.events.values())

        assert wait_until(created), "officer on B never heard of the incident reported on A"
        for uid in assigned:
            assert wait_until(lambda uid=uid: any(
                e["type"] == "task_board" and e["incident_id"] == incident["id"]
                for e in tablets[uid].events.values())), f"unit {uid} on B got no board"
        # a tablet sees only its own unit's events, also across processes
        for uid, w in tablets.items():
            assert all(e.get("data", {}).get("assignment", {}).get("unit_id", uid) == uid
                       for e in w.events.values() if e["type"] == "task_board")
        assert officer_b.duplicates() == {}
    finally:
        for w in [officer_b, *tablets.values()]:
            w.disconnect()


def test_concurrent_reports_on_both_processes_keep_seq_gapless(hubs: list[LiveHub]) -> None:
    """Four writers per process report at once; the log is 1..N without a gap or a repeat,
    and an officer on each process hears every event exactly once, live."""
    a, b = hubs
    duty = {h.url: login(h.url, "duty") for h in hubs}
    start_seq = max(e["seq"] for e in all_events(a.url, duty[a.url]["headers"]) or [{"seq": 0}])
    watchers = [Watcher(h.url, duty[h.url]["token"], f"officer@{i}").connect()
                for i, h in enumerate(hubs)]
    enterprises = requests.get(a.url + "/api/v1/enterprises", headers=duty[a.url]["headers"],
                               timeout=10).json()
    statuses: list[int] = []
    lock = threading.Lock()

    def writer(hub: LiveHub, k: int) -> None:
        for j in range(3):
            e = enterprises[(k + j) % len(enterprises)]
            r = _report(hub, duty[hub.url]["headers"], e["id"], ("fire", "leak")[j % 2])
            with lock:
                statuses.append(r.status_code)

    threads = [threading.Thread(target=writer, args=(h, k)) for k in range(4) for h in hubs]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert statuses == [201] * 24, statuses

        log = all_events(a.url, duty[a.url]["headers"])
        seqs = [e["seq"] for e in log]
        # the whole log (the duty officer sees the province) is 1..N: nothing skipped, nothing
        # taken twice, although two processes with their own pools drew from the counter
        assert seqs == list(range(1, len(seqs) + 1))
        assert log == all_events(b.url, duty[b.url]["headers"])
        new = [s for s in seqs if s > start_seq]
        assert sum(1 for e in log if e["type"] == "incident.created" and e["seq"] > start_seq
                   ) == 24
        for w in watchers:
            assert wait_until(lambda w=w: set(new) <= set(w.live), 20), (
                w.name, sorted(set(new) - set(w.live))[:20])
            assert w.duplicates() == {}
            assert set(w.live) <= set(seqs)
    finally:
        for w in watchers:
            w.disconnect()


def test_resync_after_reconnecting_to_the_other_process(hubs: list[LiveHub]) -> None:
    """A tablet drops off A; events committed by B meanwhile come back on resync via B, in
    order, exactly once."""
    a, b = hubs
    duty_b = login(b.url, "duty")
    officer = Watcher(a.url, login(a.url, "duty")["token"], "officer").connect()
    last_seen = officer.hello["last_seq"]
    officer.disconnect()
    enterprises = requests.get(b.url + "/api/v1/enterprises", headers=duty_b["headers"],
                               timeout=10).json()
    for e in enterprises[:3]:
        assert _report(b, duty_b["headers"], e["id"]).status_code == 201
    missed = [e["seq"] for e in all_events(b.url, duty_b["headers"], since=last_seen)]
    assert missed
    officer.connect(b.url)
    try:
        got = officer.resync(last_seen)
        assert got == missed  # every one, in order, once
        payloads: list[Any] = [officer.events[s] for s in got]
        assert payloads == all_events(b.url, duty_b["headers"], since=last_seen)
    finally:
        officer.disconnect()
