"""Faults with real processes: two eventlet hubs on PostgreSQL + Redis, then kill -9 one of
them, restart Redis, restart PostgreSQL, and drop a client, all while reports are coming in.

Every fault test checks the same promises afterwards:
- every report answered 201 is in the database with all its events (nothing lost),
- every incident in the database has all its events (nothing half-written, including reports
  whose answer was lost with a killed process),
- the log is gapless 1..N,
- a request that failed got a JSON 5xx error, not a hang,
- clients on a surviving process have every event after a resync, each exactly once,
- the hub recovers by itself (no restart of the hub processes after a service restart).

The services are shared with every other test on this machine: each test's finalizer makes
sure Redis and PostgreSQL are running again, whatever happened.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.faults import services
from tests.liveserver import LiveHub
from tests.scale.cluster import (
    Watcher,
    all_events,
    hub_env,
    login,
    pg_database,
    redis_available,
    wait_until,
)

pytestmark = [pytest.mark.server, pytest.mark.services]


@dataclass
class Cluster:
    """Two hub processes on one database and Redis channel; a killed one can be replaced."""

    tmp: Path
    url: str
    channel: str
    hubs: list[LiveHub] = field(default_factory=list)
    started: int = 0

    def start(self) -> LiveHub:
        self.started += 1
        hub = LiveHub(hub_env(self.url, self.channel), self.tmp / f"hub{self.started}.log")
        self.hubs.append(hub)
        return hub.wait_ready(timeout=120)

    def alive(self) -> list[LiveHub]:
        return [h for h in self.hubs if h.proc.poll() is None]

    def ensure(self, n: int = 2) -> list[LiveHub]:
        while len(self.alive()) < n:
            self.start()
        return self.alive()[:n]

    def stop(self) -> None:
        for h in self.hubs:
            h.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    services.redis_start()
    services.pg_ensure_running()
    assert redis_available()
    with pg_database("fault") as url:
        c = Cluster(tmp_path_factory.mktemp("faults"), url, f"redline-fault-{secrets.token_hex(4)}")
        try:
            c.ensure(2)
            yield c
        finally:
            c.stop()


@pytest.fixture
def services_restored() -> Iterator[None]:
    """Whatever a test does to Redis or PostgreSQL, they run again afterwards."""
    yield
    services.redis_start()
    services.pg_ensure_running()


@dataclass
class Outcome:
    hub: str
    status: int | None  # None: no answer (connection refused or reset)
    body: Any = None
    error: str = ""


class Burst:
    """Writer threads reporting incidents round-robin over the demo enterprises until stopped."""

    def __init__(self, targets: list[tuple[LiveHub, dict[str, str]]],
                 enterprises: list[int], per_target: int = 2) -> None:
        self.targets, self.enterprises = targets, enterprises
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(t, k), daemon=True)
                         for t in targets for k in range(per_target)]

    def _run(self, target: tuple[LiveHub, dict[str, str]], k: int) -> None:
        hub, headers = target
        i = k
        while not self._stop.is_set():
            e = self.enterprises[i % len(self.enterprises)]
            i += 1
            try:
                r = requests.post(hub.url + "/api/v1/incidents", headers=headers, timeout=60,
                                  json={"kind": ("fire", "leak")[i % 2], "enterprise_id": e,
                                        "confirm_new": True,
                                        "client_id": f"burst-{secrets.token_hex(8)}"})
                try:
                    body = r.json()
                except ValueError:
                    body = r.text
                out = Outcome(hub.url, r.status_code, body)
            except requests.RequestException as exc:
                out = Outcome(hub.url, None, error=type(exc).__name__)
                time.sleep(0.2)  # a dead process refuses at once; don't spin
            with self._lock:
                self.outcomes.append(out)

    def start(self) -> Burst:
        for t in self._threads:
            t.start()
        return self

    def count(self, status: int | None = 201) -> int:
        with self._lock:
            return sum(1 for o in self.outcomes if o.status == status)

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for t in self._threads:
            t.join(90)
        return list(self.outcomes)


def _enterprises(hub: LiveHub, headers: dict[str, str]) -> list[int]:
    return [e["id"] for e in requests.get(hub.url + "/api/v1/enterprises", headers=headers,
                                          timeout=30).json()]


def _check_consistent(hub: LiveHub, headers: dict[str, str], outcomes: list[Outcome],
                      since: int) -> list[dict[str, Any]]:
    """Nothing lost, nothing half-written, a gapless log; every failure a JSON 5xx."""
    for o in outcomes:
        assert o.status in (None, 201) or 500 <= o.status < 600, (o.status, o.body)
        if o.status is not None and o.status >= 500:
            # a clear error: JSON naming what happened, not an HTML page or a traceback
            assert isinstance(o.body, dict) and o.body["error"]["code"], o.body
    log = all_events(hub.url, headers)
    seqs = [e["seq"] for e in log]
    assert seqs == list(range(1, len(seqs) + 1)), "the event log has a gap or a repeat"
    by_incident: dict[int, list[dict[str, Any]]] = {}
    for e in log:
        if e["incident_id"] is not None:
            by_incident.setdefault(e["incident_id"], []).append(e)
    answered = {o.body["id"] for o in outcomes if o.status == 201}
    incidents = {i["id"] for i in requests.get(hub.url + "/api/v1/incidents", headers=headers,
                                               timeout=60).json()}
    assert answered <= incidents, f"201 but missing: {sorted(answered - incidents)}"
    new_ids = {e["incident_id"] for e in log if e["seq"] > since and e["incident_id"]}
    for incident_id in new_ids:
        detail = requests.get(hub.url + f"/api/v1/incidents/{incident_id}", headers=headers,
                              timeout=30).json()
        evs = by_incident.get(incident_id, [])
        assert [e["type"] for e in evs].count("incident.created") == 1, incident_id
        boards = {e["data"]["assignment"]["unit_id"] for e in evs if e["type"] == "task_board"}
        created = {e["data"]["assignment"]["unit_id"] for e in evs
                   if e["type"] == "assignment.created"}
        units = {a["unit_id"] for a in detail["assignments"]}
        # each dispatched unit has its assignment event and its task board: the incident,
        # its assignments and their events were committed together or not at all
        assert units == created == boards, (incident_id, units, created, boards)
    return log


def _watchers(hubs: list[LiveHub]) -> list[Watcher]:
    return [Watcher(h.url, login(h.url, "duty")["token"], f"officer@{h.port}").connect()
            for h in hubs]


def _check_clients(watchers: list[Watcher], log: list[dict[str, Any]], since: int) -> None:
    """After a resync each client has exactly the log after `since`, and heard nothing twice."""
    expected = [e["seq"] for e in log if e["seq"] > since]
    for w in watchers:
        assert w.duplicates() == {}, w.name
        w.resync(since)
        assert w.resynced == expected, w.name  # in order, every one, once
        assert sorted(s for s in w.events if s > since) == expected, w.name
        assert all(w.events[e["seq"]] == e for e in log if e["seq"] > since), w.name


def test_kill_9_during_a_burst_loses_nothing(cluster: Cluster) -> None:
    a, b = cluster.ensure(2)
    duty = {h.url: login(h.url, "duty") for h in (a, b)}
    since = cluster_last_seq(b, duty[b.url]["headers"])
    survivor = _watchers([b])
    burst = Burst([(a, duty[a.url]["headers"]), (b, duty[b.url]["headers"])],
                  _enterprises(b, duty[b.url]["headers"])).start()
    try:
        assert wait_until(lambda: burst.count() >= 6, 90), "no reports got through"
        a.proc.kill()  # SIGKILL: no shutdown, requests on A die mid-flight
        a.proc.wait(10)
        n = burst.count()
        assert wait_until(lambda: burst.count() >= n + 3, 90), "B stopped answering"
    finally:
        outcomes = burst.stop()
    assert any(o.hub == a.url and o.status is None for o in outcomes), "A was never cut off"
    log = _check_consistent(b, duty[b.url]["headers"], outcomes, since)
    live_before = set(survivor[0].live)
    _check_clients(survivor, log, since)
    # most arrived live over Redis from both processes; resync filled whatever A committed
    # but could not publish before it died
    assert live_before, "the surviving officer heard nothing live"
    for w in survivor:
        w.disconnect()
    cluster.ensure(2)


def cluster_last_seq(hub: LiveHub, headers: dict[str, str]) -> int:
    log = all_events(hub.url, headers)
    return log[-1]["seq"] if log else 0


def _burst_on_two(cluster: Cluster) -> tuple[LiveHub, LiveHub, dict[str, Any], int,
                                             list[Any], Burst]:
    """Two processes, an officer watching each, and a burst of reports to both started."""
    a, b = cluster.ensure(2)
    duty = {h.url: login(h.url, "duty") for h in (a, b)}
    since = cluster_last_seq(a, duty[a.url]["headers"])
    watchers = _watchers([a, b])
    burst = Burst([(a, duty[a.url]["headers"]), (b, duty[b.url]["headers"])],
                  _enterprises(a, duty[a.url]["headers"]), per_target=1).start()
    return a, b, duty, since, watchers, burst


def test_redis_restart_under_load(cluster: Cluster, services_restored: None) -> None:
    a, b, duty, since, watchers, burst = _burst_on_two(cluster)
    try:
        assert wait_until(lambda: burst.count() >= 2, 90)
        services.redis_stop()
        n = burst.count()
        # reports still commit while Redis is away (only live delivery pauses)
        wait_until(lambda: burst.count() >= n + 2, 20)
        services.redis_start()
        n = burst.count()
        assert wait_until(lambda: burst.count() >= n + 2, 90), "no reports after Redis came back"
    finally:
        outcomes = burst.stop()
    # recovered by itself: an event committed on A now reaches the officer on B live again
    headers = duty[a.url]["headers"]
    ent = _enterprises(a, headers)[0]

    def live_again() -> bool:
        r = requests.post(a.url + "/api/v1/incidents", headers=headers, timeout=60,
                          json={"kind": "fire", "enterprise_id": ent, "confirm_new": True})
        assert r.status_code == 201, r.text
        seq = max(e["seq"] for e in all_events(a.url, headers, since=since))
        return wait_until(lambda: seq in watchers[1].live, 3)

    assert wait_until(live_again, 60, step=0.5), "Socket.IO over Redis never recovered"
    log = _check_consistent(a, headers, outcomes, since)
    _check_clients(watchers, log, since)
    for w in watchers:
        w.disconnect()


def test_postgresql_restart_under_load(cluster: Cluster, services_restored: None) -> None:
    a, b, duty, since, watchers, burst = _burst_on_two(cluster)
    try:
        assert wait_until(lambda: burst.count() >= 2, 90)
        services.pg_restart()
        n = burst.count()
        assert wait_until(lambda: burst.count() >= n + 4, 90), "no reports after the restart"
    finally:
        outcomes = burst.stop()
    # both processes serve again without being restarted
    for h in (a, b):
        assert h.proc.poll() is None
        assert requests.get(h.url + "/api/v1/health", timeout=10).status_code == 200
    log = _check_consistent(a, duty[a.url]["headers"], outcomes, since)
    _check_clients(watchers, log, since)
    for w in watchers:
        w.disconnect()
    failed = [o for o in outcomes if o.status != 201]
    # while the database is away a report is refused as such, with a hint to retry
    assert all(o.status == 503 and o.body["error"]["code"] == "unavailable" for o in failed), (
        sorted({(o.status, str(o.body)[:120]) for o in failed}))
    print(f"postgresql restart: {len(outcomes)} reports, {len(failed)} failed: "
          f"{sorted({(o.status, str(o.body)[:80]) for o in failed})}")


def test_client_offline_while_the_other_process_commits_resyncs(cluster: Cluster) -> None:
    """A tablet drops off without a goodbye (its Wi-Fi dies); while it is away the other
    process commits many events; reconnecting, it resyncs every one, in order, once. Ten
    minutes rather than seconds changes nothing else on the server: the hub forgot the
    Socket.IO session ~25 s in (ping timeout), the token lives 12 h, and resync pages; the
    ten minutes by the hub's clock are covered in-process by tests/faults/test_offline.py."""
    a, b = cluster.ensure(2)
    duty_b = login(b.url, "duty")
    w = _watchers([a])[0]
    last = max([*w.live, w.hello["last_seq"]])
    w.drop()
    for e in _enterprises(b, duty_b["headers"])[:4]:
        r = requests.post(b.url + "/api/v1/incidents", headers=duty_b["headers"], timeout=60,
                          json={"kind": "leak", "enterprise_id": e, "confirm_new": True})
        assert r.status_code == 201
    missed = all_events(b.url, duty_b["headers"], since=last)
    assert len(missed) >= 8
    w.connect(a.url)
    try:
        assert w.resync(last) == [e["seq"] for e in missed]
        assert [w.events[e["seq"]] for e in missed] == missed
    finally:
        w.disconnect()

