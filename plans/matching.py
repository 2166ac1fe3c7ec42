"""Which plan scenario a report activates, at which response level and with which forces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dispatch.reasons import Part, Reason
from plans.hazards import normalize_un
from plans.schema import (
    RESPONSE_LEVELS,
    Escalation,
    PlanDocument,
    PlanScenario,
    RequiredForce,
    TaskTemplate,
    level_rank,
)


@dataclass
class Match:
    """The scenario chosen for a report, why, and what it calls for."""

    scenario: PlanScenario
    source: str  # "enterprise" | "county_default"
    reason: str
    response_level: str
    forces: list[RequiredForce] = field(default_factory=list)
    tasks: list[TaskTemplate] = field(default_factory=list)
    # the reason as [{"code", "params"}] for the pages to translate; built with the text
    reason_parts: list[Part] = field(default_factory=list)


class Escalated(NamedTuple):
    """A response level and the forces it calls for."""

    level: str
    forces: list[RequiredForce]


def _step_reached(step_min_severity: int | None, step_min_casualties: int | None,
                  severity: int, casualties: int) -> bool:
    # a step is reached when any of its conditions holds: either alone justifies escalating
    return ((step_min_severity is not None and severity >= step_min_severity)
            or (step_min_casualties is not None and casualties >= step_min_casualties))


def forces_for_level(scenario: PlanScenario, level: str) -> list[RequiredForce]:
    """Base forces plus the extra forces of every escalation step at or below level."""
    forces = list(scenario.required_forces)
    for step in scenario.escalation:
        if level_rank(step.level) >= level_rank(level):
            forces.extend(step.extra_forces)
    return forces


def tasks_for_level(scenario: PlanScenario, level: str) -> list[TaskTemplate]:
    """Base tasks plus the extra tasks of every escalation step at or below level, in order."""
    tasks = list(scenario.tasks)
    for step in scenario.escalation:
        if level_rank(step.level) >= level_rank(level):
            tasks.extend(step.extra_tasks)
    # stable: equal orders keep the plan's own sequence, base tasks first
    return sorted(tasks, key=lambda t: t.order)


def steps_between(scenario: PlanScenario, from_level: str | None, to_level: str
                  ) -> list[Escalation]:
    """The escalation steps newly reached going from from_level to the more severe to_level.

    Those more severe than from_level (all when it is None) and not more severe than
    to_level; none when to_level is not more severe than from_level.
    """
    upper = level_rank(from_level) if from_level in RESPONSE_LEVELS else len(RESPONSE_LEVELS)
    return [step for step in scenario.escalation
            if level_rank(to_level) <= level_rank(step.level) < upper]


def response_level_for(scenario: PlanScenario, severity: int, casualties: int = 0
                       ) -> Escalated:
    """The level after escalation (toward I) and the forces for it."""
    level = scenario.response_level
    for step in scenario.escalation:
        if _step_reached(step.min_severity, step.min_casualties, severity, casualties) \
                and level_rank(step.level) < level_rank(level):
            level = step.level
    return Escalated(level, forces_for_level(scenario, level))


def _level_note(sc: PlanScenario, level: str, severity: int, casualties: int) -> Reason:
    r = Reason(REASON_TEXT)
    if level == sc.response_level:
        return r.add("match.level", level=level)
    return r.add("match.level_escalated", level=level, from_level=sc.response_level,
                 severity=severity, casualties=casualties)


def _score(sc: PlanScenario, kind: str, chemical: str | None, severity: int
           ) -> tuple[int, int, int] | None:
    """Higher is a better fit; None when the scenario does not apply."""
    t = sc.trigger
    if t.kinds and kind not in t.kinds:
        return None
    if t.chemicals and chemical is not None and chemical not in t.chemicals:
        return None
    if severity < t.min_severity:
        return None
    # a named chemical beats a scenario for any chemical, which beats one whose chemical
    # the report does not give
    chem = 2 if (t.chemicals and chemical in t.chemicals) else (1 if not t.chemicals else 0)
    return chem, 1 if t.kinds else 0, t.min_severity


def _why(sc: PlanScenario, kind: str, chemical: str | None, severity: int) -> Reason:
    t = sc.trigger
    named = bool(t.chemicals and chemical in t.chemicals)
    code = ("match.kind" if t.kinds else "match.any_kind") + ("_chemical" if named else "")
    params: dict[str, Any] = {"kind": kind, "scenario": sc.id}
    if named:
        params["chemical"] = chemical
    r = Reason(REASON_TEXT).add(code, **params)
    if t.chemicals and chemical is None:
        r.add("match.no_chemical", sep=" (", chemicals=", ".join(t.chemicals)).punct(")")
    elif not t.chemicals and chemical:
        r.add("match.any_chemical", sep=" (", chemical=chemical).punct(")")
    return r.add("match.severity", severity=severity, min_severity=t.min_severity)


def _near_misses(doc: PlanDocument, kind: str, chemical: str | None, severity: int
                 ) -> Reason:
    below = [sc for sc in doc.scenarios if not sc.general
             and (not sc.trigger.kinds or kind in sc.trigger.kinds)
             and not (sc.trigger.chemicals and chemical and chemical not in sc.trigger.chemicals)
             and severity < sc.trigger.min_severity]
    r = Reason(REASON_TEXT)
    for sc in below:
        r.add("match.needs_severity", sep=", ", scenario=sc.id,
              min_severity=sc.trigger.min_severity)
    return r


def _best(doc: PlanDocument, kind: str, chemical: str | None, severity: int
          ) -> PlanScenario | None:
    scored = [(s, -i, sc) for i, sc in enumerate(doc.scenarios) if not sc.general
              and (s := _score(sc, kind, chemical, severity)) is not None]
    return max(scored, key=lambda x: (x[0], x[1]))[2] if scored else None


def _general(doc: PlanDocument) -> PlanScenario | None:
    return next((sc for sc in doc.scenarios if sc.general), None)


def _build(sc: PlanScenario, source: str, why: Reason, severity: int, casualties: int
           ) -> Match:
    level, forces = response_level_for(sc, severity, casualties)
    why.extend(_level_note(sc, level, severity, casualties))
    return Match(scenario=sc, source=source, reason=why.text, response_level=level,
                 forces=forces, tasks=tasks_for_level(sc, level),
                 reason_parts=why.parts)


def match_scenario(plan_doc: PlanDocument | None, county_default: PlanDocument | None,
                   kind: str, chemical: str | None, severity: int, casualties: int = 0
                   ) -> Match | None:
    """Best-fitting scenario: the enterprise's, its general one, then the county default.

    None only when neither plan is given or the county default has nothing for the kind.
    """
    chem = normalize_un(chemical) if chemical else None
    # "kind X" or "kind X with UN1234": the chemical variant of a code says the latter
    what = "_chemical" if chem else ""
    what_params: dict[str, Any] = {"kind": kind} | ({"chemical": chem} if chem else {})
    if plan_doc is not None:
        sc = _best(plan_doc, kind, chem, severity)
        if sc is not None:
            return _build(sc, "enterprise", _why(sc, kind, chem, severity), severity, casualties)
        general = _general(plan_doc)
        if general is not None:
            r = Reason(REASON_TEXT).add("match.no_enterprise_scenario" + what,
                                        severity=severity, **what_params)
            r.extend(_near_misses(plan_doc, kind, chem, severity))
            r.add("match.enterprise_general", scenario=general.id)
            return _build(general, "enterprise", r, severity, casualties)
    if county_default is not None:
        lead = Reason(REASON_TEXT).add("match.no_enterprise_plan" if plan_doc is None
                                       else "match.enterprise_plan_unmatched")
        sc = _best(county_default, kind, chem, severity)
        if sc is None:
            # a scenario written for another chemical is no fallback for this one
            sc = next((s for s in county_default.scenarios
                       if not s.general and kind in s.trigger.kinds
                       and not (s.trigger.chemicals and chem
                                and chem not in s.trigger.chemicals)), None)
        if sc is not None:
            lead.add("match.county_default" + what, scenario=sc.id, **what_params)
            return _build(sc, "county_default", lead, severity, casualties)
        general = _general(county_default)
        if general is not None:
            lead.add("match.county_general" + what, scenario=general.id, **what_params)
            return _build(general, "county_default", lead, severity, casualties)
    return None


# English templates of the reason parts; web/static/i18n/<lang>.json hold them as
# "reason.<code>" (en.json word for word: tests/web/test_i18n.py checks it)
REASON_TEXT: dict[str, str] = {
    "match.kind": "kind {kind} matches scenario {scenario}",
    "match.any_kind": "any kind ({kind}) matches scenario {scenario}",
    "match.kind_chemical": "kind {kind} and chemical {chemical} match scenario {scenario}",
    "match.any_kind_chemical":
        "any kind ({kind}) and chemical {chemical} match scenario {scenario}",
    "match.no_chemical": "no chemical reported; scenario is for {chemicals}",
    "match.any_chemical": "scenario is for any chemical, reported {chemical}",
    "match.severity": "severity {severity} ≥ {min_severity}",
    "match.no_enterprise_scenario":
        "no scenario of the enterprise plan matches kind {kind} at severity {severity}",
    "match.no_enterprise_scenario_chemical":
        "no scenario of the enterprise plan matches kind {kind} with {chemical} "
        "at severity {severity}",
    "match.needs_severity": "{scenario} needs severity ≥ {min_severity}",
    "match.enterprise_general": "using its general scenario {scenario}",
    "match.no_enterprise_plan": "no enterprise plan",
    "match.enterprise_plan_unmatched": "the enterprise plan has no matching or general scenario",
    "match.county_default": "county default scenario {scenario} for kind {kind}",
    "match.county_default_chemical":
        "county default scenario {scenario} for kind {kind} with {chemical}",
    "match.county_general": "county default general scenario {scenario} for kind {kind}",
    "match.county_general_chemical":
        "county default general scenario {scenario} for kind {kind} with {chemical}",
    "match.level": "response level {level}",
    "match.level_escalated": "response level {level}, escalated from {from_level} "
                             "(severity {severity}, casualties {casualties})",
}


__all__ = ["REASON_TEXT", "RESPONSE_LEVELS", "Escalated", "Match", "forces_for_level",
           "match_scenario", "response_level_for", "steps_between", "tasks_for_level"]
