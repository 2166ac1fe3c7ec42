"""Server-made reasons carry machine-readable parts that say exactly what the English text says.

The pages render the parts through "reason.<code>" in web/static/i18n/<lang>.json; the text
stays for logs and API consumers. Both are built from the same data (dispatch.reasons).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from command.coverage import gap_reason, gap_reason_parts
from command.drills import OUTCOME_TEXT
from command.service import RELEASE_TEXT, REROUTE_TEXT
from dispatch.coverage import COVER_TEXT, RequirementCover, TargetCoverage
from dispatch.hazard import SOURCE_TEXT, isolation_for
from dispatch.reasons import Reason
from plans.matching import REASON_TEXT, match_scenario
from tests.plans.test_matching import COUNTY, ENTERPRISE, _force, _plan

ALL_TEXT: dict[str, str] = {**REASON_TEXT, **SOURCE_TEXT, **COVER_TEXT, **RELEASE_TEXT,
                            **REROUTE_TEXT, **OUTCOME_TEXT}
PUNCTUATION = set(" ;,()")


def assert_parts_say_the_text(parts: list[dict[str, Any]], text: str,
                              templates: Mapping[str, str] = ALL_TEXT) -> None:
    """Every part, rendered in English, is in the text in order; only punctuation is left."""
    assert parts, text
    rest, pos = [], 0
    for p in parts:
        assert set(p) == {"code", "params"}
        chunk = templates[p["code"]].format(**p["params"])
        at = text.find(chunk, pos)
        assert at >= 0, (chunk, text)
        rest.append(text[pos:at])
        pos = at + len(chunk)
    rest.append(text[pos:])
    assert set("".join(rest)) <= PUNCTUATION, (rest, text)


@pytest.mark.parametrize(("kind", "chemical", "severity", "casualties", "plan", "codes"), [
    ("leak", "UN1017", 2, 0, ENTERPRISE,
     ["match.kind_chemical", "match.severity", "match.level"]),
    ("leak", "UN1017", 3, 4, ENTERPRISE,
     ["match.kind_chemical", "match.severity", "match.level_escalated"]),
    ("leak", "UN1005", 2, 0, ENTERPRISE,
     ["match.kind", "match.any_chemical", "match.severity", "match.level"]),
    ("fire", None, 1, 0, ENTERPRISE,
     ["match.no_enterprise_scenario", "match.needs_severity", "match.enterprise_general",
      "match.level"]),
    ("leak", "UN1005", 3, 0, None,
     ["match.no_enterprise_plan", "match.county_default_chemical", "match.level"]),
    ("poisoning", None, 2, 0, _plan({"id": "x", "name": "x", "response_level": "IV",
                                      "trigger": {"kinds": ["fire"]},
                                      "required_forces": [_force("fire")]}),
     ["match.enterprise_plan_unmatched", "match.county_general", "match.level"]),
])
def test_match_reason_parts_cover_the_text(kind: str, chemical: str | None, severity: int,
                                           casualties: int, plan: Any, codes: list[str]) -> None:
    m = match_scenario(plan, COUNTY, kind, chemical, severity, casualties)
    assert m is not None
    assert [p["code"] for p in m.reason_parts] == codes
    assert_parts_say_the_text(m.reason_parts, m.reason, REASON_TEXT)
    # the data behind the text is in the params, not only in the English
    assert m.scenario.id in {p["params"].get("scenario") for p in m.reason_parts}
    assert m.reason_parts[-1]["params"]["level"] == m.response_level


def test_a_chemical_without_one_reported_is_a_parenthetical_part() -> None:
    chlorine_only = _plan({"id": "cl", "name": "氯", "response_level": "III",
                           "trigger": {"kinds": ["leak"], "chemicals": ["UN1017", "UN1005"]},
                           "required_forces": [_force("hazmat")]})
    m = match_scenario(chlorine_only, None, "leak", None, 2)
    assert m is not None
    assert m.reason.startswith("kind leak matches scenario cl (no chemical reported; "
                               "scenario is for UN1017, UN1005); severity 2 ≥ 1")
    assert m.reason_parts[1] == {"code": "match.no_chemical",
                                 "params": {"chemicals": "UN1017, UN1005"}}
    assert_parts_say_the_text(m.reason_parts, m.reason, REASON_TEXT)


@pytest.mark.parametrize(("args", "codes"), [
    ({"un": "UN1017"}, ["isolation.erg", "isolation.spill.small", "isolation.day",
                        "isolation.atm"]),
    ({"un": "UN1017", "spill": "large", "night": True},
     ["isolation.erg", "isolation.spill.large", None, None, "isolation.container_unknown",
      "isolation.wind_unknown", "isolation.night", "isolation.over_11km", "isolation.atm"]),
    ({"un": "UN1017", "spill": "large", "container": "rail", "wind_speed_ms": 1.0},
     ["isolation.erg", "isolation.spill.large", "isolation.container.RAIL",
      "isolation.wind.low", "isolation.day", "isolation.atm"]),
    # a material without a Table 1 row: its guide page
    ({"un": "UN1049", "spill": "large", "fire": True},
     ["isolation.guide", "isolation.guide_large", "isolation.fire"]),
    ({"un": "UN1053", "fire": True},
     ["isolation.erg", "isolation.spill.small", "isolation.day", "isolation.fire"]),
])
def test_isolation_source_parts_cover_the_text(args: dict[str, Any], codes: list[Any]) -> None:
    dist = isolation_for(**args)
    assert dist is not None
    got = [p["code"] for p in dist.source_parts]
    assert len(got) == len(codes)
    assert all(c is None or c == g for c, g in zip(codes, got, strict=True)), got
    assert dist.source_parts[0]["params"]["un"] == dist.un
    assert_parts_say_the_text(dist.source_parts, dist.source, SOURCE_TEXT)


def test_several_entries_say_most_protective_in_the_parts_too() -> None:
    # UN1953 (poisonous flammable compressed gas n.o.s.) has entries per inhalation zone
    dist = isolation_for("UN1953")
    assert dist is not None and "most protective of" in dist.source
    assert dist.source_parts[-1]["code"] == "isolation.most_protective"
    assert_parts_say_the_text(dist.source_parts, dist.source, SOURCE_TEXT)


def test_gap_reason_parts_cover_the_text() -> None:
    short = TargetCoverage(7, "厂", "red", (
        RequirementCover("fire", 3, 600.0, 1, 900.0, -0.5),
        RequirementCover("hazmat", 1, 900.0, 1, 300.0, 0.6),
        RequirementCover("medical", 2, 1200.0, 0, None, None)), "fire")
    assert gap_reason(short) == ("fire: 1 of 3 can arrive within 600 s; "
                                 "medical: 0 of 2 can arrive within 1200 s")
    parts = gap_reason_parts(short)
    assert parts[0] == {"code": "cover.short", "params": {
        "capability": "fire", "covered": 1, "count": 3, "deadline_s": "600"}}
    assert_parts_say_the_text(parts, gap_reason(short), COVER_TEXT)
    off = Reason(COVER_TEXT).add("cover.off_road", distance_m="812", max_m="500")
    unroutable = TargetCoverage(8, "远", "red", (), None, off.text, off.parts)
    assert gap_reason(unroutable) == "point is 812 m from the nearest road (limit 500 m)"
    assert_parts_say_the_text(gap_reason_parts(unroutable), gap_reason(unroutable))


def test_the_checker_notices_a_part_the_text_does_not_say() -> None:
    r = Reason(RELEASE_TEXT).add("release.unit_set", status="available")
    assert r.text == "unit set available"
    with pytest.raises(AssertionError):
        assert_parts_say_the_text(r.parts, "unit set out_of_service", RELEASE_TEXT)
    with pytest.raises(AssertionError):  # text that no part explains
        assert_parts_say_the_text(r.parts, r.text + "; and more", RELEASE_TEXT)
