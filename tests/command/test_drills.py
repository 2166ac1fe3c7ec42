"""Blind drills under a controlled clock: springing, restarts, injects, preemption, ending."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from command.auth import Actor
from command.drill_models import Drill, DrillStatus, InjectType
from command.drills import DrillService, DrillSpec, InjectSpec, Variations
from command.errors import Conflict, Forbidden, InvalidInput
from command.events import incident_events
from command.models import Closure, Incident, IncidentKind, Role, Unit, User
from command.service import IncidentChange, IncidentReport
from tests.clock import Clock
from web import create_app


@pytest.fixture
def make_app(db_url: str, clock: Clock) -> Iterator[Callable[[], Any]]:
    """Build a hub on the test's database; calling it again is a restart on the same file."""
    apps: list[Any] = []

    def _make() -> Any:
        app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "CLOCK": clock,
                          "DRILL_SCHEDULER": False, "LOAD_DEMO": False, "TESTING": True})
        apps.append(app)
        return app

    yield _make
    for app in apps:
        app.extensions["redline"].engine.dispose()


def drills_of(app: Any) -> DrillService:
    return app.extensions["drills"]  # type: ignore[no-any-return]


def actor(app: Any, username: str) -> Actor:
    with app.extensions["redline"].sessions() as s:
        u = s.scalar(select(User).where(User.username == username))
        assert u is not None
        return Actor(user_id=u.id, username=u.username, role=u.role, unit_id=u.unit_id,
                     region_id=u.region_id)


def unit_ids(app: Any, *callsigns: str) -> list[int]:
    with app.extensions["redline"].sessions() as s:
        q = select(Unit.id).order_by(Unit.id)
        if callsigns:
            q = q.where(Unit.callsign.in_(callsigns))
        return list(s.scalars(q))


def spec(clock: Clock, start_s: float = 600, end_s: float = 1200, **kw: Any) -> DrillSpec:
    return DrillSpec(window_start=clock.now + dt.timedelta(seconds=start_s),
                     window_end=clock.now + dt.timedelta(seconds=end_s), **kw)


def drill_row(app: Any, drill_id: int) -> Drill:
    with app.extensions["redline"].sessions() as s:
        d = s.get(Drill, drill_id)
        assert d is not None
        _ = d.injects
        return d


def incident(app: Any, incident_id: int) -> Incident:
    return app.extensions["redline"].service.get_incident_obj(incident_id)


def events(app: Any, incident_id: int) -> list[Any]:
    with app.extensions["redline"].sessions() as s:
        return incident_events(s, incident_id)


def box(lon: float, lat: float, d: float = 0.0003) -> dict[str, Any]:
    """A GeoJSON square about 60 m across around a point."""
    return {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                [lon + d, lat + d], [lon - d, lat + d],
                                                [lon - d, lat - d]]]}


def spring(app: Any, clock: Clock, drill_id: int) -> Drill:
    clock.to(drill_row(app, drill_id).due_at)
    drills_of(app).tick()
    d = drill_row(app, drill_id)
    assert d.status is DrillStatus.RUNNING and d.incident_id is not None, d.note
    return d


def test_drill_springs_at_its_secret_moment_inside_the_window(make_app: Any, clock: Clock
                                                             ) -> None:
    app = make_app()
    trainer = actor(app, "trainer")
    pool = unit_ids(app)[:8]
    view = drills_of(app).create(trainer, spec(clock, unit_ids=pool))
    d = drill_row(app, view["id"])
    assert d.window_start <= d.due_at <= d.window_end
    assert drills_of(app).tick() == [] and drill_row(app, d.id).status is DrillStatus.SCHEDULED
    clock.to(d.due_at - dt.timedelta(seconds=1))
    drills_of(app).tick()
    assert drill_row(app, d.id).status is DrillStatus.SCHEDULED

    d = spring(app, clock, d.id)
    inc = incident(app, d.incident_id)  # type: ignore[arg-type]
    assert inc.exercise and inc.source == "drill" and inc.drill_id == d.id
    assert inc.created_at == d.due_at == d.started_at
    assert inc.assignments and {a.unit_id for a in inc.assignments} <= set(pool)
    assert d.sprung and d.sprung["scenario_id"] == inc.scenario_id
    assert all(e.exercise for e in events(app, inc.id))
    # ticking again springs nothing new
    drills_of(app).tick()
    with app.extensions["redline"].sessions() as s:
        assert len(s.scalars(select(Incident).where(Incident.drill_id == d.id)).all()) == 1


def test_variations_stay_within_their_ranges(make_app: Any, clock: Clock) -> None:
    app = make_app()
    v = Variations(severity=(3, 3), casualties=(4, 6), wind_deg=(90, 90), wind_speed_ms=(2, 2),
                   spill=("large",))
    d = spring(app, clock, drills_of(app).create(actor(app, "trainer"),
                                                 spec(clock, variations=v))["id"])
    inc = incident(app, d.incident_id)  # type: ignore[arg-type]
    assert inc.severity == 3 and 4 <= inc.casualties <= 6
    assert inc.wind == {"from_deg": 90.0, "speed_ms": 2.0}


def test_the_sprung_report_always_triggers_the_drawn_scenario(make_app: Any, clock: Clock
                                                             ) -> None:
    # this scenario triggers from severity 2: a drill allowing 1-2 must report it at 2
    app = make_app()
    v = Variations(severity=(1, 2))
    for _ in range(4):
        view = drills_of(app).create(actor(app, "trainer"), spec(
            clock, scenario_ids=["ethoxylation-runaway"], variations=v))
        d = spring(app, clock, view["id"])
        inc = incident(app, d.incident_id)  # type: ignore[arg-type]
        assert inc.scenario_id == d.sprung["scenario_id"] == "ethoxylation-runaway"
        assert inc.severity == 2


def test_restart_before_the_due_time_keeps_the_schedule(make_app: Any, clock: Clock) -> None:
    first = make_app()
    drill_id = drills_of(first).create(actor(first, "trainer"), spec(clock))["id"]
    due = drill_row(first, drill_id).due_at
    first.extensions["redline"].engine.dispose()

    again = make_app()
    drills_of(again).tick()
    assert drill_row(again, drill_id).status is DrillStatus.SCHEDULED
    assert drill_row(again, drill_id).due_at == due
    spring(again, clock, drill_id)


def test_a_drill_due_while_the_hub_was_down_fires_on_start_if_its_window_is_open(
        make_app: Any, clock: Clock) -> None:
    first = make_app()
    drill_id = drills_of(first).create(actor(first, "trainer"), spec(clock))["id"]
    d = drill_row(first, drill_id)
    first.extensions["redline"].engine.dispose()

    clock.to(d.due_at + (d.window_end - d.due_at) / 2)
    again = make_app()
    drills_of(again).tick()
    d = drill_row(again, drill_id)
    assert d.status is DrillStatus.RUNNING and d.incident_id is not None
    assert d.started_at == clock.now


def test_a_drill_whose_window_closed_while_the_hub_was_down_is_missed(
        make_app: Any, clock: Clock) -> None:
    first = make_app()
    drill_id = drills_of(first).create(actor(first, "trainer"), spec(clock))["id"]
    end = drill_row(first, drill_id).window_end
    first.extensions["redline"].engine.dispose()

    clock.to(end + dt.timedelta(minutes=5))
    again = make_app()
    drills_of(again).tick()
    d = drill_row(again, drill_id)
    assert d.status is DrillStatus.MISSED and d.incident_id is None and d.missed_at == clock.now
    with again.extensions["redline"].sessions() as s:
        assert s.scalar(select(Incident).where(Incident.drill_id == drill_id)) is None


def test_a_spring_cut_short_after_its_report_is_repaired(
        make_app: Any, clock: Clock) -> None:
    app = make_app()
    d = spring(app, clock, drills_of(app).create(actor(app, "trainer"), spec(clock))["id"])
    reported = d.incident_id
    # the hub died after the drill's report committed, before the drill row named it
    with app.extensions["redline"].sessions() as s, s.begin():
        s.execute(update(Drill).where(Drill.id == d.id).values(incident_id=None,
                                                               started_at=None))
    clock.to(clock.now + dt.timedelta(minutes=5))
    again = make_app()
    drills_of(again).tick()  # must not raise: it would stop the scheduler for every drill
    row = drill_row(again, d.id)
    assert row.status is DrillStatus.RUNNING and row.incident_id == reported
    assert row.started_at == incident(again, reported).created_at


def test_two_processes_ticking_together_spring_a_drill_once(make_app: Any, clock: Clock) -> None:
    a, b = make_app(), make_app()
    drill_id = drills_of(a).create(actor(a, "trainer"), spec(clock))["id"]
    clock.to(drill_row(a, drill_id).due_at)
    drills_of(a).tick()
    drills_of(b).tick()
    with a.extensions["redline"].sessions() as s:
        assert len(s.scalars(select(Incident).where(Incident.drill_id == drill_id)).all()) == 1


def test_two_hubs_ticking_at_the_same_instant_spring_a_drill_once(make_app: Any, clock: Clock
                                                                  ) -> None:
    """Each app has its own engine, like two hub processes; the conditional UPDATE on the
    drill's status lets exactly one of them claim it."""
    hubs = [make_app() for _ in range(3)]
    trainer = actor(hubs[0], "trainer")
    ids = [drills_of(hubs[0]).create(trainer, spec(clock))["id"] for _ in range(2)]
    clock.to(max(drill_row(hubs[0], i).due_at for i in ids))
    start = threading.Barrier(len(hubs))
    touched: list[list[int]] = []

    def run(app: Any) -> None:
        start.wait()
        touched.append(drills_of(app).tick())

    threads = [threading.Thread(target=run, args=(h,)) for h in hubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(i for got in touched for i in got) == sorted(ids)
    with hubs[0].extensions["redline"].sessions() as s:
        for drill_id in ids:
            assert len(s.scalars(select(Incident).where(Incident.drill_id == drill_id)).all()) == 1


def test_injects_apply_at_their_times_and_wait_while_paused(make_app: Any, clock: Clock
                                                            ) -> None:
    app = make_app()
    trainer = actor(app, "trainer")
    injects = [InjectSpec(60, InjectType.EXPLOSION),
               InjectSpec(120, InjectType.CASUALTIES, {"count": 2}),
               InjectSpec(150, InjectType.ROAD_BLOCKED, {"geometry": box(-46.63442, -23.55199)})]
    d = spring(app, clock, drills_of(app).create(trainer, spec(clock, injects=injects,
                                                               variations=Variations(
                                                                   severity=(2, 2),
                                                                   casualties=(1, 1))))["id"])
    start = d.started_at
    assert start is not None

    def at(s: float) -> None:
        clock.to(start + dt.timedelta(seconds=s))
        drills_of(app).tick()

    def applied() -> list[int]:
        return [i.index for i in drill_row(app, d.id).injects if i.applied_at is not None]

    at(59)
    assert applied() == []
    at(60)
    assert applied() == [0]
    assert incident(app, d.incident_id).severity == 3  # type: ignore[arg-type]
    drills_of(app).pause(trainer, d.id)
    at(200)
    assert applied() == [0]
    drills_of(app).resume(trainer, d.id)  # paused 140 s
    at(259)
    assert applied() == [0]
    at(260)
    assert applied() == [0, 1]
    assert incident(app, d.incident_id).casualties == 3  # type: ignore[arg-type]
    at(290)
    assert applied() == [0, 1, 2]
    rows = drill_row(app, d.id).injects
    assert rows[0].applied_at == start + dt.timedelta(seconds=60)
    assert rows[1].applied_at == start + dt.timedelta(seconds=260)
    assert rows[2].outcome.startswith("closure ")
    # the trainer console translates the outcome from its parts; the text stays for the API
    assert rows[1].outcome == "casualties 1 → 3"
    assert rows[1].outcome_parts == [{"code": "drill.casualties",
                                      "params": {"before": 1, "after": 3}}]
    assert rows[2].outcome_parts[0]["code"] == "drill.road_blocked"
    logged = [e for e in events(app, d.incident_id) if e.type == "drill.inject"]  # type: ignore[arg-type]
    assert [(e.data["index"], e.data["type"]) for e in logged] == [
        (0, "explosion"), (1, "casualties"), (2, "road_blocked")]
    types = [e.type for e in events(app, d.incident_id)]  # type: ignore[arg-type]
    assert "drill.paused" in types and "drill.resumed" in types


def test_a_road_blocked_inject_reroutes_the_drill_and_never_real_dispatch(
        make_app: Any, clock: Clock) -> None:
    app = make_app()
    trainer = actor(app, "trainer")
    service = app.extensions["redline"].service
    d = spring(app, clock, drills_of(app).create(trainer, spec(clock, injects=[
        InjectSpec(30, InjectType.ROAD_BLOCKED, {"geometry": box(-46.63442, -23.55199)})]))["id"])
    inc = incident(app, d.incident_id)  # type: ignore[arg-type]
    # block the middle of the longest drill route, so that route must change
    a = max(inc.assignments, key=lambda a: len((a.route or {}).get("coordinates") or []))
    coords = a.route["coordinates"]  # type: ignore[index]
    lon, lat = coords[len(coords) // 2]
    with app.extensions["redline"].sessions() as s, s.begin():
        s.get(Drill, d.id).injects[0].data = {"geometry": box(lon, lat, 0.0002)}  # type: ignore[union-attr]
    drills_of(app).fire_inject(trainer, d.id, 0)
    assert drill_row(app, d.id).injects[0].outcome.startswith("closure ")
    log = events(app, inc.id)
    added = [e for e in log if e.type == "closure.added"]
    assert len(added) == 1 and added[0].exercise
    rerouted = [e for e in log if e.type == "assignment.rerouted" and e.unit_id == a.unit_id]
    assert rerouted and rerouted[-1].data["assignment"]["route"] != a.route
    with app.extensions["redline"].sessions() as s:
        drill_inc = s.get(Incident, inc.id)
        assert service._blocked_by_closures(s, drill_inc)
        # real dispatch and coverage see no closure at all
        assert service._blocked_by_closures(s) == frozenset()
    drills_of(app).end(trainer, d.id)
    assert "closure.removed" in [e.type for e in events(app, inc.id)]
    with app.extensions["redline"].sessions() as s:
        assert service._blocked_by_closures(s, s.get(Incident, inc.id)) == frozenset()


def test_a_road_blocked_inject_must_cover_a_road(make_app: Any, clock: Clock) -> None:
    app = make_app()
    far = box(10.0, 10.0)
    with pytest.raises(InvalidInput) as err:
        drills_of(app).create(actor(app, "trainer"), spec(clock, injects=[
            InjectSpec(30, InjectType.ROAD_BLOCKED, {"geometry": far})]))
    assert err.value.field == "injects.0.data.geometry"


def break_down_a_drill_unit(app: Any, clock: Clock) -> tuple[Actor, Drill, int]:
    """A sprung drill whose breakdown inject, fired by hand, hit one of its own units."""
    trainer = actor(app, "trainer")
    drill_id = drills_of(app).create(trainer, spec(clock, injects=[
        InjectSpec(30, InjectType.UNIT_BREAKDOWN, {"unit_id": unit_ids(app)[0]})]))["id"]
    d = spring(app, clock, drill_id)
    victim = incident(app, d.incident_id).assignments[0].unit_id  # type: ignore[arg-type]
    # point the inject at a unit that surely answered the drill
    with app.extensions["redline"].sessions() as s, s.begin():
        row = s.get(Drill, drill_id)
        assert row is not None
        row.injects[0].data = {"unit_id": victim}
    drills_of(app).fire_inject(trainer, drill_id, 0)
    return trainer, d, victim


def test_unit_breakdown_takes_a_drill_unit_out_of_service(make_app: Any, clock: Clock) -> None:
    app = make_app()
    trainer, d, victim = break_down_a_drill_unit(app, clock)
    drill_id = d.id
    with app.extensions["redline"].sessions() as s:
        assert s.get(Unit, victim).status.value == "out_of_service"  # type: ignore[union-attr]
    released = [e for e in events(app, d.incident_id)  # type: ignore[arg-type]
                if e.type == "assignment.released" and e.data["unit_id"] == victim]
    assert released and "out_of_service" in released[0].data["reason"]
    assert released[0].data["reason_parts"] == [{"code": "release.unit_set",
                                                 "params": {"status": "out_of_service"}}]
    with pytest.raises(Conflict):
        drills_of(app).fire_inject(trainer, drill_id, 0)


def test_a_breakdown_never_touches_a_unit_that_is_not_on_the_drill(make_app: Any, clock: Clock
                                                                   ) -> None:
    app = make_app()
    trainer = actor(app, "trainer")
    every = unit_ids(app)
    # The drill draws its scenario at random and a big one can take every unit, so the drill
    # gets a pool and the idle unit comes from outside it: never on the drill, whatever the draw.
    pool = every[:6]
    d = spring(app, clock, drills_of(app).create(trainer, spec(clock, unit_ids=pool, injects=[
        InjectSpec(30, InjectType.UNIT_BREAKDOWN, {"unit_id": pool[0]})]))["id"])
    on_drill = {a.unit_id for a in incident(app, d.incident_id).assignments}  # type: ignore[arg-type]
    assert on_drill <= set(pool)
    idle = every[-1]
    with app.extensions["redline"].sessions() as s, s.begin():
        s.get(Drill, d.id).injects[0].data = {"unit_id": idle}  # type: ignore[union-attr]
    drills_of(app).fire_inject(trainer, d.id, 0)
    assert drill_row(app, d.id).injects[0].outcome.startswith("skipped")
    with app.extensions["redline"].sessions() as s:
        assert s.get(Unit, idle).status.value == "available"  # type: ignore[union-attr]


def test_a_real_incident_preempts_the_drill_units(make_app: Any, clock: Clock) -> None:
    app = make_app()
    service = app.extensions["redline"].service
    d = spring(app, clock, drills_of(app).create(actor(app, "trainer"), spec(clock))["id"])
    drill_inc = incident(app, d.incident_id)  # type: ignore[arg-type]
    on_drill = {a.unit_id for a in drill_inc.assignments}
    real = service.report_incident(actor(app, "duty"), IncidentReport(
        kind=IncidentKind(drill_inc.kind.value), enterprise_id=drill_inc.enterprise_id,
        chemical=drill_inc.chemical, severity=4, casualties=20))
    taken = {a.unit_id for a in incident(app, real.id).assignments} & on_drill
    assert taken, "the real incident at the same place takes drill units"
    drill_log = events(app, d.incident_id)  # type: ignore[arg-type]
    pre = [e for e in drill_log if e.type == "drill.preempted"]
    assert {e.data["unit_id"] for e in pre} == taken
    assert all(e.data["drill_id"] == d.id for e in pre)
    rel = {e.data["unit_id"] for e in drill_log if e.type == "assignment.released"
           and e.data["reason"] == "preempted by a real incident"}
    assert rel == taken
    rep = drills_of(app).report(actor(app, "trainer"), d.id)["report"]
    assert {p["unit_id"] for p in rep["preempted"]} == taken
    assert all(u["status"] == "released" for u in rep["units"] if u["unit_id"] in taken)
    assert not incident(app, real.id).exercise


def test_escalating_a_drill_only_ever_takes_the_drills_units(make_app: Any, clock: Clock
                                                              ) -> None:
    app = make_app()
    service = app.extensions["redline"].service
    # one unit of each kind: whatever scenario the drill draws, some of them can answer it
    pool = unit_ids(app, "E11", "H41", "A51", "C21", "R31")
    # the chlorine leak's level I asks for far more than five units
    d = spring(app, clock, drills_of(app).create(actor(app, "trainer"), spec(
        clock, unit_ids=pool, enterprise_ids=[1], scenario_ids=["chlorine-leak"]))["id"])
    assert d.incident_id is not None
    # an inject raises severity and casualties far beyond what the drill's units can fill
    view = service.change_incident(actor(app, "trainer"), d.incident_id,
                                   IncidentChange(severity=4, casualties=50))
    assert view["unmet"], "the escalated plan wants more than the drill's five units"
    used = {a.unit_id for a in incident(app, d.incident_id).assignments}
    assert used <= set(pool), "the county's other units stay free for real calls"
    with app.extensions["redline"].sessions() as s:
        others = [u for u in s.scalars(select(Unit)) if u.id not in pool]
    assert others and all(u.incident_id != d.incident_id for u in others)
    assert any(u.status.value == "available" for u in others), "they were free to take"


def test_end_closes_the_incident_releases_units_and_freezes_the_report(
        make_app: Any, clock: Clock) -> None:
    app = make_app()
    trainer = actor(app, "trainer")
    d = spring(app, clock, drills_of(app).create(trainer, spec(clock))["id"])
    clock.advance(120)
    view = drills_of(app).end(trainer, d.id)
    assert view["status"] == "ended" and view["ended_at"] == clock.now.isoformat()
    assert view["ended_by"] == "trainer"
    inc = incident(app, d.incident_id)  # type: ignore[arg-type]
    assert inc.status.value == "closed"
    assert all(a.status.value == "released" for a in inc.assignments)
    with app.extensions["redline"].sessions() as s:
        for a in inc.assignments:
            assert s.get(Unit, a.unit_id).status.value == "available"  # type: ignore[union-attr]
    row = drill_row(app, d.id)
    assert row.result is not None and row.result["incident_id"] == inc.id
    types = [e.type for e in events(app, inc.id)]
    assert types.index("drill.ended") < types.index("incident.closed")
    # ending twice changes nothing
    assert drills_of(app).end(trainer, d.id)["ended_at"] == view["ended_at"]


def test_closing_the_drill_incident_from_the_command_room_ends_the_drill(
        make_app: Any, clock: Clock) -> None:
    app = make_app()
    d = spring(app, clock, drills_of(app).create(actor(app, "trainer"), spec(clock))["id"])
    app.extensions["redline"].service.close_incident(actor(app, "duty"), d.incident_id)
    row = drill_row(app, d.id)
    assert row.status is DrillStatus.ENDED and row.ended_by == "duty" and row.result


def test_cancelling_a_scheduled_drill(make_app: Any, clock: Clock) -> None:
    app = make_app()
    trainer = actor(app, "trainer")
    drill_id = drills_of(app).create(trainer, spec(clock))["id"]
    assert drills_of(app).end(trainer, drill_id)["status"] == "ended"
    clock.to(drill_row(app, drill_id).window_end)
    drills_of(app).tick()
    assert drill_row(app, drill_id).incident_id is None


def test_reveal_records_the_time_once(make_app: Any, clock: Clock) -> None:
    app = make_app()
    trainer = actor(app, "trainer")
    drill_id = drills_of(app).create(trainer, spec(clock))["id"]
    with pytest.raises(Conflict):
        drills_of(app).reveal(trainer, drill_id)
    d = spring(app, clock, drill_id)
    clock.advance(45)
    assert drills_of(app).reveal(trainer, d.id)["revealed_at"] == clock.now.isoformat()
    clock.advance(10)
    drills_of(app).reveal(trainer, d.id)
    logged = [e for e in events(app, d.incident_id) if e.type == "drill.revealed"]  # type: ignore[arg-type]
    assert len(logged) == 1 and logged[0].at == clock.now - dt.timedelta(seconds=10)


@pytest.mark.parametrize("username", ["duty", "E11"])
def test_only_trainers_and_admins_manage_drills(make_app: Any, clock: Clock, username: str
                                                ) -> None:
    app = make_app()
    with pytest.raises(Forbidden):
        drills_of(app).create(actor(app, username), spec(clock))
    assert drills_of(app).create(actor(app, "admin"), spec(clock))["status"] == "scheduled"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"start_s": 600, "end_s": 300}, "window.end"),
    ({"start_s": -600, "end_s": -300}, "window.end"),
    ({"enterprise_ids": [999999]}, "scenario_ids"),
    ({"scenario_ids": ["no-such-scenario"]}, "scenario_ids"),
    ({"unit_ids": [999999]}, "unit_ids"),
    ({"variations": Variations(severity=(3, 1))}, "variations.severity"),
])
def test_bad_drills_are_refused(make_app: Any, clock: Clock, kwargs: dict[str, Any],
                                field: str) -> None:
    app = make_app()
    with pytest.raises(InvalidInput) as err:
        drills_of(app).create(actor(app, "trainer"), spec(clock, **kwargs))
    assert err.value.field == field


def test_a_breakdown_inject_must_name_a_participating_unit(make_app: Any, clock: Clock) -> None:
    app = make_app()
    ids = unit_ids(app)
    with pytest.raises(InvalidInput):
        drills_of(app).create(actor(app, "trainer"), spec(clock, unit_ids=ids[:2], injects=[
            InjectSpec(10, InjectType.UNIT_BREAKDOWN, {"unit_id": ids[5]})]))


def test_trainers_of_a_role_see_only_their_region(make_app: Any, clock: Clock) -> None:
    app = make_app()
    drill_id = drills_of(app).create(actor(app, "trainer"), spec(clock))["id"]
    stranger = Actor(user_id=0, username="elsewhere", role=Role.TRAINER, unit_id=None,
                     region_id=999)
    assert drills_of(app).list(stranger) == []
    with pytest.raises(Exception, match="not found"):
        drills_of(app).get(stranger, drill_id)


def test_drill_seed_makes_the_secret_moment_repeatable(db_url: str, clock: Clock) -> None:
    moments = []
    for _ in range(2):
        app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "CLOCK": clock,
                          "DRILL_SCHEDULER": False, "DRILL_SEED": 7, "LOAD_DEMO": False,
                          "TESTING": True})
        try:
            view = drills_of(app).create(actor(app, "trainer"), spec(clock))
            moments.append(view["due_at"])
        finally:
            app.extensions["redline"].engine.dispose()
    assert moments[0] == moments[1]


def test_a_pretend_breakdown_ends_with_the_drill(make_app: Any, clock: Clock) -> None:
    app = make_app()
    trainer, d, victim = break_down_a_drill_unit(app, clock)
    drills_of(app).end(trainer, d.id)
    with app.extensions["redline"].sessions() as s:
        unit = s.get(Unit, victim)
        assert unit is not None and unit.status.value == "available"


def test_no_inject_while_paused_nor_a_road_blocked_after_the_end(make_app: Any, clock: Clock
                                                                 ) -> None:
    app = make_app()
    trainer = actor(app, "trainer")
    drill_id = drills_of(app).create(trainer, spec(clock, injects=[
        InjectSpec(600, InjectType.CASUALTIES, {"count": 5})]))["id"]
    d = spring(app, clock, drill_id)
    drills_of(app).pause(trainer, drill_id)
    with pytest.raises(Conflict):
        drills_of(app).fire_inject(trainer, drill_id, 0)
    assert not drills_of(app)._apply(drill_id, 0, "schedule")  # a tick that read it before
    assert drill_row(app, drill_id).injects[0].applied_at is None
    drills_of(app).end(trainer, drill_id)
    # a road-blocked inject still in flight when the drill ended leaves no closure behind
    inc = incident(app, d.incident_id)  # type: ignore[arg-type]
    out = drills_of(app)._block_road(drill_id, inc.id, 0, {"geometry": box(inc.lon, inc.lat)},
                                     "schedule")
    assert out.parts[0]["code"] == "drill.incident_closed"
    with app.extensions["redline"].sessions() as s:
        assert s.scalars(select(Closure).where(Closure.incident_id == inc.id,
                                               Closure.removed_at.is_(None))).all() == []
