"""The MQTT bridge against real Mosquitto brokers: delivery to the engine and reconnection."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from command.sensors import MqttBridge
from tests.command.test_sensors_engine import T0, World, graph, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.services

BROKER = "mqtt://127.0.0.1:1883"


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def publisher(port: int = 1883) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def reading(sec: float, value: float, unit: str = "%LEL") -> bytes:
    ts = (T0 + dt.timedelta(seconds=sec)).isoformat()
    return json.dumps({"ts": ts, "value": value, "unit": unit}).encode()


@pytest.fixture
def pumped(world: World) -> Iterator[tuple[World, str]]:  # noqa: F811
    """The engine of `world` behind a bridge on the machine's broker, pumped by a thread."""
    prefix = f"redline-test-{uuid.uuid4().hex[:10]}/sensors"
    engine = world.engine
    engine.topic_prefix = prefix
    engine.bridge = MqttBridge(BROKER, prefix, engine.offer)
    engine.bridge.start()
    assert engine.bridge.connected.wait(10), "no connection to Mosquitto on 127.0.0.1:1883"
    thread = threading.Thread(target=engine.run, args=(time.sleep,), daemon=True)
    thread.start()
    yield world, prefix
    engine.stop()
    thread.join(5)


def test_readings_over_mqtt_reach_the_engine(pumped: tuple[World, str]) -> None:
    w, prefix = pumped
    w.clock.now = T0 + dt.timedelta(seconds=30)
    topic = f"{prefix}/{w.enterprise_id}/GT-101"
    pub = publisher()
    try:
        time.sleep(0.3)  # the bridge's subscription is acknowledged asynchronously
        for sec, value in [(0, 45), (2, 48), (5, 50), (6, 51), (7, 52)]:
            pub.publish(topic, reading(sec, value), qos=1).wait_for_publish(5)
        assert wait_for(lambda: len(w.reports()) == 1)
        pub.publish(f"{prefix}/{w.enterprise_id}/GT-101", b"{not json", qos=1)
        pub.publish(f"{prefix}/{w.enterprise_id}/NOPE", reading(8, 1), qos=1)
        pub.publish(f"{prefix}/abc/GT-101", reading(8, 1), qos=1).wait_for_publish(5)
        assert wait_for(lambda: w.engine.stats.view()["malformed"] == 2
                        and w.engine.stats.view()["unknown"] == 1)
        stats = w.engine.stats.view()
        assert stats["accepted"] == 5
        assert len(w.reports()) == 1
    finally:
        pub.loop_stop()
        pub.disconnect()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("private mosquitto did not start")


def test_bridge_waits_for_the_broker_and_reconnects(tmp_path: Path) -> None:
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto binary not installed")
    port = free_port()
    got: list[tuple[str, bytes]] = []
    bridge = MqttBridge(f"mqtt://127.0.0.1:{port}", "rl/s", lambda t, p: got.append((t, p)))
    bridge.start()  # no broker yet: the network thread keeps trying
    try:
        time.sleep(0.5)
        assert not bridge.connected.is_set()
        broker = start_broker(port, tmp_path)
        try:
            assert bridge.connected.wait(15)
            time.sleep(0.3)
            pub = publisher(port)
            pub.publish("rl/s/1/A", b"one", qos=1).wait_for_publish(5)
            assert wait_for(lambda: len(got) == 1)
            pub.loop_stop()
            pub.disconnect()
        finally:
            broker.terminate()
            broker.wait(10)
        assert wait_for(lambda: not bridge.connected.is_set())
        broker = start_broker(port, tmp_path)
        try:
            assert bridge.connected.wait(40), "bridge did not reconnect"
            assert bridge.connects == 2
            time.sleep(0.3)
            pub = publisher(port)
            pub.publish("rl/s/1/B", b"two", qos=1).wait_for_publish(5)
            assert wait_for(lambda: len(got) == 2), "no resubscription after reconnect"
            assert got[1] == ("rl/s/1/B", b"two")
            pub.loop_stop()
            pub.disconnect()
        finally:
            broker.terminate()
            broker.wait(10)
    finally:
        bridge.stop()


def test_bad_urls_are_refused() -> None:
    with pytest.raises(ValueError):
        MqttBridge("http://127.0.0.1:1883", "p", lambda t, p: None)
    b = MqttBridge("mqtt://user:p%40ss@broker.example:1999", "p/", lambda t, p: None)
    assert (b.host, b.port, b.username, b.password, b.prefix) == (
        "broker.example", 1999, "user", "p@ss", "p")
    assert b.public_url == "mqtt://broker.example:1999"
