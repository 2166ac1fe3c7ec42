"""The emergency plan document (GB/T 29639-2020 structure) as authored in YAML or JSON."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

CAPABILITIES: tuple[str, ...] = ("fire", "foam", "aerial", "hazmat", "medical", "rescue",
                                 "command")
INCIDENT_KINDS: tuple[str, ...] = ("fire", "explosion", "leak", "poisoning", "other")
# national convention: I 特别重大 is the most severe, IV 一般 the least
RESPONSE_LEVELS: tuple[str, ...] = ("I", "II", "III", "IV")

Capability = Literal["fire", "foam", "aerial", "hazmat", "medical", "rescue", "command"]
IncidentKind = Literal["fire", "explosion", "leak", "poisoning", "other"]
ResponseLevel = Literal["I", "II", "III", "IV"]

UN_RE = re.compile(r"^(UN|NA)[0-9]{4}$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{1,24}$")
# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z), the last a check character
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code."""
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS,
                                                                 strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def _credit_code(value: str) -> str:
    if len(value) != 18 or any(c not in CREDIT_CODE_ALPHABET for c in value):
        raise PydanticCustomError(
            "credit_code", "must be an 18-character unified social credit code (digits and "
            "capital letters except I, O, S, V, Z), got '{value}'", {"value": value})
    if not value[2:8].isdigit():
        raise PydanticCustomError(
            "credit_code", "characters 3-8 of a credit code are the administrative division "
            "code and must be digits, got '{value}'", {"value": value})
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        raise PydanticCustomError(
            "credit_code", "check character of credit code '{value}' should be '{expected}'",
            {"value": value, "expected": expected})
    return value


def _un_number(value: str) -> str:
    if not UN_RE.match(value):
        raise PydanticCustomError(
            "un_number", "must be UN or NA followed by 4 digits (e.g. UN1017), got '{value}'",
            {"value": value})
    return value


def _slug(value: str) -> str:
    if not SLUG_RE.match(value) or len(value) > 64:
        raise PydanticCustomError(
            "slug", "must be a slug of lowercase letters, digits and single hyphens "
            "(at most 64 characters), got '{value}'", {"value": value})
    return value


def _phone(value: str) -> str:
    if not PHONE_RE.match(value):
        raise PydanticCustomError(
            "phone", "must be a phone number of digits, spaces and hyphens, got '{value}'",
            {"value": value})
    return value


CreditCode = Annotated[str, AfterValidator(_credit_code),
                       Field(description="unified social credit code (GB 32100-2015)",
                             json_schema_extra={"pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"})]
UnNumber = Annotated[str, AfterValidator(_un_number),
                     Field(description="UN or NA number, e.g. UN1017",
                           json_schema_extra={"pattern": UN_RE.pattern})]
Slug = Annotated[str, AfterValidator(_slug),
                 Field(description="lowercase slug", json_schema_extra={
                     "pattern": SLUG_RE.pattern})]
Phone = Annotated[str, AfterValidator(_phone),
                  Field(json_schema_extra={"pattern": PHONE_RE.pattern})]
Text = Annotated[str, Field(min_length=1, max_length=500, strict=True)]
Severity = Annotated[int, Field(ge=1, le=4, strict=True,
                                description="1 (minor) to 4 (catastrophic)")]


class StrictModel(BaseModel):
    # typos in a plan must surface, and a stored version must never change in memory
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Contact(StrictModel):
    """Someone to notify when the plan is activated."""

    name: Text
    role: Text
    phone: Phone


class AssemblyPoint(StrictModel):
    """A muster point for evacuees."""

    name: Text
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CallEntry(StrictModel):
    """Who a post calls, with the number."""

    name: Text
    phone: Phone


class PocketCard(StrictModel):
    """Steps for one key post, printed on an A6 card."""

    post: Text
    steps: list[Text] = Field(min_length=1)
    call: list[CallEntry] = Field(default_factory=list)
    escape_route: Text
    assembly_point: Text


class Trigger(StrictModel):
    """When a scenario applies; empty kinds or chemicals mean any."""

    kinds: list[IncidentKind] = Field(default_factory=list)
    chemicals: list[UnNumber] = Field(default_factory=list)
    min_severity: Severity = 1


class RequiredForce(StrictModel):
    """count units with a capability on scene within deadline_s of dispatch."""

    capability: Capability
    count: int = Field(ge=1, le=100, strict=True)
    deadline_s: int = Field(gt=0, le=86_400)


class TaskTemplate(StrictModel):
    """A task handed to the first unit with the capability, due deadline_s after dispatch."""

    title: Text
    capability: Capability
    # strict: the cross-field rules (deadlines in order) read these as written, so "100" or
    # true must be refused, not quietly read as numbers
    deadline_s: int = Field(ge=0, le=86_400, strict=True)
    order: int = Field(ge=0, le=10_000, strict=True)
    details: str = Field(default="", max_length=2000)


class Escalation(StrictModel):
    """A step up to a more severe level once any of its conditions holds."""

    level: ResponseLevel
    min_severity: Severity | None = None
    # 0 would hold for every report: a step that always fires is a plan error
    min_casualties: int | None = Field(default=None, ge=1, strict=True)
    extra_forces: list[RequiredForce] = Field(default_factory=list)
    # work the higher level adds (wider cordon, evacuation...), created when it is reached
    extra_tasks: list[TaskTemplate] = Field(default_factory=list)


class Isolation(StrictModel):
    """Initial isolation radius and downwind protective distance, overriding ERG."""

    radius_m: float = Field(gt=0, le=50_000)
    protective_m: float = Field(gt=0, le=100_000)


class PlanScenario(StrictModel):
    """One accident scenario of the plan and its response."""

    id: Slug
    name: Text
    name_en: Text | None = None
    general: bool = Field(default=False, strict=True)
    trigger: Trigger = Field(default_factory=Trigger)
    response_level: ResponseLevel
    escalation: list[Escalation] = Field(default_factory=list)
    required_forces: list[RequiredForce] = Field(min_length=1)
    tasks: list[TaskTemplate] = Field(default_factory=list)
    isolation: Isolation | None = None
    assembly_points: list[Text] = Field(default_factory=list,
                                        description="names of the plan's assembly points")
    notify: list[Text] = Field(default_factory=list,
                               description="names or roles of the plan's contacts")


# ---- GB/T 29639-2020: the parts of a plan beyond its operational scenarios ----------------
# A plan may be drafted without them (its scenarios already dispatch); the county files (备案)
# only a plan that has every required part (plans/filing.py names what is missing).

Items = Annotated[list[Text], Field(min_length=1)]


class Duty(StrictModel):
    """A post or group of the emergency organisation and what it must do."""

    role: Text
    duties: Items


class Organisation(StrictModel):
    """应急组织机构及职责: the command (总指挥) and the working groups."""

    commander: Text
    deputy: Text | None = None
    groups: Annotated[list[Duty], Field(min_length=1)]


class InformationReporting(StrictModel):
    """信息报告: inside the enterprise, and to the county, within a time limit."""

    internal: Items
    external: Items
    time_limit_min: int = Field(ge=1, le=1440, strict=True)


class Warning(StrictModel):
    """预警: where warnings come from, how they are issued, what is done before response."""

    sources: Items
    release: Text
    actions: Items


class Response(StrictModel):
    """应急响应: start (响应启动), disposal (处置), support (支援), termination (响应终止)."""

    start: Items
    disposal: Items
    support: Items
    termination: Items


class EmergencySupport(StrictModel):
    """应急保障: communications, teams, supplies and equipment, the rest."""

    communications: Items
    teams: Items
    supplies: Items
    other: list[Text] = Field(default_factory=list)


class ComprehensivePlan(StrictModel):
    """综合应急预案."""

    scope: Text
    response_grading: Items
    organisation: Organisation
    information_reporting: InformationReporting
    warning: Warning
    response: Response
    after_action: Items
    support: EmergencySupport


class SpecialPlan(StrictModel):
    """专项应急预案 for one kind of accident; scenarios name the operational scenarios."""

    id: Slug
    name: Text
    scope: Text
    organisation: Annotated[list[Duty], Field(min_length=1)]
    response_start: Items
    measures: Items
    support: list[Text] = Field(default_factory=list)
    scenarios: list[Slug] = Field(default_factory=list)


class OnsitePlan(StrictModel):
    """现场处置方案 for one post or installation."""

    id: Slug
    post: Text
    risks: Items
    duties: Annotated[list[Duty], Field(min_length=1)]
    disposal: Items
    cautions: Items


class Annexes(StrictModel):
    """附件."""

    enterprise_summary: Text
    risk_assessment: Items
    resource_list: Items
    drawings: Items
    agreements: list[Text] = Field(default_factory=list)


class PlanDocument(StrictModel):
    """An enterprise's emergency plan; a county default plan has no enterprise."""

    enterprise: CreditCode | None = None
    version: int = Field(ge=1, le=2**31 - 1, strict=True)
    title: Text
    title_en: Text | None = None
    approved_by: Text | None = None
    approved_on: dt.date | None = None
    next_review: dt.date | None = None
    scenarios: list[PlanScenario] = Field(min_length=1)
    pocket_cards: list[PocketCard] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    assembly_points: list[AssemblyPoint] = Field(default_factory=list)
    comprehensive: ComprehensivePlan | None = None
    special_plans: list[SpecialPlan] = Field(default_factory=list)
    onsite_plans: list[OnsitePlan] = Field(default_factory=list)
    annexes: Annexes | None = None

    def scenario(self, scenario_id: str) -> PlanScenario | None:
        """The scenario with this id, if any."""
        return next((s for s in self.scenarios if s.id == scenario_id), None)


def level_rank(level: str) -> int:
    """0 for I (most severe) to 3 for IV."""
    return RESPONSE_LEVELS.index(level)


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of a plan document, for GET /api/v1/plans/schema."""
    schema = PlanDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
