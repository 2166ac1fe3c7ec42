"""Every Socket.IO client event fuzzed with malformed payloads (hypothesis): each answer is an
`error` event and a failed ack, the connection survives, and nothing in the database changes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tests.security.helpers import app_for, login, report_fire, snapshot
from web.extensions import socketio
from web.hub import EVENTS

# a role each event admits, so the payload (not the role gate) is what gets tested
SENDER = {"ack": "unit", "delivered": "unit", "task.update": "unit", "unit.status": "unit",
          "position": "unit", "resync": "duty"}
EXAMPLES = 80

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", "5", "done", "available", "\x00", "🔥" * 50, "a" * 5000,
                     "1e309", "NaN", "-1"]))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


def _fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def malformed(model: type[BaseModel] | None) -> st.SearchStrategy[Any]:
    """Payloads the event's model must refuse: not an object, wrong types, out of range,
    missing or unknown fields."""
    not_object = json_value.filter(lambda v: not isinstance(v, dict))
    if model is None:
        return not_object
    names = _fields(model)
    field_map = st.fixed_dictionaries({}, optional={n: json_value for n in names})
    with_extra = st.builds(lambda d, k, v: {**d, k: v}, field_map,
                           st.text(min_size=1, max_size=10).filter(lambda k: k not in names),
                           json_value)
    return st.one_of(not_object, field_map, with_extra)


def _is_invalid(model: type[BaseModel] | None, payload: Any) -> bool:
    if not isinstance(payload, dict):
        return True
    if model is None:
        return False
    try:
        model.model_validate(payload)
    except ValidationError:
        return True
    return False


def test_every_event_refuses_malformed_payloads(db_url: str) -> None:
    with app_for(db_url, LOGIN_RATE_LIMIT="1000/60") as app:
        client = app.test_client()
        duty = login(client, "duty")
        incident = report_fire(client, duty["headers"])
        callsign = incident["assignments"][0]["callsign"]
        unit = login(client, callsign)
        hub = app.extensions["redline"]
        tokens = {"unit": unit["token"], "duty": duty["token"]}
        sockets = {role: socketio.test_client(app, namespace="/hub", auth={"token": tok})
                   for role, tok in tokens.items()}
        assert set(EVENTS) == set(SENDER), "give every new event a sender role in SENDER"
        before = snapshot(app)
        seq_before = hub.last_seq()
        try:
            for event, fn in sorted(EVENTS.items()):
                _fuzz(event, fn.payload_model, sockets[SENDER[event]], hub)
                # the connection is still usable after the barrage
                sock = sockets[SENDER[event]]
                assert sock.is_connected("/hub"), event
            assert hub.last_seq() == seq_before
            assert snapshot(app) == before
            # and a well-formed command still works afterwards
            reply = sockets["unit"].emit("unit.status", {"status": "on_scene"},
                                         namespace="/hub", callback=True)
            assert reply["ok"] is True, reply
        finally:
            for s in sockets.values():
                if s.is_connected("/hub"):
                    s.disconnect("/hub")


def _fuzz(event: str, model: type[BaseModel] | None, sock: Any, hub: Any) -> None:
    seq = hub.last_seq()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(payload=malformed(model), extra=st.lists(json_leaf, max_size=2))
    def run(payload: Any, extra: list[Any]) -> None:
        assume(_is_invalid(model, payload))
        sock.get_received("/hub")
        reply = sock.emit(event, payload, *extra, namespace="/hub", callback=True)
        errors = [r["args"][0] for r in sock.get_received("/hub") if r["name"] == "error"]
        where = f"{event} {payload!r:.200}"
        assert isinstance(reply, dict) and reply["ok"] is False, where
        assert reply["error"]["code"] == "invalid", where
        assert len(errors) == 1 and errors[0]["event"] == event, where
        assert errors[0]["code"] == "invalid" and errors[0]["message"], where
        assert hub.last_seq() == seq, f"{where} appended events"

    run()
    # no payload at all is malformed too
    sock.get_received("/hub")
    reply = sock.emit(event, namespace="/hub", callback=True)
    assert reply["ok"] is False and reply["error"]["code"] == "invalid", event


def test_resync_floods_are_refused_not_served(app: Any) -> None:
    """200 resyncs from the start of the log: the first few pages are sent, the rest are
    refused at once without touching the database."""
    client = app.test_client()
    token = login(client, "duty")["token"]
    sio = socketio.test_client(app, namespace="/hub", auth={"token": token})
    answers = [sio.emit("resync", {"since_seq": 0}, namespace="/hub", callback=True)
               for _ in range(200)]
    served = [a for a in answers if a.get("ok")]
    refused = [a for a in answers if not a.get("ok")]
    assert 1 <= len(served) <= 10
    assert refused and all(a["error"]["code"] == "rate_limited" for a in refused)
    sio.disconnect("/hub")
