"""Plan checks: every problem of a plan file at once, each with its path and file line."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from plans.schema import (
    CAPABILITIES,
    INCIDENT_KINDS,
    RESPONSE_LEVELS,
    PlanDocument,
)

Format = Literal["yaml", "json"]
Loc = tuple[str | int, ...]
# (min_lon, min_lat, max_lon, max_lat), the order of dispatch.graph.RoadGraph.bbox
BBox = tuple[float, float, float, float]

MAX_TEXT_CHARS = 1_000_000
# aliases can make a small file expand into a huge tree; plans are a few thousand nodes
MAX_NODES = 200_000
ROOT = "(document)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an authored file."""

    path: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"path": self.path, "message": self.message, "line": self.line}

    def format(self, filename: str) -> str:
        """FILE:LINE: path: message, the way compilers report."""
        where = f"{filename}:{self.line}" if self.line is not None else filename
        return f"{where}: {self.path}: {self.message}"


class PlanError(Exception):
    """Base of the plan domain's errors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PlanValidationError(PlanError):
    """A plan (or enterprise file) refused, with every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted_problems(problems)
        n = len(self.problems)
        first = self.problems[0] if self.problems else None
        summary = f"{first.path}: {first.message}" if first else "invalid"
        super().__init__(f"{n} problem{'s' if n != 1 else ''}; first: {summary}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for an API answer."""
        return {"message": self.message, "problems": [p.as_dict() for p in self.problems]}


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Unique problems in file order; those without a line last."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line is None, p.line or 0))


def format_path(loc: Loc) -> str:
    """('scenarios', 2, 'count') -> 'scenarios[2].count'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or ROOT


@dataclass
class Parsed:
    """Data parsed from a file and the 1-based line of every location in it."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        """The line of loc, else of its nearest ancestor present in the file."""
        for n in range(len(loc), -1, -1):
            found = self.lines.get(tuple(loc[:n]))
            if found is not None:
                return found
        return None

    def problem(self, loc: Loc, message: str) -> Problem:
        """A Problem at loc with its line."""
        return Problem(format_path(loc), message, self.line(loc))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number in JSON")


def parse_text(text: str, fmt: Format) -> tuple[Parsed | None, list[Problem]]:
    """Parse YAML or JSON; syntax errors come back as problems with their line."""
    if fmt not in ("yaml", "json"):
        return None, [Problem("(format)", f"unknown format {fmt!r}; use yaml or json")]
    if len(text) > MAX_TEXT_CHARS:
        return None, [Problem(ROOT, f"file is larger than {MAX_TEXT_CHARS} characters")]
    try:
        return _parse(text, fmt)
    except (ValueError, OverflowError, RecursionError) as exc:
        # Python's own limits: a date like 2024-02-30, a 5,000-digit number, an alias that
        # contains itself, nesting thousands deep. A problem like any other, never a crash.
        what = "nested too deep or refers to itself" if isinstance(exc, RecursionError) \
            else str(exc)
        return None, [Problem(ROOT, f"cannot read the document: {what}")]


# YAML types a plan never holds; pydantic would quietly turn binary into text, and a set
# loses its order
_FOREIGN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("binary", "set", "omap", "pairs")}


def _parse(text: str, fmt: Format) -> tuple[Parsed | None, list[Problem]]:
    problems: list[Problem] = []
    if fmt == "json":
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            return None, [Problem(ROOT, f"JSON syntax error: {exc.msg}", exc.lineno)]
        except ValueError as exc:
            return None, [Problem(ROOT, f"JSON syntax error: {exc}")]
        # JSON is (almost always) YAML flow syntax, so YAML's node marks give the lines; a
        # tab cannot stand raw inside a JSON string, so as indentation it may become a space
        try:
            root = yaml.compose(text.replace("\t", " "), Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            root = None
    else:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text) if root is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            detail = " ".join(x for x in (exc.context, exc.problem) if x)
            return None, [Problem(ROOT, f"YAML syntax error: {detail}",
                                  mark.line + 1 if mark else None)]
        except yaml.YAMLError as exc:
            return None, [Problem(ROOT, f"YAML syntax error: {exc}")]
    parsed = Parsed(data)
    if root is not None:
        budget = [MAX_NODES]
        if not _index(root, (), parsed, problems, budget, record=True):
            return None, [Problem(ROOT, f"document has more than {MAX_NODES} nodes")]
    if data is None:
        problems.append(Problem(ROOT, "document is empty", 1))
    return parsed, problems


def _index(node: yaml.Node, loc: Loc, parsed: Parsed, problems: list[Problem],
           budget: list[int], *, record: bool) -> bool:
    budget[0] -= 1
    if budget[0] < 0:
        return False
    if record:
        parsed.lines.setdefault(loc, node.start_mark.line + 1)
    if node.tag in _FOREIGN_TAGS:
        problems.append(Problem(format_path(loc), f"YAML type {node.tag.rsplit(':', 1)[-1]} "
                                "has no place in a plan", node.start_mark.line + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            child = (*loc, name)
            if name in seen and name != "<<":
                problems.append(Problem(format_path(child), f"duplicate key {name!r}",
                                        key.start_mark.line + 1))
            seen.add(name)
            # a repeated key: the loader keeps the last value, so its line is the last one
            parsed.lines[child] = key.start_mark.line + 1
            if not _index(value, child, parsed, problems, budget, record=False):
                return False
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if not _index(item, (*loc, i), parsed, problems, budget, record=True):
                return False
    return True


# ---- pydantic errors in the path syntax ---------------------------------------------------

_CHOICES = {
    "capability": ("capability", CAPABILITIES),
    "kinds": ("incident kind", INCIDENT_KINDS),
    "kind": ("incident kind", INCIDENT_KINDS),
    "response_level": ("response level", RESPONSE_LEVELS),
    "level": ("response level", RESPONSE_LEVELS),
}


def _field_name(loc: Loc) -> str:
    return next((str(p) for p in reversed(loc) if isinstance(p, str)), "")


def error_message(err: Any) -> str:
    """A short message for one pydantic error ("must be >= 1", "is required", ...)."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    loc = tuple(err["loc"])
    value = err.get("input")
    simple = {
        "missing": "is required",
        "extra_forbidden": "unknown field",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "finite_number": "must be a finite number",
        "string_type": "must be a string (quote it in YAML)",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
        "dict_type": "must be a mapping",
        "date_parsing": "must be a date (YYYY-MM-DD)",
        "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
        "date_from_datetime_inexact": "must be a date (YYYY-MM-DD)",
        "date_type": "must be a date (YYYY-MM-DD)",
    }
    if kind in simple:
        return simple[kind]
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"must have at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        label, choices = _CHOICES.get(_field_name(loc), ("value", ()))
        if choices:
            return f"unknown {label} {value!r} (expected one of {', '.join(choices)})"
        return f"must be one of {ctx.get('expected')}"
    return str(err["msg"])


def pydantic_problems(exc: ValidationError, parsed: Parsed, prefix: Loc = ()) -> list[Problem]:
    """Each pydantic error as a Problem with our path syntax and the file line."""
    out = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        out.append(parsed.problem(loc, error_message(err)))
    return out


def validate_model(model: type[BaseModel] | TypeAdapter[Any], parsed: Parsed
                   ) -> tuple[Any, list[Problem]]:
    """Validate parsed data with a pydantic model; (result or None, problems)."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(parsed.data), []
        return model.model_validate(parsed.data), []
    except ValidationError as exc:
        return None, pydantic_problems(exc, parsed)


# ---- cross-field rules on the raw data (they run even when the schema fails elsewhere) ----

def _list(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def outside_bbox(lat: float, lon: float, bbox: BBox) -> bool:
    """Whether a point lies outside (min_lon, min_lat, max_lon, max_lat)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    return not (min_lat <= lat <= max_lat and min_lon <= lon <= max_lon)


def bbox_text(bbox: BBox) -> str:
    """Human-readable bbox."""
    min_lon, min_lat, max_lon, max_lat = bbox
    return f"lat {min_lat:.5f}…{max_lat:.5f}, lon {min_lon:.5f}…{max_lon:.5f}"


def point_problems(parsed: Parsed, loc: Loc, item: Any, bbox: BBox | None) -> list[Problem]:
    """A point (mapping with lat and lon) outside the map."""
    lat, lon = _number(_get(item, "lat")), _number(_get(item, "lon"))
    if bbox is None or lat is None or lon is None or not outside_bbox(lat, lon, bbox):
        return []
    return [parsed.problem(loc, f"{lat}, {lon} is outside the map ({bbox_text(bbox)})")]


def cross_field_problems(parsed: Parsed, *, map_bbox: BBox | None,
                         existing_versions: Iterable[int]) -> list[Problem]:
    """Rules across fields: references, duplicates, deadlines, coordinates, versions."""
    data = parsed.data
    if not isinstance(data, dict):
        return []
    out: list[Problem] = []
    existing = set(existing_versions)
    version = _get(data, "version")
    if isinstance(version, int) and not isinstance(version, bool) and version in existing:
        listed = ", ".join(str(v) for v in sorted(existing))
        out.append(parsed.problem(("version",), f"version {version} already exists "
                                                f"(existing versions: {listed})"))

    points: dict[str, int] = {}
    for i, point in _list(_get(data, "assembly_points")):
        name = _str(_get(point, "name"))
        if name is not None:
            if name in points:
                out.append(parsed.problem(("assembly_points", i, "name"),
                                          f"duplicate assembly point {name!r} (first at "
                                          f"assembly_points[{points[name]}])"))
            points.setdefault(name, i)
        out += point_problems(parsed, ("assembly_points", i), point, map_bbox)

    contacts: set[str] = set()
    for _i, contact in _list(_get(data, "contacts")):
        for key in ("name", "role"):
            if (value := _str(_get(contact, key))) is not None:
                contacts.add(value)

    seen_ids: dict[str, int] = {}
    general: list[int] = []
    for i, sc in _list(_get(data, "scenarios")):
        loc: Loc = ("scenarios", i)
        sid = _str(_get(sc, "id"))
        if sid is not None:
            if sid in seen_ids:
                out.append(parsed.problem((*loc, "id"), f"duplicate scenario id {sid!r} "
                                                        f"(first at scenarios[{seen_ids[sid]}])"))
            seen_ids.setdefault(sid, i)
        if _get(sc, "general") is True:
            general.append(i)
            if len(general) == 2:
                out.append(parsed.problem((*loc, "general"), "only one scenario may be general "
                                          f"(also scenarios[{general[0]}])"))
        out += _scenario_problems(parsed, loc, sc, points, contacts)

    for i, card in _list(_get(data, "pocket_cards")):
        name = _str(_get(card, "assembly_point"))
        if name is not None and name not in points:
            out.append(parsed.problem(("pocket_cards", i, "assembly_point"),
                                      f"no assembly point named {name!r} in assembly_points"))
    return out


def _capabilities(forces: Any) -> set[str]:
    return {c for _j, f in _list(forces) if (c := _str(_get(f, "capability"))) in CAPABILITIES}


def _task_problems(parsed: Parsed, loc: Loc, tasks: Any, provided: set[str], source: str
                   ) -> list[Problem]:
    """A list of task templates (loc points at it): capabilities provided, deadlines in order."""
    out: list[Problem] = []
    timed: list[tuple[int, float, int, str]] = []
    for j, task in _list(tasks):
        cap = _str(_get(task, "capability"))
        if cap in CAPABILITIES and cap not in provided:
            out.append(parsed.problem((*loc, j, "capability"),
                                      f"no required force of {source} provides "
                                      f"capability {cap!r}"))
        order, deadline = _get(task, "order"), _number(_get(task, "deadline_s"))
        if isinstance(order, int) and not isinstance(order, bool) and deadline is not None \
                and deadline >= 0:
            timed.append((order, deadline, j, _str(_get(task, "title")) or f"{loc[-1]}[{j}]"))
    # a task later in the order may not be due before one that comes earlier
    timed.sort(key=lambda t: (t[0], t[2]))
    latest: tuple[int, float, int, str] | None = None
    group: list[tuple[int, float, int, str]] = []
    for t in timed:
        if group and t[0] != group[0][0]:
            for g in group:
                if latest is None or g[1] > latest[1]:
                    latest = g
            group = []
        if latest is not None and t[1] < latest[1]:
            out.append(parsed.problem(
                (*loc, t[2], "deadline_s"),
                f"deadline {_fmt(t[1])} s (order {t[0]}) is earlier than {_fmt(latest[1])} s "
                f"of {latest[3]!r} (order {latest[0]}), which comes before it"))
        group.append(t)
    return out


def _scenario_problems(parsed: Parsed, loc: Loc, sc: Any, points: dict[str, int],
                       contacts: set[str]) -> list[Problem]:
    out: list[Problem] = []
    provided = _capabilities(_get(sc, "required_forces"))
    out += _task_problems(parsed, (*loc, "tasks"), _get(sc, "tasks"), provided, "this scenario")

    base = _str(_get(sc, "response_level"))
    steps = _list(_get(sc, "escalation"))
    for k, step in steps:
        level = _str(_get(step, "level"))
        if base in RESPONSE_LEVELS and level in RESPONSE_LEVELS and \
                RESPONSE_LEVELS.index(level) >= RESPONSE_LEVELS.index(base):
            out.append(parsed.problem((*loc, "escalation", k, "level"),
                                      f"level {level} is not more severe than the scenario's "
                                      f"response level {base} (I is the most severe)"))
        if isinstance(step, dict) and step.get("min_severity") is None \
                and step.get("min_casualties") is None:
            out.append(parsed.problem((*loc, "escalation", k),
                                      "needs min_severity or min_casualties"))
        # reaching this level brings the scenario's forces and those of every step at or
        # below it (plans.matching.forces_for_level), so only they can carry its tasks
        step_provided = provided | _capabilities(_get(step, "extra_forces"))
        if level in RESPONSE_LEVELS:
            for _m, other in steps:
                other_level = _str(_get(other, "level"))
                if other_level in RESPONSE_LEVELS and \
                        RESPONSE_LEVELS.index(other_level) >= RESPONSE_LEVELS.index(level):
                    step_provided |= _capabilities(_get(other, "extra_forces"))
        out += _task_problems(parsed, (*loc, "escalation", k, "extra_tasks"),
                              _get(step, "extra_tasks"), step_provided,
                              "this scenario or its escalation steps up to this level")

    for j, name in _list(_get(sc, "assembly_points")):
        if isinstance(name, str) and name not in points:
            out.append(parsed.problem((*loc, "assembly_points", j),
                                      f"no assembly point named {name!r} in assembly_points"))
    for j, who in _list(_get(sc, "notify")):
        if isinstance(who, str) and who not in contacts:
            out.append(parsed.problem((*loc, "notify", j),
                                      f"no contact with name or role {who!r} in contacts"))
    return out


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def enterprise_problems(parsed: Parsed, *, for_enterprise: str | None,
                        county_default: bool) -> list[Problem]:
    """The plan names the enterprise it is stored for (or none for the county default)."""
    named = _get(parsed.data, "enterprise")
    if county_default and named is not None:
        return [parsed.problem(("enterprise",), "a county default plan names no enterprise")]
    if for_enterprise is not None and named is not None and named != for_enterprise:
        return [parsed.problem(("enterprise",), f"plan is for {named!r} but is being stored "
                                                f"for enterprise {for_enterprise!r}")]
    if for_enterprise is not None and named is None and isinstance(parsed.data, dict):
        return [parsed.problem(("enterprise",), f"is required (the credit code "
                                                f"{for_enterprise})")]
    return []


def validate_plan_text(
    text: str,
    fmt: Format,
    *,
    map_bbox: BBox | None,
    existing_versions: Iterable[int] = frozenset(),
    for_enterprise: str | None = None,
    county_default: bool = False,
) -> PlanDocument:
    """Parse and check a plan; PlanValidationError lists every problem found."""
    parsed, problems = parse_text(text, fmt)
    if parsed is None:
        raise PlanValidationError(problems)
    doc, schema = validate_model(PlanDocument, parsed)
    problems += schema
    problems += cross_field_problems(parsed, map_bbox=map_bbox,
                                     existing_versions=existing_versions)
    problems += enterprise_problems(parsed, for_enterprise=for_enterprise,
                                    county_default=county_default)
    if problems or doc is None:
        raise PlanValidationError(problems or [Problem(ROOT, "invalid plan")])
    return doc
