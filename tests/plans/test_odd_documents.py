"""Odd but possible plan files: each is refused with a problem (never a crash, never a 500),
or, where it is a valid file, kept byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from plans.matching import match_scenario
from plans.models import PlanVersion
from plans.schema import PlanDocument
from plans.service import export, import_directory
from plans.validation import PlanValidationError, validate_plan_text
from tests.plans.conftest import YAML, read, upload

VALID = read("valid.yaml")


def _variant(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


ODD: dict[str, tuple[str, str]] = {
    # Python's own limits, met while reading the file
    "impossible date": (_variant("version: 1\n", "version: 1\napproved_on: 2024-02-30\n"),
                        "day is out of range"),
    "5,000-digit number": (_variant("version: 1", "version: " + "9" * 5000),
                           "cannot read the document"),
    "alias that contains itself": (_variant("version: 1\n", "version: 1\nloop: &x [*x]\n"),
                                   "refers to itself"),
    "nested thousands deep": (_variant("version: 1\n", "version: 1\ndeep: " + "[" * 3000
                                       + "]" * 3000 + "\n"), "nested too deep"),
    # beyond what the database stores
    "version past 32 bits": (_variant("version: 1", "version: 99999999999999999999999"),
                             "version"),
    # YAML types a plan never holds
    "binary title": (_variant("title_en: Test Fine Chemicals emergency plan",
                              "title_en: !!binary aGVsbG8="), "binary"),
    # values that would be coerced past the cross-field rules
    "a second general scenario as 1": (_variant("    name: 液氯泄漏\n",
                                                "    name: 液氯泄漏\n    general: 1\n"),
                                       "general"),
    "order as a string": (_variant("deadline_s: 600, order: 2}", "deadline_s: 600, order: '2'}"),
                          "order"),
    "version as true": (_variant("version: 1", "version: true"), "version"),
    "an escalation step that always fires": (_variant("min_casualties: 3", "min_casualties: 0"),
                                             "min_casualties"),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_files_are_refused_with_a_problem(name: str) -> None:
    text, expected = ODD[name]
    with pytest.raises(PlanValidationError) as caught:
        validate_plan_text(text, "yaml", map_bbox=None)
    problems = caught.value.problems
    assert any(expected in f"{p.path}: {p.message}" for p in problems), problems


def test_odd_files_are_refused_by_the_api_too(client: Any, login: Any,
                                              enterprise_id: int) -> None:
    admin = login("admin")
    for name, (text, _expected) in ODD.items():
        resp = upload(client, admin["headers"], enterprise_id, text, YAML)
        assert resp.status_code == 422, (name, resp.status_code, resp.get_data(as_text=True))
        assert resp.get_json()["error"]["code"] == "invalid_plan"


def test_a_repeated_key_is_reported_at_its_last_line() -> None:
    text = _variant("    response_level: III\n", "    response_level: III\n"
                    "    response_level: X\n")
    with pytest.raises(PlanValidationError) as caught:
        validate_plan_text(text, "yaml", map_bbox=None)
    line_of_x = text.splitlines().index("    response_level: X") + 1
    level = [p for p in caught.value.problems if "unknown response level" in p.message]
    assert level and level[0].line == line_of_x


def test_json_indented_with_tabs_keeps_its_lines() -> None:
    data = json.loads(read("valid.json"))
    data["scenarios"][0]["required_forces"][0]["count"] = 0
    text = json.dumps(data, ensure_ascii=False, indent="\t")
    with pytest.raises(PlanValidationError) as caught:
        validate_plan_text(text, "json", map_bbox=None)
    (p,) = [p for p in caught.value.problems if "count" in p.path]
    assert p.line is not None and '"count": 0' in text.splitlines()[p.line - 1]


def test_import_keeps_crlf_files_exact_and_reports_unreadable_ones(
        app: Any, tmp_path: Path, enterprise_id: int) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    crlf = VALID.replace("\n", "\r\n").encode("utf-8")
    (folder / "a-valid.yaml").write_bytes(crlf)
    (folder / "b-latin1.yaml").write_bytes(b"title: caf\xe9\n")
    service = app.extensions["redline"].service
    with service.sessions() as s, s.begin():
        report = import_directory(s, folder, author="test")
    assert any(name.endswith("b-latin1.yaml") for name in report.failed)
    assert any(name.endswith("a-valid.yaml") for name in report.imported)
    with service.sessions() as s:
        row = s.scalars(select(PlanVersion).order_by(PlanVersion.id.desc())).first()
        assert row is not None
        assert row.plan.enterprise_id == enterprise_id
        text = export(row, row.source_format)
    assert text.encode("utf-8") == crlf


def test_the_county_fallback_never_takes_another_chemicals_scenario() -> None:
    county = PlanDocument.model_validate({
        "version": 1, "title": "县级预案",
        "scenarios": [
            {"id": "cl-leak", "name": "氯泄漏", "response_level": "III",
             "trigger": {"kinds": ["leak"], "chemicals": ["UN1017"], "min_severity": 3},
             "required_forces": [{"capability": "hazmat", "count": 1, "deadline_s": 900}]},
            {"id": "general", "name": "综合", "general": True, "response_level": "IV",
             "required_forces": [{"capability": "fire", "count": 1, "deadline_s": 900}]},
        ]})
    m = match_scenario(None, county, "leak", "UN1005", 2, 0)
    assert m is not None and m.scenario.id == "general"
