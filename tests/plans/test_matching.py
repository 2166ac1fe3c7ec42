"""Scenario matching, its explanation, the fallbacks, and escalation of the response level."""

from __future__ import annotations

from typing import Any

import pytest

from plans.matching import (
    forces_for_level,
    match_scenario,
    response_level_for,
    steps_between,
    tasks_for_level,
)
from plans.schema import PlanDocument


def _force(cap: str, count: int = 1, deadline: int = 600) -> dict[str, Any]:
    return {"capability": cap, "count": count, "deadline_s": deadline}


def _plan(*scenarios: dict[str, Any]) -> PlanDocument:
    return PlanDocument.model_validate({"version": 1, "title": "t", "scenarios": list(scenarios)})


CHLORINE = {"id": "chlorine-leak", "name": "液氯泄漏", "response_level": "III",
            "trigger": {"kinds": ["leak"], "chemicals": ["UN1017"]},
            "escalation": [
                {"level": "II", "min_severity": 3, "min_casualties": 3,
                 "extra_forces": [_force("medical", 2)]},
                {"level": "I", "min_severity": 4, "min_casualties": 10,
                 "extra_forces": [_force("command"), _force("hazmat")]}],
            "required_forces": [_force("hazmat"), _force("fire", 2)]}
ANY_LEAK = {"id": "any-leak", "name": "泄漏", "response_level": "IV",
            "trigger": {"kinds": ["leak"]}, "required_forces": [_force("fire")]}
BIG_FIRE = {"id": "big-fire", "name": "大火", "response_level": "II",
            "trigger": {"kinds": ["fire"], "min_severity": 3},
            "required_forces": [_force("fire", 4)]}
GENERAL = {"id": "general", "name": "综合", "general": True, "response_level": "IV",
           "required_forces": [_force("fire")]}
ENTERPRISE = _plan(CHLORINE, ANY_LEAK, BIG_FIRE, GENERAL)
COUNTY = _plan(
    {"id": "county-fire", "name": "火灾", "response_level": "IV",
     "trigger": {"kinds": ["fire", "explosion"]}, "required_forces": [_force("fire", 2)]},
    {"id": "county-leak", "name": "泄漏", "response_level": "IV",
     "trigger": {"kinds": ["leak"], "min_severity": 2}, "required_forces": [_force("hazmat")]},
    {"id": "county-general", "name": "其他", "general": True, "response_level": "IV",
     "required_forces": [_force("command")]})


def test_named_chemical_beats_any_chemical() -> None:
    m = match_scenario(ENTERPRISE, COUNTY, "leak", "UN1017", 2)
    assert m is not None and m.scenario.id == "chlorine-leak" and m.source == "enterprise"
    assert m.reason.startswith("kind leak and chemical UN1017 match scenario chlorine-leak")
    assert m.response_level == "III"
    # '1017' is the same chemical written without its prefix
    assert match_scenario(ENTERPRISE, COUNTY, "leak", "1017", 2).scenario.id == "chlorine-leak"


def test_other_chemical_takes_the_any_chemical_scenario() -> None:
    m = match_scenario(ENTERPRISE, COUNTY, "leak", "UN1005", 2)
    assert m is not None and m.scenario.id == "any-leak"
    assert "scenario is for any chemical, reported UN1005" in m.reason


def test_no_chemical_reported_prefers_the_generic_scenario() -> None:
    m = match_scenario(ENTERPRISE, COUNTY, "leak", None, 2)
    assert m is not None and m.scenario.id == "any-leak"


def test_general_scenario_when_nothing_fits_and_near_misses_are_named() -> None:
    m = match_scenario(ENTERPRISE, COUNTY, "fire", None, 2)
    assert m is not None and m.scenario.id == "general" and m.source == "enterprise"
    assert "big-fire needs severity ≥ 3" in m.reason
    assert "using its general scenario general" in m.reason
    hot = match_scenario(ENTERPRISE, COUNTY, "fire", None, 3)
    assert hot is not None and hot.scenario.id == "big-fire"


def test_county_default_without_an_enterprise_plan() -> None:
    m = match_scenario(None, COUNTY, "explosion", None, 2)
    assert m is not None and m.source == "county_default" and m.scenario.id == "county-fire"
    assert m.reason.startswith("no enterprise plan; county default scenario county-fire")


def test_county_default_when_the_enterprise_plan_has_no_general_scenario() -> None:
    no_general = _plan(CHLORINE)
    m = match_scenario(no_general, COUNTY, "fire", None, 2)
    assert m is not None and m.source == "county_default" and m.scenario.id == "county-fire"
    assert "the enterprise plan has no matching or general scenario" in m.reason


def test_county_default_kind_match_below_its_minimum_severity() -> None:
    # a severity-1 leak: county-leak's threshold is not met, but the kind still decides
    m = match_scenario(None, COUNTY, "leak", None, 1)
    assert m is not None and m.scenario.id == "county-leak"


def test_county_general_scenario_last() -> None:
    m = match_scenario(None, COUNTY, "poisoning", None, 2)
    assert m is not None and m.scenario.id == "county-general"
    assert "county default general scenario" in m.reason


def test_nothing_at_all() -> None:
    assert match_scenario(None, None, "fire", None, 2) is None
    assert match_scenario(_plan(CHLORINE), None, "fire", None, 2) is None


@pytest.mark.parametrize(("severity", "casualties", "level"), [
    (2, 0, "III"), (3, 0, "II"), (2, 3, "II"), (2, 2, "III"), (4, 0, "I"), (1, 10, "I"),
    (3, 9, "II"),
])
def test_response_level_for(severity: int, casualties: int, level: str) -> None:
    sc = ENTERPRISE.scenario("chlorine-leak")
    assert sc is not None
    assert response_level_for(sc, severity, casualties).level == level


def test_forces_grow_with_the_level() -> None:
    sc = ENTERPRISE.scenario("chlorine-leak")
    assert sc is not None

    def caps(level: str) -> list[tuple[str, int]]:
        return [(f.capability, f.count) for f in forces_for_level(sc, level)]

    assert caps("III") == [("hazmat", 1), ("fire", 2)]
    assert caps("II") == [("hazmat", 1), ("fire", 2), ("medical", 2)]
    assert caps("I") == [("hazmat", 1), ("fire", 2), ("medical", 2), ("command", 1),
                         ("hazmat", 1)]
    m = match_scenario(ENTERPRISE, None, "leak", "UN1017", 4)
    assert m is not None and m.response_level == "I"
    assert "escalated from III (severity 4, casualties 0)" in m.reason
    assert [f.capability for f in m.forces] == ["hazmat", "fire", "medical", "command", "hazmat"]


def _task(title: str, cap: str, order: int, deadline: int = 600) -> dict[str, Any]:
    return {"title": title, "capability": cap, "order": order, "deadline_s": deadline}


def test_tasks_grow_with_the_level() -> None:
    esc = [dict(CHLORINE["escalation"][0],  # type: ignore[index]
                extra_tasks=[_task("扩大警戒区至 1000 m", "fire", 10, 1200),
                             _task("检伤分类", "medical", 5, 900)]),
           dict(CHLORINE["escalation"][1],  # type: ignore[index]
                extra_tasks=[_task("开设县级指挥部", "command", 20, 1800)])]
    doc = _plan(dict(CHLORINE, escalation=esc,
                     tasks=[_task("关阀", "hazmat", 1), _task("水幕", "fire", 2)]))
    sc = doc.scenario("chlorine-leak")
    assert sc is not None

    def titles(level: str) -> list[str]:
        return [t.title for t in tasks_for_level(sc, level)]

    assert titles("III") == ["关阀", "水幕"]
    # in plan order: the level II triage (order 5) before its cordon (order 10)
    assert titles("II") == ["关阀", "水幕", "检伤分类", "扩大警戒区至 1000 m"]
    assert titles("I") == ["关阀", "水幕", "检伤分类", "扩大警戒区至 1000 m", "开设县级指挥部"]
    assert [s.level for s in steps_between(sc, "III", "I")] == ["II", "I"]
    assert [s.level for s in steps_between(sc, "II", "I")] == ["I"]
    assert steps_between(sc, "II", "II") == [] and steps_between(sc, "I", "III") == []

    # a report that arrives at level I brings every step's tasks, the reason parts unchanged
    m = match_scenario(doc, None, "leak", "UN1017", 4)
    assert m is not None and m.response_level == "I"
    assert [t.title for t in m.tasks] == titles("I")
    assert m.reason_parts[-1]["code"] == "match.level_escalated"
    low = match_scenario(doc, None, "leak", "UN1017", 2)
    assert low is not None and [t.title for t in low.tasks] == ["关阀", "水幕"]
