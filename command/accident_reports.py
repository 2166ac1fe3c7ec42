"""Accident reports per State Council order No. 493: the first report (Art. 12), its grade
(Art. 3), follow-ups (续报, Art. 13) and the upward chain with one countdown per step (Art. 10-11).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from command.errors import Conflict, InvalidInput

# Art. 3: the most severe grade any one measure reaches
GRADES = ("general", "larger", "major", "especially_major")
GRADE_NAMES_ZH = {"general": "一般事故", "larger": "较大事故", "major": "重大事故",
                  "especially_major": "特别重大事故"}
DEATHS = (3, 10, 30)
SERIOUS_INJURIES = (10, 50, 100)  # acute industrial poisoning counts here
DIRECT_LOSS_YUAN = (10_000_000, 50_000_000, 100_000_000)
# Art. 10: how far up each grade goes, each level within 2 hours of the one below
CHAIN = ("city", "province", "state_council")
CHAIN_REACH = {"general": 1, "larger": 2, "major": 3, "especially_major": 3}
STEP_DUE = dt.timedelta(hours=2)
# Art. 10-11: who each level informs besides the next level up
RECIPIENTS = ("emergency_management", "public_security", "human_resources_social_security",
              "trade_union", "procuratorate")
# Art. 13: follow-ups within 30 days of the accident, 7 for fires and road traffic
FOLLOW_UP_DAYS = {"general": 30, "fire": 7, "road_traffic": 7}
COUNTS = ("dead", "injured", "seriously_injured", "missing")
TEXTS = ("enterprise_summary", "place", "account", "measures", "reporter_name",
         "reporter_phone")


def grade(dead: int, seriously_injured: int, direct_loss_yuan: float) -> str:
    """The accident grade by deaths, serious injuries (incl. poisoning) and direct loss."""
    rank = 0
    for i in range(3):
        if (dead >= DEATHS[i] or seriously_injured >= SERIOUS_INJURIES[i]
                or direct_loss_yuan >= DIRECT_LOSS_YUAN[i]):
            rank = i + 1
    return GRADES[rank]


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100_000:
        raise InvalidInput(f"{key} must be a whole number from 0 to 100000", key)
    return value


def _parse_time(raw: Any, field: str) -> dt.datetime:
    if not isinstance(raw, str):
        raise InvalidInput(f"{field} must be an ISO 8601 time with its offset", field)
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO 8601 time with its offset", field) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{field} must carry its UTC offset", field)
    return value.astimezone(dt.UTC)


def casualties(data: dict[str, Any]) -> dict[str, Any]:
    """The counts and loss of a report or follow-up, validated."""
    out: dict[str, Any] = {k: _count(data, k) for k in COUNTS}
    if out["seriously_injured"] > out["injured"]:
        raise InvalidInput("seriously_injured cannot exceed injured", "seriously_injured")
    loss = data.get("direct_loss_yuan", 0)
    if not isinstance(loss, (int, float)) or isinstance(loss, bool) or not 0 <= loss < 1e13:
        raise InvalidInput("direct_loss_yuan must be a non-negative amount", "direct_loss_yuan")
    out["direct_loss_yuan"] = float(loss)
    return out


def first_report(data: dict[str, Any], now: dt.datetime, by: str) -> dict[str, Any]:
    """The Art. 12 first report with its grade and the upward chain, each step due in 2 h."""
    occurred = _parse_time(data.get("occurred_at"), "occurred_at")
    if occurred > now + dt.timedelta(minutes=5):
        raise InvalidInput("occurred_at is in the future", "occurred_at")
    texts = {}
    for key in TEXTS:
        value = data.get(key, "")
        if not isinstance(value, str) or not value.strip() or len(value) > 4000:
            raise InvalidInput(f"{key} must be 1..4000 characters", key)
        texts[key] = value.strip()
    category = data.get("category", "general")
    if category not in FOLLOW_UP_DAYS:
        raise InvalidInput("category must be general, fire or road_traffic", "category")
    counts = casualties(data)
    report: dict[str, Any] = {
        "occurred_at": occurred.isoformat(), "category": category, **texts, **counts,
        "submitted_at": now.isoformat(), "by": by, "follow_ups": [], "steps": []}
    _set_grade(report, now)
    return report


def _set_grade(report: dict[str, Any], now: dt.datetime) -> None:
    g = grade(report["dead"], report["seriously_injured"], report["direct_loss_yuan"])
    report["grade"] = g
    report["grade_zh"] = GRADE_NAMES_ZH[g]
    steps = report["steps"]
    for level in CHAIN[len(steps):CHAIN_REACH[g]]:
        # each level's countdown runs from the step below it (sent, or due) or from now
        start = now
        if steps:
            prev = steps[-1]
            start = dt.datetime.fromisoformat(prev["sent_at"] or prev["due_at"])
        steps.append({"to": level, "due_at": (start + STEP_DUE).isoformat(), "sent_at": None,
                      "sent_by": None, "recipients": list(RECIPIENTS)})


def follow_up(report: dict[str, Any], data: dict[str, Any], now: dt.datetime, by: str
              ) -> dict[str, Any]:
    """A 续报 with the new counts; refused after the Art. 13 window; the grade and chain follow."""
    occurred = dt.datetime.fromisoformat(report["occurred_at"])
    window = dt.timedelta(days=FOLLOW_UP_DAYS[report["category"]])
    if now > occurred + window:
        raise Conflict(f"follow-ups end {window.days} days after the accident", "occurred_at")
    counts = casualties(data)
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 4000:
        raise InvalidInput("note must be at most 4000 characters", "note")
    before = {k: report[k] for k in (*COUNTS, "direct_loss_yuan")}
    if counts == before and not note.strip():
        raise InvalidInput("a follow-up changes a count or says what is new", "note")
    report["follow_ups"] = [*report["follow_ups"], {
        "at": now.isoformat(), "by": by, "before": before, **counts, "note": note.strip()}]
    report.update(counts)
    _set_grade(report, now)
    return report


def mark_sent(report: dict[str, Any], level: str, recipients: list[str], now: dt.datetime,
              by: str) -> dict[str, Any]:
    """The officer sent the report to that level (and the recipients named)."""
    step = next((s for s in report["steps"] if s["to"] == level), None)
    if step is None:
        raise InvalidInput(f"this accident's report does not go to {level}", "level")
    if step["sent_at"] is not None:
        raise Conflict(f"the report to {level} was already sent", "level")
    unknown = [r for r in recipients if r not in RECIPIENTS]
    if unknown or not recipients:
        raise InvalidInput("recipients must be some of " + ", ".join(RECIPIENTS),
                           "recipients")
    index = report["steps"].index(step)
    if index and report["steps"][index - 1]["sent_at"] is None:
        raise Conflict("the level below has not been sent yet", "level")
    step.update(sent_at=now.isoformat(), sent_by=by, recipients=list(recipients),
                late=now > dt.datetime.fromisoformat(step["due_at"]))
    return report


def with_overdue(report: dict[str, Any] | None, now: dt.datetime) -> dict[str, Any] | None:
    """The report with each unsent step's overdue flag as of now."""
    if report is None:
        return None
    steps = [{**s, "overdue": s["sent_at"] is None
              and now > dt.datetime.fromisoformat(s["due_at"])} for s in report["steps"]]
    return {**report, "steps": steps}
