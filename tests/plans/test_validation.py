"""Every validation rule with a bad file each: the path, the file line and the message.

The same files go through the checker, `redline plans check` and the upload API, which must
all list every problem and (for the API) save nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from command.cli import main as redline
from command.models import Event
from plans.models import Plan, PlanVersion
from plans.validation import PlanValidationError, validate_plan_text
from tests.plans.conftest import BAD, CREDIT_CODE, DATA, JSON, YAML, read, upload

# the bundled map's (min_lon, min_lat, max_lon, max_lat)
BBOX = (-46.6670557, -23.5766408, -46.6043875, -23.5167604)

# file -> every problem expected: (path, line, part of the message)
EXPECT: dict[str, list[tuple[str, int, str]]] = {
    "unknown_capability.yaml": [
        ("scenarios[0].required_forces[1].capability", 20, "unknown capability 'drone'"),
        # the task performed by fire now has no fire force: reported too, not hidden
        ("scenarios[0].tasks[1].capability", 24, "no required force"),
    ],
    "bad_un_number.yaml": [
        ("scenarios[0].trigger.chemicals[0]", 10, "must be UN or NA followed by 4 digits"),
    ],
    "duplicate_scenario_id.yaml": [
        ("scenarios[1].id", 28, "duplicate scenario id 'chlorine-leak' (first at scenarios[0])"),
    ],
    "task_capability_not_provided.yaml": [
        ("scenarios[0].tasks[1].capability", 24,
         "no required force of this scenario provides capability 'medical'"),
    ],
    "negative_deadline.yaml": [
        ("scenarios[0].required_forces[0].deadline_s", 19, "must be > 0"),
    ],
    "negative_task_deadline.yaml": [
        ("scenarios[0].tasks[0].deadline_s", 22, "must be >= 0"),
    ],
    "deadlines_out_of_order.yaml": [
        ("scenarios[0].tasks[1].deadline_s", 24, "deadline 120 s (order 2) is earlier than 300 s"),
    ],
    "coordinates_outside_map.yaml": [
        ("assembly_points[0]", 35, "31.2304, 121.4737 is outside the map"),
    ],
    "count_below_one.yaml": [
        ("scenarios[1].required_forces[0].count", 33, "must be >= 1"),
    ],
    "yaml_syntax_error.yaml": [
        ("(document)", 32, "YAML syntax error"),
    ],
    "json_syntax_error.json": [
        ("(document)", 4, "JSON syntax error: Expecting ',' delimiter"),
    ],
    "unknown_capability.json": [
        ("scenarios[0].required_forces[1].capability", 43, "unknown capability 'drone'"),
        ("scenarios[0].tasks[1].capability", 58, "no required force"),
    ],
    "extra_task_problems.yaml": [
        # a step's tasks may use the forces of that step and the milder ones, not level I's
        ("scenarios[0].escalation[0].extra_tasks[1].capability", 20,
         "no required force of this scenario or its escalation steps up to this level "
         "provides capability 'aerial'"),
        ("scenarios[0].escalation[0].extra_tasks[2].deadline_s", 21,
         "deadline 600 s (order 12) is earlier than 1200 s of '高喷车压制气云' (order 11)"),
    ],
    "many_problems.yaml": [
        ("version", 3, "must be >= 1"),
        ("scenarios[0].trigger.chemicals[0]", 10, "must be a string"),
        ("scenarios[1].id", 28, "must be a slug"),
        ("scenarios[1].name", 28, "is required"),
    ],
}


def _fmt(name: str) -> Any:
    return "json" if name.endswith(".json") else "yaml"


def _check(text: str, fmt: Any, **kw: Any) -> list[tuple[str, int | None, str]]:
    with pytest.raises(PlanValidationError) as info:
        validate_plan_text(text, fmt, map_bbox=BBOX, for_enterprise=CREDIT_CODE, **kw)
    return [(p.path, p.line, p.message) for p in info.value.problems]


def _assert_problems(found: list[tuple[str, int | None, str]],
                     expected: list[tuple[str, int, str]]) -> None:
    assert [(p, ln) for p, ln, _m in found] == [(p, ln) for p, ln, _m in expected], found
    for (_p, _l, message), (_p2, _l2, part) in zip(found, expected, strict=True):
        assert part in message, (message, part)


def test_every_bad_file_is_listed() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECT)


def test_the_valid_files_pass() -> None:
    for name in ("valid.yaml", "valid.json"):
        doc = validate_plan_text(read(name), _fmt(name), map_bbox=BBOX,
                                 for_enterprise=CREDIT_CODE)
        assert doc.enterprise == CREDIT_CODE
        assert [s.id for s in doc.scenarios] == ["chlorine-leak", "general"]


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_bad_file(name: str) -> None:
    _assert_problems(_check((BAD / name).read_text(encoding="utf-8"), _fmt(name)),
                     EXPECT[name])


def test_existing_version_number() -> None:
    found = _check(read("valid.yaml"), "yaml", existing_versions={1, 2})
    _assert_problems(found, [("version", 3, "version 1 already exists (existing versions: 1, 2)")])


def test_plan_for_another_enterprise() -> None:
    with pytest.raises(PlanValidationError) as info:
        validate_plan_text(read("valid.yaml"), "yaml", map_bbox=BBOX,
                           for_enterprise="91990322MA1PLN0T8J")
    assert [(p.path, p.line) for p in info.value.problems] == [("enterprise", 2)]


def test_problem_format_names_file_and_line() -> None:
    with pytest.raises(PlanValidationError) as info:
        validate_plan_text((BAD / "count_below_one.yaml").read_text(), "yaml", map_bbox=BBOX)
    assert info.value.problems[0].format("plan.yaml") == (
        "plan.yaml:33: scenarios[1].required_forces[0].count: must be >= 1")


# ---- redline plans check ------------------------------------------------------------------

def test_cli_check_valid_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert redline(["plans", "check", str(DATA / "valid.yaml"), str(DATA / "valid.json")]) == 0
    out = capsys.readouterr().out
    assert f"{DATA / 'valid.yaml'}: ok" in out and f"{DATA / 'valid.json'}: ok" in out


@pytest.mark.parametrize("name", ["many_problems.yaml", "json_syntax_error.json",
                                  "unknown_capability.json"])
def test_cli_check_prints_every_problem(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = BAD / name
    assert redline(["plans", "check", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(": ")[0:2] for ln in lines] == [
        [f"{path}:{line}", p] for p, line, _m in EXPECT[name]]


def test_cli_check_mixed_files_fail(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert redline(["plans", "check", str(DATA / "valid.yaml"), str(missing)]) == 1
    assert "cannot read" in capsys.readouterr().out


def test_cli_check_touches_no_database(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert redline(["plans", "check", str(BAD / "bad_un_number.yaml")]) == 1
    assert not db.exists()


# ---- the upload API refuses the same files, listing every problem, saving nothing --------

def _counts(app: Any) -> tuple[int, int, int]:
    hub = app.extensions["redline"]
    with hub.service.reading() as s:
        return (s.scalar(select(func.count()).select_from(Plan)) or 0,
                s.scalar(select(func.count()).select_from(PlanVersion)) or 0,
                s.scalar(select(func.count()).select_from(Event)) or 0)


def test_upload_refuses_every_bad_file(app: Any, client: Any, enterprise_id: int,
                                       headers: Any) -> None:
    before = _counts(app)
    for name, expected in EXPECT.items():
        text = (BAD / name).read_text(encoding="utf-8")
        resp = upload(client, headers("duty"), enterprise_id, text,
                      JSON if name.endswith(".json") else YAML)
        assert resp.status_code == 422, (name, resp.get_json())
        body = resp.get_json()
        assert body["error"]["code"] == "invalid_plan"
        assert body["error"]["field"] == expected[0][0]
        found = [(p["path"], p["line"], p["message"]) for p in body["problems"]]
        _assert_problems(found, expected)
    assert _counts(app) == before, "a refused plan leaves nothing behind"


def test_upload_existing_version_is_refused(app: Any, client: Any, enterprise_id: int,
                                            headers: Any) -> None:
    assert upload(client, headers("duty"), enterprise_id, read("valid.yaml")).status_code == 201
    before = _counts(app)
    resp = upload(client, headers("duty"), enterprise_id, read("valid.yaml"))
    assert resp.status_code == 422
    assert [(p["path"], p["line"]) for p in resp.get_json()["problems"]] == [("version", 3)]
    assert "version 1 already exists" in resp.get_json()["problems"][0]["message"]
    assert _counts(app) == before
