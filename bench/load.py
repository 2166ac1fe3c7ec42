"""Load test: many Socket.IO clients on real hub processes while incidents stream in.

    python bench/load.py                       # the matrix: eventlet/gevent/threading x
                                               # 1 process (SQLite) / 2 processes (PG + Redis)
    python bench/load.py --modes eventlet --setups 1x-sqlite --tablets 450 --officers 50
    python bench/load.py --url http://127.0.0.1:5000   # a hub that is already running

Tablets log in as the demo's unit accounts (several tablets share one unit when there are more
tablets than units), officers as `duty`; clients are spread over the hub processes and so are
the reports, so with two processes most deliveries cross Redis. Each report is closed again
after --hold seconds so units come back and the stream stays steady.

Printed per configuration: connected clients, live deliveries per second, fan-out latency
(event `at`, stamped when its transaction starts, to arrival at a client), report-to-board
latency (POST sent to the task board arriving at the dispatched unit's tablets), report HTTP
latency, lost and duplicated events (every client's live events against what the hub's log
says it may see; both must be 0), and the hubs' resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.liveserver import LiveHub  # noqa: E402
from tests.scale import pgdb  # noqa: E402
from tests.scale.cluster import REDIS_URL, hub_env  # noqa: E402

SETUPS = ("1x-sqlite", "2x-pg-redis")
MODES = ("eventlet", "gevent", "threading")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


@dataclass
class Client:
    account: str
    token: str
    url: str
    sio: socketio.AsyncClient = field(default_factory=lambda: socketio.AsyncClient(
        reconnection=False))
    start_seq: int = 0
    live: dict[int, int] = field(default_factory=dict)
    fanout_ms: list[float] = field(default_factory=list)
    boards: dict[int, float] = field(default_factory=dict)  # incident id -> arrival time

    def attach(self) -> None:
        @self.sio.on("hello", namespace="/hub")
        async def _hello(data: dict[str, Any]) -> None:
            self.start_seq = int(data["last_seq"])

        @self.sio.on("event", namespace="/hub")
        async def _event(data: dict[str, Any]) -> None:
            now = time.time()
            seq = int(data["seq"])
            self.live[seq] = self.live.get(seq, 0) + 1
            at = dt.datetime.fromisoformat(data["at"]).timestamp()
            self.fanout_ms.append((now - at) * 1000)
            if data["type"] == "task_board" and data["incident_id"] is not None:
                self.boards.setdefault(int(data["incident_id"]), now)


@dataclass
class Result:
    label: str
    connected: int = 0
    deliveries: int = 0
    seconds: float = 0.0
    fanout_ms: list[float] = field(default_factory=list)
    board_ms: list[float] = field(default_factory=list)
    http_ms: list[float] = field(default_factory=list)
    reports_ok: int = 0
    reports_failed: int = 0
    lost: int = 0
    duplicated: int = 0
    rss_mb: float = float("nan")
    note: str = ""


async def login(http: aiohttp.ClientSession, url: str, username: str) -> str:
    async with http.post(url + "/api/v1/auth/login",
                         json={"username": username, "password": username}) as r:
        r.raise_for_status()
        return str((await r.json())["token"])


async def run_load(urls: list[str], tablets: int, officers: int, rate: float,
                   duration: float, hold: float, label: str,
                   pids: list[int] | None = None) -> Result:
    res = Result(label)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        duty = await login(http, urls[0], "duty")
        headers = {"Authorization": f"Bearer {duty}"}
        async with http.get(urls[0] + "/api/v1/units", headers=headers) as r:
            units = await r.json()
        async with http.get(urls[0] + "/api/v1/enterprises", headers=headers) as r:
            enterprises = [e["id"] for e in await r.json()]
        tokens = {u["callsign"]: await login(http, urls[0], u["callsign"]) for u in units}
        tokens["duty"] = duty
        callsigns = [u["callsign"] for u in units]
        clients = [Client(callsigns[i % len(callsigns)], tokens[callsigns[i % len(callsigns)]],
                          urls[i % len(urls)]) for i in range(tablets)]
        clients += [Client("duty", duty, urls[i % len(urls)]) for i in range(officers)]
        gate = asyncio.Semaphore(25)

        async def connect(c: Client) -> None:
            c.attach()
            async with gate:
                for attempt in range(3):
                    try:
                        await c.sio.connect(c.url, namespaces=["/hub"],
                                            auth={"token": c.token}, transports=["websocket"],
                                            wait_timeout=30)
                        return
                    except socketio.exceptions.ConnectionError:
                        await asyncio.sleep(1 + attempt)

        t0 = time.monotonic()
        await asyncio.gather(*(connect(c) for c in clients))
        res.connected = sum(1 for c in clients if c.sio.connected)
        print(f"  {label}: {res.connected}/{len(clients)} clients connected in "
              f"{time.monotonic() - t0:.1f}s", flush=True)
        await asyncio.sleep(1.0)

        sent: dict[int, tuple[float, set[int]]] = {}  # incident -> (sent at, assigned units)
        closers: list[asyncio.Task[None]] = []

        async def close_later(url: str, incident_id: int) -> None:
            await asyncio.sleep(hold)
            try:
                async with http.post(url + f"/api/v1/incidents/{incident_id}/close",
                                     headers=headers, json={}) as r:
                    await r.read()
            except aiohttp.ClientError:
                pass

        async def report(i: int) -> None:
            url = urls[i % len(urls)]
            body = {"kind": ("fire", "leak")[i % 2],
                    "enterprise_id": enterprises[i % len(enterprises)],
                    "client_id": f"load-{secrets.token_hex(6)}", "confirm_new": True}
            start = time.time()
            try:
                async with http.post(url + "/api/v1/incidents", headers=headers,
                                     json=body) as r:
                    data = await r.json()
                    ok = r.status == 201
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            res.http_ms.append((time.time() - start) * 1000)
            if not ok:
                res.reports_failed += 1
                return
            res.reports_ok += 1
            sent[data["id"]] = (start, {a["unit_id"] for a in data["assignments"]})
            closers.append(asyncio.create_task(close_later(url, data["id"])))

        stream_start = time.monotonic()
        in_flight: list[asyncio.Task[None]] = []
        n = max(1, int(rate * duration))
        for i in range(n):
            in_flight.append(asyncio.create_task(report(i)))
            await asyncio.sleep(max(0.0, stream_start + (i + 1) / rate - time.monotonic()))
        await asyncio.gather(*in_flight)
        await asyncio.gather(*closers)
        await asyncio.sleep(3.0)  # stragglers
        res.seconds = time.monotonic() - stream_start

        # what each client should have heard: the log as its account may see it
        expected: dict[str, list[int]] = {}
        for account in {c.account for c in clients}:
            tok = tokens[account]
            since = min(c.start_seq for c in clients if c.account == account)
            seqs: list[int] = []
            while True:
                async with http.get(urls[0] + f"/api/v1/events?since={since}",
                                    headers={"Authorization": f"Bearer {tok}"}) as r:
                    page = await r.json()
                if not page:
                    break
                seqs += [e["seq"] for e in page]
                since = page[-1]["seq"]
            expected[account] = seqs
        unit_of = {u["callsign"]: u["id"] for u in units}
        for c in clients:
            if not c.sio.connected:
                continue
            want = {s for s in expected[c.account] if s > c.start_seq}
            res.lost += len(want - set(c.live))
            res.duplicated += sum(k - 1 for k in c.live.values() if k > 1)
            res.deliveries += len(c.live)
            res.fanout_ms += c.fanout_ms
            if c.account != "duty":
                for incident_id, (start, assigned) in sent.items():
                    if unit_of[c.account] in assigned and incident_id in c.boards:
                        res.board_ms.append((c.boards[incident_id] - start) * 1000)
        if pids:
            rss = 0
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    rss += psutil.Process(pid).memory_info().rss
            res.rss_mb = rss / 2**20
        await asyncio.gather(*(c.sio.disconnect() for c in clients if c.sio.connected),
                             return_exceptions=True)
    return res


def start_hubs(setup: str, mode: str, tmp: Path) -> tuple[list[LiveHub], str | None]:
    """Start the hub processes of one configuration; returns them and a PG database to drop."""
    extra = {"ASYNC_MODE": mode, "LOGIN_RATE_LIMIT": "100000/60", "DRILL_SCHEDULER": "0",
             "LOAD_DEMO": "1"}
    if setup == "1x-sqlite":
        hubs = [LiveHub({"DATABASE_URL": f"sqlite:///{tmp / 'load.db'}", "REDIS_URL": "",
                         **extra}, tmp / f"{mode}-1.log")]
        db = None
    else:
        pgdb.drop_orphans()
        db = pgdb.new_name("load")
        url = pgdb.create_database(db)
        channel = f"redline-load-{secrets.token_hex(4)}"
        hubs = [LiveHub(hub_env(url, channel, **extra), tmp / f"{mode}-{i}.log")
                for i in range(2)]
    for h in hubs:
        h.wait_ready(timeout=180)
    return hubs, db


def table(results: list[Result]) -> str:
    head = ("config", "clients", "ev/s", "fan-out ms p50/p95/p99", "report->board ms p50/p95",
            "POST ms p50/p95", "reports ok/fail", "lost", "dup", "hub RSS MB")
    rows = [head]
    for r in results:
        rows.append((
            r.label, str(r.connected), f"{r.deliveries / r.seconds:.0f}" if r.seconds else "-",
            f"{pct(r.fanout_ms, 50):.0f}/{pct(r.fanout_ms, 95):.0f}/{pct(r.fanout_ms, 99):.0f}",
            f"{pct(r.board_ms, 50):.0f}/{pct(r.board_ms, 95):.0f}",
            f"{pct(r.http_ms, 50):.0f}/{pct(r.http_ms, 95):.0f}",
            f"{r.reports_ok}/{r.reports_failed}", str(r.lost), str(r.duplicated),
            f"{r.rss_mb:.0f}" + (f" {r.note}" if r.note else "")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", action="append", help="a running hub (repeat for several)")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--setups", default=",".join(SETUPS))
    p.add_argument("--tablets", type=int, default=450)
    p.add_argument("--officers", type=int, default=50)
    p.add_argument("--rate", type=float, default=1.0, help="reports per second")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of reporting")
    p.add_argument("--hold", type=float, default=5.0, help="seconds before a report is closed")
    p.add_argument("--logs", type=Path, help="keep the hubs' logs (and SQLite files) here")
    args = p.parse_args(argv)
    print(f"load: {args.tablets} tablets + {args.officers} officers, {args.rate}/s reports for "
          f"{args.duration:.0f}s, closed after {args.hold:.0f}s; cpus={os.cpu_count()}",
          flush=True)
    results: list[Result] = []
    if args.url:
        results.append(asyncio.run(run_load(args.url, args.tablets, args.officers, args.rate,
                                            args.duration, args.hold, "given hub")))
    else:
        for setup in args.setups.split(","):
            for mode in args.modes.split(","):
                label = f"{mode} {setup}"
                with tempfile.TemporaryDirectory() as tmp:
                    where = Path(tmp)
                    if args.logs:
                        where = args.logs / f"{mode}-{setup}"
                        where.mkdir(parents=True, exist_ok=True)
                    hubs, db = start_hubs(setup, mode, where)
                    try:
                        results.append(asyncio.run(run_load(
                            [h.url for h in hubs], args.tablets, args.officers, args.rate,
                            args.duration, args.hold, label, [h.proc.pid for h in hubs])))
                    except Exception as exc:  # one failing mode must not hide the others
                        r = Result(label, note=f"failed: {type(exc).__name__}: {exc}"[:120])
                        results.append(r)
                        print(f"  {label}: {r.note}", flush=True)
                    finally:
                        for h in hubs:
                            h.stop()
                        if db:
                            pgdb.drop_database(db)
    print()
    print(table(results))
    print(f"(Redis {REDIS_URL} for the 2-process runs; latencies in ms on this machine)")
    return 0 if all(r.lost == 0 and r.duplicated == 0 and r.connected for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
