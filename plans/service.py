"""Plan versions: drafts from authored files, approval, export, reviews and directory import.

Plain functions on a SQLAlchemy Session; the caller owns the transaction. A version's content
(document and source text) is written once, when the draft is created, and never again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from command.db import utcnow
from plans.enterprises import EnterpriseLoad, format_of, load_enterprises
from plans.models import Enterprise, Plan, PlanStatus, PlanVersion
from plans.resources import RESOURCE_FILE_STEM, ResourceLoad, load_resources
from plans.schema import PlanDocument
from plans.validation import (
    ROOT,
    BBox,
    Format,
    PlanError,
    PlanValidationError,
    Problem,
    parse_text,
    validate_plan_text,
)

REVIEW_YEARS = 3
PLAN_SUFFIXES = (".yaml", ".yml", ".json")
ENTERPRISE_FILE_STEM = "enterprises"


class PlanNotFound(PlanError):
    """No such plan."""


class EnterpriseNotFound(PlanError):
    """No such enterprise."""


class VersionNotFound(PlanError):
    """No such version of the plan."""


class VersionAlreadyApproved(PlanError):
    """The version is already the approved one."""


class VersionSuperseded(PlanError):
    """A superseded version cannot be approved again."""


class StaleVersion(PlanError):
    """Approving a version older than the current one would roll the plan back."""


class PlanConflict(PlanError):
    """Another change to the same plan was saved at the same time."""


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day years later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def document_of(version: PlanVersion) -> PlanDocument:
    """The validated document of a stored version."""
    return PlanDocument.model_validate(version.document)


def plan_of(session: Session, enterprise_id: int | None, county_id: int | None = None
            ) -> Plan | None:
    """The enterprise's plan, or for None the default plan of county_id (None: the
    platform-wide fallback)."""
    if enterprise_id is None:
        return session.scalar(select(Plan).where(Plan.is_county_default.is_(True),
                                                 Plan.county_id.is_(county_id)
                                                 if county_id is None
                                                 else Plan.county_id == county_id)
                              .order_by(Plan.id))
    return session.scalar(select(Plan).where(Plan.enterprise_id == enterprise_id))


def get_plan(session: Session, plan_id: int) -> Plan:
    """The plan with this id; PlanNotFound otherwise."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise PlanNotFound(f"plan {plan_id} not found")
    return plan


def get_version(session: Session, plan_id: int, version: int) -> PlanVersion:
    """One version of a plan; VersionNotFound otherwise."""
    row = session.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan_id,
                                                   PlanVersion.version == version))
    if row is None:
        raise VersionNotFound(f"plan {plan_id} has no version {version}")
    return row


def list_versions(session: Session, plan_id: int) -> list[PlanVersion]:
    """Every version of a plan, oldest first."""
    get_plan(session, plan_id)
    return list(session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan_id)
                                .order_by(PlanVersion.version)))


def current_version(session: Session, enterprise_id: int | None) -> PlanVersion | None:
    """The approved version in force for an enterprise (None: the county default plan)."""
    plan = plan_of(session, enterprise_id)
    if plan is None or plan.current_version is None:
        return None
    return session.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id,
                                                    PlanVersion.version == plan.current_version))


def current_document(session: Session, enterprise_id: int | None) -> PlanDocument | None:
    """The document of the version in force, if any."""
    version = current_version(session, enterprise_id)
    return document_of(version) if version else None


def _version_line(text: str, fmt: Format) -> int | None:
    parsed, _ = parse_text(text, fmt)
    return parsed.line(("version",)) if parsed else None


def create_draft(session: Session, enterprise_id: int | None, text: str, fmt: Format,
                 author: str, *, map_bbox: BBox | None = None,
                 county_id: int | None = None) -> PlanVersion:
    """Validate a plan file and store it as a new draft version; nothing is saved if invalid.

    enterprise_id None stores a version of the county default plan.
    """
    credit_code = None
    if enterprise_id is not None:
        enterprise = session.get(Enterprise, enterprise_id)
        if enterprise is None:
            raise EnterpriseNotFound(f"enterprise {enterprise_id} not found")
        credit_code = enterprise.credit_code
    plan = plan_of(session, enterprise_id, county_id)
    existing = set(session.scalars(select(PlanVersion.version)
                                   .where(PlanVersion.plan_id == plan.id))) if plan else set()
    doc = validate_plan_text(text, fmt, map_bbox=map_bbox, existing_versions=existing,
                             for_enterprise=credit_code, county_default=enterprise_id is None)
    try:
        with session.begin_nested():
            if plan is None:
                plan = Plan(enterprise_id=enterprise_id, is_county_default=enterprise_id is None,
                            county_id=county_id if enterprise_id is None else None)
                session.add(plan)
                session.flush()
            version = PlanVersion(
                plan_id=plan.id, version=doc.version, status=PlanStatus.DRAFT,
                document=doc.model_dump(mode="json"), source_text=text, source_format=fmt,
                created_at=utcnow(), created_by=author)
            session.add(version)
            session.flush()
    except IntegrityError:
        # a concurrent upload won the race; say which way it went
        plan = plan_of(session, enterprise_id, county_id)
        if plan is not None and session.scalar(select(PlanVersion.id).where(
                PlanVersion.plan_id == plan.id, PlanVersion.version == doc.version)):
            raise PlanValidationError([Problem(
                "version", f"version {doc.version} already exists",
                _version_line(text, fmt))]) from None
        raise PlanConflict("another change to this plan was saved at the same time; "
                           "try again") from None
    return version


def approve(session: Session, plan_id: int, version: int, approver: str, today: dt.date, *,
            approved_on: dt.date | None = None) -> PlanVersion:
    """Make a draft the version in force; the previous approved one becomes superseded.

    next_review is the document's next_review but no later than approved_on + 3 years, the
    longest interval between re-assessments.
    """
    plan = session.scalar(select(Plan).where(Plan.id == plan_id).with_for_update())
    if plan is None:
        raise PlanNotFound(f"plan {plan_id} not found")
    row = get_version(session, plan_id, version)
    if row.status is PlanStatus.APPROVED:
        raise VersionAlreadyApproved(f"version {version} is already approved")
    if row.status is PlanStatus.SUPERSEDED:
        raise VersionSuperseded(f"version {version} was superseded and cannot be approved")
    if plan.current_version is not None and version < plan.current_version:
        raise StaleVersion(f"version {version} is older than version {plan.current_version} "
                           "in force")
    when = approved_on or today
    limit = add_years(when, REVIEW_YEARS)
    wanted = document_of(row).next_review
    for other in session.scalars(select(PlanVersion).where(
            PlanVersion.plan_id == plan_id, PlanVersion.status == PlanStatus.APPROVED)):
        other.status = PlanStatus.SUPERSEDED
    row.status = PlanStatus.APPROVED
    row.approved_by = approver
    row.approved_on = when
    row.next_review = min(wanted, limit) if wanted else limit
    plan.current_version = row.version
    session.flush()
    return row


def overdue_reviews(session: Session, today: dt.date) -> list[PlanVersion]:
    """Versions in force whose review date has passed, most overdue first."""
    q = (select(PlanVersion).join(Plan, Plan.id == PlanVersion.plan_id)
         .where(PlanVersion.version == Plan.current_version,
                PlanVersion.status == PlanStatus.APPROVED,
                PlanVersion.next_review < today)
         .order_by(PlanVersion.next_review, PlanVersion.id))
    return list(session.scalars(q))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def convert(text: str, source_format: Format, fmt: Format) -> str:
    """The same plan written in the other format."""
    if source_format == fmt:
        return text
    data = json.loads(text) if source_format == "json" else yaml.safe_load(text)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n"
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False,
                          width=100)


def export(version: PlanVersion, fmt: Format) -> str:
    """The file as authored when fmt is its format, else a faithful conversion."""
    if fmt not in ("yaml", "json"):
        raise PlanError(f"unknown format {fmt!r}; use yaml or json")
    return convert(version.source_text, version.source_format, fmt)  # type: ignore[arg-type]


# ---- directory import ---------------------------------------------------------------------

@dataclass
class ImportReport:
    """What import_directory did, file by file."""

    enterprises: EnterpriseLoad | None = None
    resources: ResourceLoad | None = None
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, list[Problem]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No file failed."""
        return not self.failed

    def lines(self) -> list[str]:
        """Every problem as FILE:LINE: path: message."""
        return [p.format(name) for name, problems in self.failed.items() for p in problems]


def plan_files(directory: Path) -> list[Path]:
    """Plan files under a directory (recursively), enterprise registries excluded."""
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and p.suffix.lower() in PLAN_SUFFIXES
                  and p.stem not in (ENTERPRISE_FILE_STEM, RESOURCE_FILE_STEM))


def import_plan_text(session: Session, text: str, fmt: Format, *, author: str,
                     approver: str | None, today: dt.date, map_bbox: BBox | None
                     ) -> tuple[PlanVersion | None, bool]:
    """Store (and approve, given an approver) one plan file; (version, created).

    The enterprise comes from the file's credit code; a file without one is the county
    default plan. Re-importing the very same text of a stored version changes nothing.
    The document's approved_by / approved_on, when present, record an approval given before
    the file reached the hub.
    """
    parsed, problems = parse_text(text, fmt)
    if parsed is None:
        raise PlanValidationError(problems)
    data = parsed.data if isinstance(parsed.data, dict) else {}
    code = data.get("enterprise")
    enterprise_id: int | None = None
    if code is not None:
        enterprise_id = session.scalar(select(Enterprise.id)
                                       .where(Enterprise.credit_code == str(code)))
        if enterprise_id is None:
            raise PlanValidationError([parsed.problem(
                ("enterprise",), f"no enterprise with credit code {code!r} is registered")])
    plan = plan_of(session, enterprise_id)
    number = data.get("version")
    if plan is not None and isinstance(number, int):
        same = session.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id,
                                                        PlanVersion.version == number))
        if same is not None and same.source_text == text:
            return same, False
    with session.begin_nested():
        version = create_draft(session, enterprise_id, text, fmt, author, map_bbox=map_bbox)
        if approver is not None:
            doc = document_of(version)
            approve(session, version.plan_id, version.version, doc.approved_by or approver,
                    today, approved_on=doc.approved_on)
    return version, True


def import_directory(session: Session, directory: Path | str, *, author: str = "import",
                     approver: str | None = "import", today: dt.date | None = None,
                     map_bbox: BBox | None = None) -> ImportReport:
    """Load enterprises.yaml (if present) and every plan file under a directory.

    Each file goes through the same path as an upload (validate, draft, approve); a failing
    file leaves nothing behind and the others still load. approver None leaves drafts.
    """
    directory = Path(directory)
    today = today or dt.date.today()
    report = ImportReport()
    for registry in sorted(p for p in directory.rglob("*")
                           if p.is_file() and p.stem == ENTERPRISE_FILE_STEM
                           and p.suffix.lower() in PLAN_SUFFIXES):
        try:
            with session.begin_nested():
                report.enterprises = load_enterprises(session, registry, map_bbox=map_bbox)
        except PlanValidationError as exc:
            report.failed[str(registry)] = exc.problems
    for survey in sorted(p for p in directory.rglob("*")
                         if p.is_file() and p.stem == RESOURCE_FILE_STEM
                         and p.suffix.lower() in PLAN_SUFFIXES):
        try:
            with session.begin_nested():
                report.resources = load_resources(session, survey.read_text(encoding="utf-8"),
                                                  format_of(survey), map_bbox=map_bbox)
        except PlanValidationError as exc:
            report.failed[str(survey)] = exc.problems
    for path in plan_files(directory):
        name = str(path)
        try:
            # bytes decoded as they are: read_text would turn CRLF into LF, and the export
            # must give back exactly the file that was imported
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            report.failed[name] = [Problem(ROOT, f"cannot read the file as UTF-8 text: {exc}")]
            continue
        try:
            _version, created = import_plan_text(
                session, text, format_of(path), author=author,
                approver=approver, today=today, map_bbox=map_bbox)
        except PlanValidationError as exc:
            report.failed[name] = exc.problems
        except PlanError as exc:
            report.failed[name] = [Problem(ROOT, exc.message)]
        else:
            (report.imported if created else report.unchanged).append(name)
    return report


def versions_summary(versions: Iterable[PlanVersion]) -> list[dict[str, Any]]:
    """JSON-ready list of versions (no document)."""
    return [{
        "version": v.version, "status": v.status.value, "source_format": v.source_format,
        "created_at": v.created_at.isoformat() if v.created_at else None,
        "created_by": v.created_by, "approved_by": v.approved_by,
        "approved_on": v.approved_on.isoformat() if v.approved_on else None,
        "next_review": v.next_review.isoformat() if v.next_review else None,
        "title": v.document.get("title", ""),
        "review": v.review, "filing_due": v.filing_due.isoformat() if v.filing_due else None,
        "filed_on": v.filed_on.isoformat() if v.filed_on else None,
        "filing_no": v.filing_no,
    } for v in versions]
