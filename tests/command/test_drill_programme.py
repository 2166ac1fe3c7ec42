"""Drills per AQ/T 9007 / 9009: programme, evaluators' observations, improvement items to
closure and plan revision, and the half-yearly drill obligation of enterprises."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from command.drill_models import DrillObservation
from command.drill_programme import (
    DrillProgramme,
    EnterpriseDrillReport,
    ImprovementChange,
    MselRow,
    Observation,
    Programme,
)
from command.errors import Conflict, Forbidden, InvalidInput, NotFound
from command.events import incident_events
from command.models import Event, Region, RegionLevel
from plans.models import Enterprise, HazardInstallation, PlanRevisionFlag
from tests.clock import Clock
from tests.command.test_drills import actor, drills_of, spec, spring, unit_ids
from web import create_app


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Any]:
    app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "CLOCK": clock,
                      "DRILL_SCHEDULER": False, "LOAD_DEMO": False, "TESTING": True})
    yield app
    app.extensions["redline"].engine.dispose()


def programme_of(app: Any) -> DrillProgramme:
    return app.extensions["drill_programme"]  # type: ignore[no-any-return]


def full_scale(**kw: Any) -> Programme:
    base: dict[str, Any] = dict(
        drill_type="full_scale", scope="comprehensive",
        objectives=("isolate the leak within 10 minutes", "evacuate the park's east gate"),
        participants=("North fire station", "park hospital"), evaluators=("trainer",),
        safety_plan="safety officer on site; real calls preempt the drill",
        msel=(MselRow(300, "second casualty found", "E11", "request a second ambulance"),
              MselRow(0, "chlorine leak reported", "duty officer", "dispatch per plan")))
    base.update(kw)
    return Programme(**base)


def sprung_drill(app: Any, clock: Clock) -> Any:
    view = drills_of(app).create(actor(app, "trainer"), spec(clock, unit_ids=unit_ids(app)[:8]))
    return spring(app, clock, view["id"])


def obs(clock: Clock, client_id: str, area: str = "disposal", rating: str = "met",
        note: str = "") -> Observation:
    return Observation(client_id=client_id, area=area, rating=rating,
                       observed_at=clock.now, note=note)


def test_programme_is_checked_against_the_standard(app: Any, clock: Clock) -> None:
    trainer = actor(app, "trainer")
    drill_id = drills_of(app).create(trainer, spec(clock))["id"]
    with pytest.raises(InvalidInput) as e:
        programme_of(app).set_programme(trainer, drill_id, full_scale(safety_plan=" "))
    assert e.value.field == "safety_plan"
    with pytest.raises(InvalidInput) as e:
        programme_of(app).set_programme(trainer, drill_id, full_scale(drill_type="exercise"))
    assert e.value.field == "drill_type"
    with pytest.raises(InvalidInput) as e:
        programme_of(app).set_programme(trainer, drill_id, full_scale(objectives=("",)))
    assert e.value.field == "objectives"
    with pytest.raises(InvalidInput) as e:
        programme_of(app).set_programme(trainer, drill_id, full_scale(
            msel=(MselRow(10, "fire spreads", "E12", ""),)))
    assert e.value.field == "msel[0].expected_action"
    # a tabletop drill moves nobody: no safety plan needed
    view = programme_of(app).set_programme(
        trainer, drill_id, full_scale(drill_type="tabletop", safety_plan=""))
    assert view["programme"]["drill_type"] == "tabletop"


def test_a_programme_written_before_the_spring_stays_out_of_the_log(app: Any,
                                                                      clock: Clock) -> None:
    trainer = actor(app, "trainer")
    drill_id = drills_of(app).create(trainer, spec(clock))["id"]
    with app.extensions["redline"].sessions() as s:
        before = s.scalar(select(func.count()).select_from(Event))
    view = programme_of(app).set_programme(trainer, drill_id, full_scale())
    assert view["phase"] == "prepare"
    # the script is kept in time order
    assert [r["at_s"] for r in view["programme"]["msel"]] == [0, 300]
    with app.extensions["redline"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == before
    with pytest.raises(Conflict):
        programme_of(app).set_phase(trainer, drill_id, "improve")


def test_observations_are_stored_once_and_logged_without_the_evaluators_words(
        app: Any, clock: Clock) -> None:
    trainer = actor(app, "trainer")
    drill_id = drills_of(app).create(trainer, spec(clock, unit_ids=unit_ids(app)[:8]))["id"]
    with pytest.raises(Conflict):  # nothing to observe before it springs
        programme_of(app).record_observation(trainer, drill_id, obs(clock, "early"))
    programme_of(app).set_programme(trainer, drill_id, full_scale())
    d = spring(app, clock, drill_id)
    assert programme_of(app).get(trainer, d.id)["phase"] == "run"
    clock.advance(90)
    first, created = programme_of(app).record_observation(
        trainer, d.id, obs(clock, "tab-1:0001", "information_reporting", "partly_met",
                           "first report to the city 4 min late"))
    assert created and first["after_seq"] is not None
    # the tablet lost the answer and sends the same form again
    again, created = programme_of(app).record_observation(
        trainer, d.id, obs(clock, "tab-1:0001", "information_reporting", "partly_met",
                           "first report to the city 4 min late"))
    assert not created and again["id"] == first["id"]
    with app.extensions["redline"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(DrillObservation)) == 1
        logged = [e for e in incident_events(s, d.incident_id) if e.type == "drill.observation"]
    assert len(logged) == 1 and logged[0].exercise
    assert logged[0].data["area"] == "information_reporting"
    assert "note" not in logged[0].data
    with pytest.raises(InvalidInput) as e:
        programme_of(app).record_observation(trainer, d.id, obs(clock, "x", area="morale"))
    assert e.value.field == "area"
    with pytest.raises(InvalidInput) as e:
        programme_of(app).record_observation(trainer, d.id, Observation(
            "y", "disposal", "met", clock.now + dt.timedelta(hours=1)))
    assert e.value.field == "observed_at"
    # the admin is not listed as an evaluator but administers; an officer may not evaluate
    with pytest.raises(Forbidden):
        programme_of(app).record_observation(actor(app, "duty"), d.id, obs(clock, "z"))


def test_only_the_listed_evaluators_record(app: Any, clock: Clock, db_url: str) -> None:
    trainer = actor(app, "trainer")
    d = sprung_drill(app, clock)
    programme_of(app).set_programme(trainer, d.id, full_scale(evaluators=("someone_else",)))
    with pytest.raises(Forbidden):
        programme_of(app).record_observation(trainer, d.id, obs(clock, "t1"))
    _, created = programme_of(app).record_observation(actor(app, "admin"), d.id,
                                                      obs(clock, "a1"))
    assert created


def test_improvement_items_go_to_closure_and_can_flag_the_plan(app: Any, clock: Clock) -> None:
    trainer = actor(app, "trainer")
    d = sprung_drill(app, clock)
    item = drills_of(app).add_improvement(trainer, d.id, "cordon team lacks gas meters")
    p = programme_of(app)
    with pytest.raises(InvalidInput) as e:  # nobody owns it yet
        p.update_improvement(trainer, d.id, item["id"], ImprovementChange(status="closed"))
    assert e.value.field == "owner"
    view = p.update_improvement(trainer, d.id, item["id"], ImprovementChange(
        status="in_progress", owner="park safety office", due=dt.date(2027, 3, 1),
        plan_revision=True, fields={"status", "owner", "due", "plan_revision"}))
    assert view["status"] == "in_progress" and view["plan_revision"]
    with pytest.raises(Conflict):
        p.update_improvement(trainer, d.id, item["id"], ImprovementChange(status="open"))
    closed = p.update_improvement(trainer, d.id, item["id"], ImprovementChange(status="closed"))
    assert closed["closed_by"] == "trainer" and closed["closed_at"]
    with pytest.raises(Conflict):
        p.update_improvement(trainer, d.id, item["id"], ImprovementChange(owner="x"))
    with pytest.raises(NotFound):
        p.update_improvement(trainer, d.id, 10**6, ImprovementChange(status="closed"))
    # the flag is a real obligation: the county's officers see it in the log and the list
    flags = p.revision_flags(actor(app, "duty"))
    assert [f["reason"] for f in flags] == ["cordon team lacks gas meters"]
    assert flags[0]["enterprise_id"] == d.sprung["enterprise_id"]
    with app.extensions["redline"].sessions() as s:
        ev = s.scalars(select(Event).where(Event.type == "plan.revision_flagged")).one()
        ent = s.get(Enterprise, d.sprung["enterprise_id"])
        assert ev.county_id == ent.county_id and not ev.exercise
        assert s.scalar(select(func.count()).select_from(PlanRevisionFlag)) == 1


def test_the_evaluation_report_has_the_standards_five_sections(app: Any, clock: Clock) -> None:
    trainer = actor(app, "trainer")
    d = sprung_drill(app, clock)
    p = programme_of(app)
    p.set_programme(trainer, d.id, full_scale())
    clock.advance(60)
    p.record_observation(trainer, d.id, obs(clock, "o1", "disposal", "met"))
    p.record_observation(trainer, d.id, obs(clock, "o2", "cordon_evacuation", "not_met",
                                            "east gate left open"))
    clock.advance(600)
    drills_of(app).end(trainer, d.id)
    assert p.get(trainer, d.id)["phase"] == "evaluate"
    rep = p.evaluation_report(trainer, d.id)
    assert list(rep) == ["drill_id", "basic_situation", "evaluation_process", "analysis",
                         "improvement_suggestions", "conclusion"]
    assert rep["basic_situation"]["drill_type"] == "full_scale"
    assert rep["basic_situation"]["enterprise"]
    areas = {a["area"]: a for a in rep["analysis"]["areas"]}
    assert areas["cordon_evacuation"]["conclusion"] == "not_met"
    assert areas["disposal"]["conclusion"] == "met"
    assert areas["public_information"]["conclusion"] == "not_evaluated"
    # the timing score stands beside the evaluators' view, never in place of it
    assert rep["analysis"]["timing_score"] is not None
    assert rep["conclusion"]["result"] == "not_met"
    assert "public_information" in rep["conclusion"]["areas_not_evaluated"]
    assert [o["note"] for o in rep["improvement_suggestions"]["shortfalls"]] == [
        "east gate left open"]
    csv_text = p.evaluation_csv(trainer, d.id)
    assert "cordon_evacuation,not_met" in csv_text and "conclusion,result,not_met" in csv_text
    p.set_phase(trainer, d.id, "improve")
    assert p.get(trainer, d.id)["phase"] == "improve"
    with pytest.raises(Conflict):  # the record is closed once the drill is over
        p.set_programme(trainer, d.id, full_scale())


def hazardous(app: Any) -> list[int]:
    with app.extensions["redline"].sessions() as s:
        return list(s.scalars(select(Enterprise.id).where(Enterprise.id.in_(
            select(HazardInstallation.enterprise_id))).order_by(Enterprise.id)))


def test_overdue_enterprises_are_listed_and_outside_drills_count(app: Any,
                                                                   clock: Clock) -> None:
    p = programme_of(app)
    duty = actor(app, "duty")
    ids = hazardous(app)
    assert len(ids) >= 2
    today = clock.now.date()
    start = p.obligations(duty)
    assert start["overdue"] == len(ids) and all(r["never"] for r in start["enterprises"])
    recent = p.record_enterprise_drill(duty, EnterpriseDrillReport(
        ids[0], today - dt.timedelta(days=100), "functional", "single", "chlorine leak drill",
        40, "held by the enterprise, reported by letter"))
    assert recent["held_on"] == (today - dt.timedelta(days=100)).isoformat()
    p.record_enterprise_drill(duty, EnterpriseDrillReport(
        ids[1], today - dt.timedelta(days=200), "tabletop", "single", "tabletop"))
    rows = {r["enterprise_id"]: r for r in p.obligations(duty)["enterprises"]}
    assert not rows[ids[0]]["overdue"]
    assert rows[ids[0]]["due_on"] == (today + dt.timedelta(days=83)).isoformat()
    assert rows[ids[1]]["overdue"] and rows[ids[1]]["days_overdue"] == 17
    # never drilled first, then the longest overdue, the ones in time last
    order = [r["enterprise_id"] for r in p.obligations(duty)["enterprises"]]
    assert order[-1] == ids[0] and order.index(ids[1]) == len(ids) - 2
    # a drill the hub ran counts on the day it sprang
    d = sprung_drill(app, clock)
    drills_of(app).end(actor(app, "trainer"), d.id)
    rows = {r["enterprise_id"]: r for r in p.obligations(duty)["enterprises"]}
    assert rows[d.sprung["enterprise_id"]]["last_drill_on"] == today.isoformat()
    assert not rows[d.sprung["enterprise_id"]]["overdue"]
    with pytest.raises(InvalidInput) as e:
        p.record_enterprise_drill(duty, EnterpriseDrillReport(
            ids[0], today + dt.timedelta(days=1), "tabletop", "single", "tomorrow"))
    assert e.value.field == "held_on"
    with pytest.raises(Forbidden):
        p.obligations(actor(app, "E11"))


def test_a_county_sees_only_its_own_enterprises(app: Any, clock: Clock) -> None:
    p = programme_of(app)
    ids = hazardous(app)
    with app.extensions["redline"].sessions() as s, s.begin():
        province = Region(name="西山省", level=RegionLevel.PROVINCE)
        s.add(province)
        s.flush()
        county = Region(name="西山县", level=RegionLevel.COUNTY, parent_id=province.id)
        s.add(county)
        s.flush()
        s.get(Enterprise, ids[0]).county_id = county.id  # type: ignore[union-attr]
    app.extensions["redline"].service._region_parents = None  # see the new regions now
    duty = actor(app, "duty")
    listed = {r["enterprise_id"] for r in p.obligations(duty)["enterprises"]}
    assert ids[0] not in listed and ids[1] in listed
    with pytest.raises(NotFound):
        p.record_enterprise_drill(duty, EnterpriseDrillReport(
            ids[0], clock.now.date(), "tabletop", "single", "not ours"))
