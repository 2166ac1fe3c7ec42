"""The command service: every state change of the hub passes through here.

Each public method opens one transaction, changes the rows, appends the matching events to
the log in that same transaction, commits, and only then hands the events to the publisher,
so the database, the log and every screen agree.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from geopy.distance import geodesic
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session, sessionmaker

from command import accident_reports
from command.auth import Actor
from command.coverage import live_coverage
from command.db import begin_read_only
from command.errors import (
    Conflict,
    Forbidden,
    IncidentClosed,
    InvalidInput,
    NotFound,
    PossibleDuplicate,
)
from command.events import (
    PublishedEvent,
    Publisher,
    Viewer,
    append_events,
    events_since,
    incident_events,
    last_seq,
)
from command.levels import GOVERNMENT_ACTIONS, level_label, more_severe
from command.levels import LEVELS as GOVERNMENT_LEVELS
from command.models import (
    Assignment,
    AssignmentStatus,
    Closure,
    Event,
    EventCounter,
    Incident,
    IncidentKind,
    IncidentStatus,
    NotificationCheck,
    ProcessedCommand,
    Region,
    Role,
    Station,
    Task,
    TaskStatus,
    Unit,
    UnitStatus,
)
from command.views import (
    assignment_view,
    closure_view,
    enterprise_brief,
    incident_view,
    iso,
    notification_view,
    task_view,
    unit_view,
)
from dispatch.closures import InvalidClosure, edges_for_closure
from dispatch.graph import PointOffRoad, RoadGraph, haversine_m
from dispatch.hazard import (
    SMALL_SPILL_MAX_T,
    SOURCE_TEXT,
    HazardZone,
    is_night,
    isolation_for,
)
from dispatch.reasons import Reason
from dispatch.recommend import (
    DEFAULT_TURNOUT_S,
    Candidate,
    Recommendation,
    RequiredForce,
    recommend_units,
)
from plans.matching import (
    Match,
    forces_for_level,
    match_scenario,
    response_level_for,
    steps_between,
)
from plans.models import Enterprise, Plan, PlanVersion
from plans.schema import RESPONSE_LEVELS, PlanDocument, level_rank
from plans.service import plan_of

log = logging.getLogger(__name__)

ENTERPRISE_MATCH_M = 500.0


def _run_inline(fn: Callable[[], None]) -> None:
    fn()
# how long the cached region tree is trusted; regions change rarely (admin only)
REGIONS_TTL_S = 30.0
# the county reports upward within one hour of the incident (首报)
FIRST_REPORT_DUE_S = 3600.0
FIRST_REPORT_MAX_TEXT = 5000
# statuses a unit's crew may set from its tablet
CREW_STATUSES = {
    UnitStatus.EN_ROUTE,
    UnitStatus.ON_SCENE,
    UnitStatus.TRANSPORTING,
    UnitStatus.RETURNING,
    UnitStatus.AVAILABLE,
    UnitStatus.OUT_OF_SERVICE,
}
BUSY = {
    UnitStatus.DISPATCHED,
    UnitStatus.EN_ROUTE,
    UnitStatus.ON_SCENE,
    UnitStatus.TRANSPORTING,
}
# why an assignment was released: English for the API and logs, "reason.<code>" in the pages
# catalogues (assignment.released carries both "reason" and "reason_parts")
RELEASE_TEXT: dict[str, str] = {
    "release.incident_closed": "incident closed",
    "release.by_officer": "released by officer",
    "release.preempted": "preempted by a real incident",
    "release.unit_set": "unit set {status}",
}
# why active assignments were routed again (assignment.rerouted / assignment.no_route)
REROUTE_TEXT: dict[str, str] = {
    "reroute.zone_changed": "hazard zone changed",
    "reroute.closure_added": "road closure {closure} added",
    "reroute.closure_removed": "road closure {closure} reopened",
}


@dataclass(frozen=True)
class Wind:
    from_deg: float
    speed_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"from_deg": self.from_deg, "speed_ms": self.speed_ms}


@dataclass(frozen=True)
class IncidentReport:
    """An incident as reported by phone, by a sensor alarm or by a drill."""

    kind: IncidentKind
    enterprise_id: int | None = None
    lat: float | None = None
    lon: float | None = None
    chemical: str | None = None
    severity: int = 2
    casualties: int = 0
    description: str = ""
    wind: Wind | None = None
    spill: str | None = None
    source: str = "phone"
    exercise: bool = False
    drill_id: int | None = None
    # restricts a drill's dispatch to its participating units
    unit_pool: frozenset[int] | None = None
    client_id: str | None = None
    # the officer saw the possible duplicates and opens a new incident all the same
    confirm_new: bool = False
    # the officer attaches this report to that open incident instead of opening one
    attach_to: int | None = None


DUPLICATE_RADIUS_M = 300.0


@dataclass(frozen=True)
class IncidentChange:
    """A PATCH to a live incident: new wind, spill, severity or casualties."""

    wind: Wind | None = None
    spill: str | None = None
    severity: int | None = None
    casualties: int | None = None
    description: str | None = None
    # "plan" or "erg": which zone rules when the plan's is smaller than ERG's
    zone: str | None = None


@dataclass
class DispatchSettings:
    """Turnout seconds by unit kind (NFPA 1710 defaults; config TURNOUT_S overrides per kind)
    and how far from any road a reported point may be."""

    turnout_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TURNOUT_S))
    max_snap_m: float = 1000.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DispatchSettings:
        turnout = dict(DEFAULT_TURNOUT_S)
        turnout.update(config.get("TURNOUT_S") or {})
        return cls(turnout_s=turnout, max_snap_m=float(config.get("MAX_SNAP_M") or 1000.0))


class RouteTarget(NamedTuple):
    """Where units are routed to, the edges their routes avoid, and how they may leave."""

    lat: float
    lon: float
    blocked: frozenset[Any]  # closures and the hazard zone
    closed: frozenset[Any]  # closures alone
    staging: dict[str, Any] | None
    hot: frozenset[Any] = frozenset()  # the isolation circle's roads

    @property
    def escape(self) -> frozenset[Any]:
        """Units already inside the zone drive out by its roads, never by closed ones."""
        return self.blocked - self.closed


class Tx:
    """One transaction and the events it appends."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self.pending: list[Event] = []
        # units sent a task board in this transaction (still current: cleared when the
        # incident changes after they were built)
        self.boards_pushed: set[int] = set()
        # filled at commit with the numbered events, in the order they were recorded
        self.events: list[PublishedEvent] = []

    def record(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        incident: Incident | None = None,
        unit_id: int | None = None,
        county_id: int | None = None,
        exercise: bool | None = None,
        actor: Actor | str | None = None,
    ) -> None:
        """Append an event; incident fills in its county and exercise marking.

        Events get their seq together when the transaction commits (one counter update).
        """
        if incident is not None:
            if incident.id is None:  # a new incident needs its id before events can name it
                self.session.flush()
            county_id = incident.county_id if county_id is None else county_id
            exercise = incident.exercise if exercise is None else exercise
        who = actor.username if isinstance(actor, Actor) else (actor or "")
        self.pending.append(Event(
            type=type_, at=self.now, data=data,
            incident_id=incident.id if incident is not None else None,
            unit_id=unit_id, county_id=county_id, exercise=bool(exercise), actor=who,
        ))

    def seal(self) -> None:
        """Number and write the recorded events; called right before commit."""
        self.events = append_events(self.session, self.pending)
        self.pending = []


def _off_role(a: Assignment) -> bool:
    """Whether the unit fills a capability other than its own kind's (a command car on hazmat)."""
    kind = a.unit.kind if a.unit is not None else ""
    return {"ems": "medical"}.get(kind, kind) != a.capability


def _brief_zone(zone: dict[str, Any]) -> dict[str, Any]:
    return {k: zone.get(k) for k in ("radius_m", "protective_m", "source", "source_parts",
                                     "basis", "guide", "over_11km", "atm", "spill",
                                     "spill_assumed") if k in zone}


class CommandService:
    """Reports, dispatch, task boards, unit status and the event log."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        graph: RoadGraph,
        publisher: Publisher,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        settings: DispatchSettings | None = None,
        spawn: Callable[[Callable[[], None]], Any] | None = None,
    ) -> None:
        self.sessions = sessions
        # runs follow-up work (coverage checks) off the request; the web layer passes its
        # async mode's background task so eventlet and gevent get a green thread
        self.spawn = spawn or _run_inline
        self.graph = graph
        self.publisher = publisher
        self.clock = clock
        self.settings = settings or DispatchSettings()
        self._closure_cache: tuple[tuple[int, ...], frozenset[Any]] | None = None
        self._region_parents: dict[int, int | None] | None = None
        self._regions_at = 0.0
        self._lock = threading.Lock()
        # listeners called with committed events (drills, sensors, metrics)
        self.listeners: list[Callable[[Sequence[PublishedEvent]], None]] = []

    # ---- plumbing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Commit the change and its events together, then publish them."""
        self._warm_regions()
        session = self.sessions()
        if session.get_bind().dialect.name == "postgresql":
            # take the writers' lock before reading anything we decide on, as SQLite's
            # BEGIN IMMEDIATE does: two processes must never both see a unit as free
            session.execute(select(EventCounter.id).where(EventCounter.id == 1)
                            .with_for_update())
        tx = Tx(session, self.clock())
        try:
            yield tx
            tx.seal()
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if tx.events:
            self._after_commit(tx.events)

    def _after_commit(self, events: list[PublishedEvent]) -> None:
        """Publish and notify listeners. The change is committed: a failure here (Redis down,
        a listener's bug) is logged, never raised; clients catch up through resync."""
        try:
            self.publisher.publish(events)
        except Exception:
            log.exception("publishing events %s..%s failed; clients will resync",
                          events[0].seq, events[-1].seq)
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:
                log.exception("event listener %r failed", listener)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        self._warm_regions()
        session = self.sessions()
        begin_read_only(session)
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def county_ancestors(self, county_id: int | None) -> list[int]:
        """The county and every region above it, for routing events to officers' rooms."""
        if county_id is None:
            return []
        if self._region_parents is None or county_id not in self._region_parents:
            with self.reading() as s:
                self._region_parents = {r.id: r.parent_id for r in s.scalars(select(Region))}
        chain: list[int] = []
        current: int | None = county_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self._region_parents.get(current)
        return chain

    def _warm_regions(self) -> None:
        """Load the region tree before a session opens: scope checks run inside transactions,
        and a second session there would wait on SQLite's write lock (BEGIN IMMEDIATE)."""
        now = time.monotonic()
        if self._region_parents is not None and now - self._regions_at < REGIONS_TTL_S:
            return
        session = self.sessions()
        try:
            self._region_parents = {r.id: r.parent_id for r in session.scalars(select(Region))}
            self._regions_at = now
        finally:
            session.rollback()
            session.close()

    def region_counties(self, region_id: int | None) -> frozenset[int] | None:
        """Every region at or below region_id (None: the whole platform)."""
        if region_id is None:
            return None
        if self._region_parents is None:
            self._warm_regions()
        # a region created in the last REGIONS_TTL_S is not seen yet: it has no children then
        parents = self._region_parents or {}
        children: dict[int | None, list[int]] = {}
        for rid, parent in parents.items():
            children.setdefault(parent, []).append(rid)
        out: set[int] = set()
        stack = [region_id]
        while stack:
            rid = stack.pop()
            if rid in out:
                continue
            out.add(rid)
            stack.extend(children.get(rid, []))
        return frozenset(out)

    def viewer_for(self, actor: Actor) -> Viewer:
        return Viewer(role=actor.role, unit_id=actor.unit_id,
                      counties=self.region_counties(actor.region_id))

    def _claim(self, tx: Tx, client_id: str | None, kind: str, actor: Actor) -> bool:
        """Record a client command id; False if it was applied before."""
        if not client_id:
            return True
        if len(client_id) > 100:
            raise InvalidInput("client_id is longer than 100 characters", "client_id")
        done = tx.session.get(ProcessedCommand, client_id)
        if done is not None:
            if done.kind != kind or done.user_id != actor.user_id:
                # an id reused by someone else or for another command: never drop it silently
                raise Conflict("client_id was already used for another command", "client_id")
            return False
        tx.session.add(ProcessedCommand(client_id=client_id, user_id=actor.user_id, kind=kind,
                                        at=tx.now))
        try:
            tx.session.flush()
        except IntegrityError:
            raise Conflict("command already being applied", "client_id") from None
        return True

    def _in_scope(self, actor: Actor, county_id: int | None) -> bool:
        counties = self.region_counties(actor.region_id)
        return counties is None or county_id in counties

    def _incident_for(self, tx: Tx, actor: Actor, incident_id: int, *, write: bool) -> Incident:
        incident = tx.session.get(Incident, incident_id)
        if incident is None or not self._in_scope(actor, incident.county_id):
            raise NotFound(f"incident {incident_id} not found", "incident_id")
        if actor.role is Role.TRAINER and not incident.exercise:
            # trainers see drills only; a real incident is none of their business
            raise NotFound(f"incident {incident_id} not found", "incident_id")
        if write and incident.status is IncidentStatus.CLOSED:
            raise IncidentClosed(f"incident {incident_id} is closed", "incident_id")
        return incident

    def _blocked_by_closures(self, session: Session, incident: Incident | None = None
                             ) -> frozenset[Any]:
        rows = session.execute(
            select(Closure, Incident.exercise)
            .outerjoin(Incident, Closure.incident_id == Incident.id)
            .where(Closure.removed_at.is_(None))).all()
        # a drill's road closure (an inject) binds only its own drill incident: real dispatch
        # and coverage never route around a road that is blocked only in an exercise
        closures = [c for c, exercise in rows if not exercise
                    or (incident is not None and c.incident_id == incident.id)]
        key = tuple(sorted(c.id for c in closures))
        cached = self._closure_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        edges: set[Any] = set()
        for c in closures:
            edges |= edges_for_closure(self.graph, c.geometry)
        result = frozenset(edges)
        self._closure_cache = (key, result)
        return result

    # ---- reporting and dispatch ----------------------------------------------------------

    def report_incident(self, actor: Actor, report: IncidentReport) -> Incident:
        """Validate a report, activate the plan, dispatch units and push their task boards."""
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER):
            raise Forbidden("only duty officers report incidents")
        if actor.role is Role.TRAINER and not report.exercise:
            raise Forbidden("trainers may only create exercise incidents")
        if report.attach_to is not None:
            return self._attach_report(actor, report)
        earlier: int | None = None
        candidates: list[dict[str, Any]] = []
        with self.transaction() as tx:
            if (report.source == "phone" and not report.exercise and not report.confirm_new
                    and not self._claim_seen(tx, report.client_id)):
                candidates = self._possible_duplicates(tx, actor, report)
            if candidates:
                # logged on each open incident so its officers see the second call too
                for c in candidates:
                    tx.record("report.possible_duplicate", {
                        "report": self._report_summary(actor, report, tx.now),
                        "distance_m": c["distance_m"], "same_enterprise": c["same_enterprise"],
                    }, incident=tx.session.get(Incident, c["id"]), actor=actor)
            elif not self._claim(tx, report.client_id, "report", actor):
                # the same report sent again (a retry after a lost answer, or racing the
                # first): the first one stands, nothing is dispatched twice
                done = tx.session.get(ProcessedCommand, report.client_id)
                found = (done.result or {}).get("incident_id") if done else None
                if not isinstance(found, int):
                    raise Conflict("the same report is being applied", "client_id")
                earlier = found
            else:
                incident = self._create_incident(tx, actor, report)
                if report.client_id:
                    done = tx.session.get(ProcessedCommand, report.client_id)
                    assert done is not None
                    done.result = {"incident_id": incident.id}
                new_id = incident.id
        if candidates:
            raise PossibleDuplicate(
                "an incident is open at this enterprise or within 300 m: attach the report to "
                "it (attach_to) or confirm a new incident (confirm_new)", candidates)
        if earlier is not None:
            return self.get_incident_obj(earlier)
        if not report.exercise:
            # the boards are out; what the dispatch did to the county's cover follows it
            self.spawn(lambda: self._check_coverage_quietly(new_id, actor))
        return self.get_incident_obj(new_id)

    def _claim_seen(self, tx: Tx, client_id: str | None) -> bool:
        """Whether this client_id's report was applied already (a retry answers the same)."""
        return bool(client_id) and tx.session.get(ProcessedCommand, client_id) is not None

    def _possible_duplicates(self, tx: Tx, actor: Actor, report: IncidentReport
                             ) -> list[dict[str, Any]]:
        """Open real incidents the actor sees at the report's enterprise or within 300 m."""
        s = tx.session
        enterprise = (s.get(Enterprise, report.enterprise_id)
                      if report.enterprise_id is not None else None)
        if report.enterprise_id is not None and (
                enterprise is None or not self._in_scope(actor, enterprise.county_id)):
            return []  # the report itself is refused, with its own reason
        if report.lat is not None and report.lon is not None:
            lat, lon = report.lat, report.lon
        elif enterprise is not None:
            lat, lon = enterprise.lat, enterprise.lon
        else:
            return []
        found = []
        for inc in s.scalars(select(Incident).where(
                Incident.status != IncidentStatus.CLOSED, Incident.exercise.is_(False))):
            if not self._in_scope(actor, inc.county_id):
                continue
            distance = haversine_m(lat, lon, inc.lat, inc.lon)
            same = enterprise is not None and inc.enterprise_id == enterprise.id
            if same or distance <= DUPLICATE_RADIUS_M:
                found.append({"id": inc.id, "kind": inc.kind.value,
                              "enterprise_id": inc.enterprise_id, "address": inc.address,
                              "created_at": iso(inc.created_at), "same_enterprise": same,
                              "distance_m": round(distance)})
        return sorted(found, key=lambda c: (not c["same_enterprise"], c["distance_m"]))

    def _report_summary(self, actor: Actor, report: IncidentReport, now: dt.datetime
                        ) -> dict[str, Any]:
        return {"kind": report.kind.value, "enterprise_id": report.enterprise_id,
                "location": ({"lat": report.lat, "lon": report.lon}
                             if report.lat is not None else None),
                "chemical": report.chemical, "severity": report.severity,
                "casualties": report.casualties, "description": report.description,
                "reported_by": actor.username, "at": iso(now)}

    def _attach_report(self, actor: Actor, report: IncidentReport) -> Incident:
        """Attach a second report to the open incident it describes; nothing is dispatched."""
        assert report.attach_to is not None
        with self.transaction() as tx:
            try:
                incident = self._incident_for(tx, actor, report.attach_to, write=True)
            except (NotFound, IncidentClosed) as exc:
                raise type(exc)(exc.message, "attach_to") from None
            if incident.exercise != report.exercise:
                raise InvalidInput("a drill report and a real incident do not mix", "attach_to")
            summary = self._report_summary(actor, report, tx.now)
            incident.attached_reports = [*(incident.attached_reports or []), summary]
            tx.record("incident.report_attached", {"report": summary}, incident=incident,
                      actor=actor)
            incident_id = incident.id
        return self.get_incident_obj(incident_id)

    def _check_coverage_quietly(self, incident_id: int, actor: Actor | str) -> None:
        try:
            self.check_coverage(incident_id, actor)
        except Exception:  # the report is committed; a failed check must not undo its answer
            log.exception("coverage check after incident %s failed", incident_id)

    def check_coverage(self, incident_id: int, actor: Actor | str = "system"
                       ) -> dict[str, Any] | None:
        """After a dispatch: which enterprises of the county lost their first force's cover,
        and which move-ups restore it (event incident.coverage when anything is uncovered)."""
        with self.transaction() as tx:
            incident = tx.session.get(Incident, incident_id)
            if incident is None or incident.exercise:
                return None
            live = live_coverage(tx.session, self.graph,
                                 blocked=self._blocked_by_closures(tx.session),
                                 counties=frozenset({incident.county_id})
                                 if incident.county_id is not None else None,
                                 turnout_s=self.settings.turnout_s)
            result = live.as_dict()
            if result["gaps"] != incident.coverage_gaps or result["move_ups"] != incident.move_ups:
                incident.coverage_gaps = result["gaps"]
                incident.move_ups = result["move_ups"]
                tx.record("incident.coverage", {"gaps": result["gaps"],
                                                "move_ups": result["move_ups"],
                                                "counts": result["counts"]},
                          incident=incident, actor=actor)
            return result

    def coverage_now(self, actor: Actor) -> dict[str, Any]:
        """Cover of the actor's region from units' current positions and statuses."""
        with self.reading() as s:
            live = live_coverage(s, self.graph, blocked=self._blocked_by_closures(s),
                                 counties=self.region_counties(actor.region_id),
                                 turnout_s=self.settings.turnout_s)
            return live.as_dict()

    def _create_incident(self, tx: Tx, actor: Actor, report: IncidentReport) -> Incident:
        s = tx.session
        enterprise: Enterprise | None = None
        if report.enterprise_id is not None:
            enterprise = s.get(Enterprise, report.enterprise_id)
            if enterprise is None or not self._in_scope(actor, enterprise.county_id):
                raise InvalidInput(f"enterprise {report.enterprise_id} not found", "enterprise_id")
            lat = report.lat if report.lat is not None else enterprise.lat
            lon = report.lon if report.lon is not None else enterprise.lon
        elif report.lat is not None and report.lon is not None:
            lat, lon = report.lat, report.lon
        else:
            raise InvalidInput("give enterprise_id or location", "location")
        self._check_on_map(lat, lon)
        if enterprise is None:
            enterprise = self._nearest_enterprise(s, lat, lon)
        # a place away from every enterprise belongs to the county of its nearest station
        # (until county boundaries are imported), never to whichever county came first
        county_id = (enterprise.county_id if enterprise
                     else self._county_at(s, lat, lon) or self._actor_county(s, actor))
        if not self._in_scope(actor, county_id):
            raise Forbidden("this location is outside your region", "location")

        match, version = self._match(s, enterprise, report.kind, report.chemical,
                                     report.severity, report.casualties, county_id)
        incident = Incident(
            kind=report.kind,
            enterprise_id=enterprise.id if enterprise else None,
            lat=lat,
            lon=lon,
            address=enterprise.address if enterprise else "",
            chemical=report.chemical,
            severity=report.severity,
            casualties=report.casualties,
            description=report.description,
            source=report.source,
            exercise=report.exercise,
            drill_id=report.drill_id,
            wind=report.wind.as_dict() if report.wind else None,
            spill=report.spill,
            county_id=county_id,
            reported_by=actor.username,
            created_at=tx.now,
            match_reason=match.reason if match else "",
            response_level=match.response_level if match else None,
            scenario_id=match.scenario.id if match else None,
            scenario_name=match.scenario.name if match else None,
            plan_version_id=version.id if version else None,
            plan_ref=self._plan_ref(version, match),
            unit_pool=sorted(report.unit_pool) if report.unit_pool is not None else None,
        )
        incident.isolation = self._isolation(incident, match)
        s.add(incident)
        s.flush()
        for name, role, phone in self._contacts_to_notify(version, match, enterprise):
            s.add(NotificationCheck(incident_id=incident.id, contact=name, role=role,
                                    phone=phone))
        s.flush()
        s.refresh(incident, ["notifications"])
        tx.record("incident.created", {
            "incident": incident_view(incident, enterprise),
        }, incident=incident, actor=actor)
        forces = [RequiredForce(f.capability, f.count, float(f.deadline_s))
                  for f in (match.forces if match else [])]
        self._dispatch(tx, incident, forces, match, actor, unit_pool=report.unit_pool)
        return incident

    def _check_on_map(self, lat: float, lon: float) -> None:
        if not self.graph.contains(lat, lon):
            raise InvalidInput("location is outside the map", "location")
        try:
            self.graph.snap(lat, lon, max_distance_m=self.settings.max_snap_m)
        except PointOffRoad as exc:
            raise InvalidInput(str(exc), "location") from None

    def _nearest_enterprise(self, s: Session, lat: float, lon: float) -> Enterprise | None:
        best: tuple[float, Enterprise] | None = None
        for e in s.scalars(select(Enterprise)):
            d = geodesic((lat, lon), (e.lat, e.lon)).meters
            if d <= ENTERPRISE_MATCH_M and (best is None or d < best[0]):
                best = (d, e)
        return best[1] if best else None

    def _actor_county(self, s: Session, actor: Actor) -> int | None:
        """The county an officer works in, or the platform's first county for wider roles."""
        region = s.get(Region, actor.region_id) if actor.region_id is not None else None
        if region is not None and region.level == "county":
            return region.id
        return self._default_county(s)

    def _county_near(self, s: Session, edges: Iterable[Any]) -> int | None:
        """The county of the station nearest to the middle of some roads."""
        pts = [c for e in edges for c in self.graph.edge_coords(e)]
        if not pts:
            return None
        lon = sum(p[0] for p in pts) / len(pts)
        lat = sum(p[1] for p in pts) / len(pts)
        return self._county_at(s, lat, lon)

    def _county_at(self, s: Session, lat: float, lon: float) -> int | None:
        """The county of the station nearest to a point (None without stations)."""
        stations = [st for st in s.scalars(select(Station)) if st.county_id is not None]
        if not stations:
            return None
        near = min(stations, key=lambda st: haversine_m(lat, lon, st.lat, st.lon))
        return near.county_id

    def _default_county(self, s: Session) -> int | None:
        return s.scalar(select(Region.id).where(Region.level == "county").order_by(Region.id))

    def _default_plan(self, s: Session, county_id: int | None) -> Plan | None:
        """The county's own default plan, else its nearest higher region's, else the
        platform-wide one."""
        for region in [*self.county_ancestors(county_id), None]:
            plan = plan_of(s, None, region)
            if plan is not None and plan.current_version is not None:
                return plan
        return None

    def _match(
        self, s: Session, enterprise: Enterprise | None, kind: IncidentKind,
        chemical: str | None, severity: int, casualties: int, county_id: int | None = None,
    ) -> tuple[Match | None, PlanVersion | None]:
        version = self._current_version(s, enterprise.id) if enterprise else None
        default = self._default_plan(s, county_id)
        default_version = self._current_version_of(s, default) if default else None
        if version is None and default_version is None:
            return None, None
        doc = PlanDocument.model_validate(version.document) if version else None
        default_doc = (PlanDocument.model_validate(default_version.document)
                       if default_version else None)
        match = match_scenario(doc, default_doc, kind.value, chemical, severity, casualties)
        used = version if match is not None and match.source == "enterprise" else default_version
        return match, used

    def _current_version(self, s: Session, enterprise_id: int) -> PlanVersion | None:
        plan = s.scalar(select(Plan).where(Plan.enterprise_id == enterprise_id))
        return self._current_version_of(s, plan) if plan else None

    def _current_version_of(self, s: Session, plan: Plan) -> PlanVersion | None:
        if plan.current_version is None:
            return None
        return s.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id,
                                                  PlanVersion.version == plan.current_version))

    def _contacts_to_notify(self, version: PlanVersion | None, match: Match | None,
                            enterprise: Enterprise | None) -> list[tuple[str, str, str]]:
        """(name, role, phone) the officer must call: the scenario's list, else every contact
        of the plan, and the enterprise's on-duty line first (they hold the site)."""
        out: list[tuple[str, str, str]] = []
        if enterprise is not None and (enterprise.contacts or {}).get("on_duty_phone"):
            out.append((f"{enterprise.name} 值班室", "enterprise on duty",
                        str(enterprise.contacts["on_duty_phone"])))
        if version is not None and match is not None:
            doc = PlanDocument.model_validate(version.document)
            wanted = set(match.scenario.notify)
            for c in doc.contacts:
                if not wanted or c.name in wanted or c.role in wanted:
                    out.append((c.name, c.role, c.phone))
        unique: dict[str, tuple[str, str, str]] = {}
        for c in out:
            unique.setdefault(c[0], c)
        return list(unique.values())

    def check_notification(self, actor: Actor, incident_id: int, check_id: int,
                           notified: bool = True, client_id: str | None = None
                           ) -> dict[str, Any]:
        """Tick (or untick) a contact on the incident's notification checklist."""
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=True)
            check = tx.session.get(NotificationCheck, check_id)
            if check is None or check.incident_id != incident.id:
                raise NotFound(f"notification {check_id} not found", "check_id")
            if not self._claim(tx, client_id, "notification", actor):
                return notification_view(check)
            if notified != (check.notified_at is not None):
                check.notified_at = tx.now if notified else None
                check.notified_by = actor.username if notified else ""
                tx.record("notification.checked", {"check": notification_view(check)},
                          incident=incident, actor=actor)
            return notification_view(check)

    def send_first_report(self, actor: Actor, incident_id: int, text: str, sent_to: str,
                          client_id: str | None = None) -> dict[str, Any]:
        """Record that the first report upward went out: the county owes it within an hour of
        the incident, so every officer's screen, the log and drill scoring must know."""
        self._require(actor, Role.DUTY_OFFICER, Role.ADMIN)
        text, sent_to = text.strip(), sent_to.strip()
        if not text or len(text) > FIRST_REPORT_MAX_TEXT:
            raise InvalidInput(f"text must be 1..{FIRST_REPORT_MAX_TEXT} characters", "text")
        if not sent_to or len(sent_to) > 200:
            raise InvalidInput("sent_to must be 1..200 characters", "sent_to")
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=False)
            if not self._claim(tx, client_id, "first_report", actor):
                # a retry of a report already applied answers as the first time did
                return self._view(tx, incident)
            if incident.status is IncidentStatus.CLOSED:
                raise IncidentClosed(f"incident {incident_id} is closed", "incident_id")
            if incident.first_report is not None:
                # later reports (续报) are another document; the first one is never rewritten
                raise Conflict("the first report was already sent", "incident_id")
            elapsed = (tx.now - incident.created_at).total_seconds()
            report = {"text": text, "sent_to": sent_to, "sent_at": tx.now.isoformat(),
                      "by": actor.username, "late": elapsed > FIRST_REPORT_DUE_S,
                      "elapsed_s": round(elapsed, 3)}
            incident.first_report = report
            tx.record("incident.first_report", dict(report), incident=incident, actor=actor)
            return self._view(tx, incident)

    def decide_government_level(self, actor: Actor, incident_id: int, action: str,
                                level: str | None, reason: str) -> dict[str, Any]:
        """The commander sets, raises, lowers or ends (响应终止) the government's response
        level, with a reason; the enterprise plan's level is left as it is."""
        self._require(actor, Role.DUTY_OFFICER, Role.ADMIN)
        if action not in GOVERNMENT_ACTIONS:
            raise InvalidInput("action must be set, raise, lower or end", "action")
        reason = reason.strip()
        if not reason or len(reason) > 2000:
            raise InvalidInput("give the reason for the decision (1..2000 characters)", "reason")
        if action != "end" and level not in GOVERNMENT_LEVELS:
            raise InvalidInput("level must be I, II, III or IV", "level")
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=True)
            now = incident.government_response or {}
            active = bool(now.get("active"))
            old = now.get("level") if active else None
            if action == "end":
                if not active:
                    raise Conflict("no government response is active", "action")
                level = old
            elif action == "set" and active:
                raise Conflict("a government level is active: raise, lower or end it", "action")
            elif action in ("raise", "lower"):
                if not active:
                    raise Conflict("no government response is active: set one", "action")
                assert level is not None and old is not None
                if action == "raise" and not more_severe(level, old):
                    raise InvalidInput(f"raising from {old} needs a more severe level "
                                       "(I is the most severe)", "level")
                if action == "lower" and not more_severe(old, level):
                    raise InvalidInput(f"lowering from {old} needs a milder level "
                                       "(IV is the mildest)", "level")
            incident.government_response = {
                "level": level, "active": action != "end", "reason": reason,
                "at": tx.now.isoformat(), "by": actor.username}
            tx.record("incident.government_level", {
                "action": action, "from": old, "to": level if action != "end" else None,
                "reason": reason, "label": level_label(level)}, incident=incident, actor=actor)
            return self._view(tx, incident)

    def accident_report(self, actor: Actor, incident_id: int, action: str,
                        data: dict[str, Any], level: str | None = None) -> dict[str, Any]:
        """File the order No. 493 first report ("first"), a follow-up ("follow_up"), or mark
        one step of the upward chain sent ("sent"); each logged as an event."""
        self._require(actor, Role.DUTY_OFFICER, Role.ADMIN)
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=False)
            current = copy.deepcopy(incident.accident_report)
            if action == "first":
                if current is not None:
                    raise Conflict("the first report was filed; send a follow-up", "incident_id")
                report = accident_reports.first_report(data, tx.now, actor.username)
            elif current is None:
                raise Conflict("file the first report before this", "incident_id")
            elif action == "follow_up":
                report = accident_reports.follow_up(current, data, tx.now, actor.username)
            else:
                report = accident_reports.mark_sent(current, level or "",
                                                    list(data.get("recipients") or []),
                                                    tx.now, actor.username)
            incident.accident_report = report
            tx.record(f"accident_report.{action}", {
                "grade": report["grade"], "level": level,
                "counts": {k: report[k] for k in (*accident_reports.COUNTS,
                                                  "direct_loss_yuan")}},
                incident=incident, actor=actor)
            view = self._view(tx, incident)
            view["accident_report"] = accident_reports.with_overdue(report, tx.now)
            return view

    def accident_report_now(self, actor: Actor, incident_id: int) -> dict[str, Any] | None:
        """The accident report with each unsent step's overdue flag as of now."""
        self._require(actor, Role.DUTY_OFFICER, Role.ADMIN)
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=False)
            return accident_reports.with_overdue(incident.accident_report, tx.now)

    def _plan_ref(self, version: PlanVersion | None, match: Match | None) -> dict[str, Any] | None:
        if version is None or match is None:
            return None
        return {
            "enterprise_id": version.plan.enterprise_id,
            "plan_id": version.plan_id,
            "version": version.version,
            "plan_version_id": version.id,
            "scenario_id": match.scenario.id,
            "scenario_name": match.scenario.name,
            "source": match.source,
            "reason": match.reason,
            "reason_parts": match.reason_parts,
        }

    def _isolation(self, incident: Incident, match: Match | None) -> dict[str, Any] | None:
        """Isolation and protective distances from ERG 2016 for the reported release; a plan
        zone smaller than ERG is offered beside it and used only if the officer chose it."""
        override = getattr(match.scenario, "isolation", None) if match else None
        wind = incident.wind
        downwind = (wind["from_deg"] + 180.0) % 360.0 if wind else None
        plan_zone = None
        if override is not None:
            src = Reason(SOURCE_TEXT).add("isolation.plan_scenario",
                                          scenario=match.scenario.id if match else "")
            plan_zone = {"radius_m": float(override.radius_m),
                         "protective_m": float(override.protective_m), "downwind_deg": downwind,
                         "source": src.text, "source_parts": src.parts, "basis": "plan"}
        erg = self._erg_zone(incident, downwind)
        if erg is None:
            return plan_zone
        if plan_zone is None:
            return erg
        smaller = (plan_zone["radius_m"] < erg["radius_m"]
                   or plan_zone["protective_m"] < erg["protective_m"])
        if not smaller:
            # the plan is at least as protective: it stands, ERG beside it for reference
            return {**plan_zone, "erg": _brief_zone(erg)}
        choice = (incident.plan_ref or {}).get("zone_choice", "erg")
        chosen = plan_zone if choice == "plan" else erg
        return {**chosen, "chosen": choice, "warning": "plan_zone_smaller_than_erg",
                "plan": _brief_zone(plan_zone), "erg": _brief_zone(erg)}

    def _erg_zone(self, incident: Incident, downwind: float | None) -> dict[str, Any] | None:
        if not incident.chemical:
            return None
        spill, assumed = incident.spill, None
        if spill is None:
            # an unknown size on a storage installation is taken as large, and said so
            held = self._held_tonnes(incident)
            spill = "large" if held is None or held > SMALL_SPILL_MAX_T else "small"
            assumed = spill
        wind = incident.wind
        dist = isolation_for(
            incident.chemical,
            spill=spill,
            night=is_night(incident.lat, incident.lon, self.clock()),
            wind_speed_ms=wind.get("speed_ms") if wind else None,
            container=None,
            fire=incident.kind in (IncidentKind.FIRE, IncidentKind.EXPLOSION),
        )
        if dist is None:
            return None
        text, parts = dist.source, list(dist.source_parts)
        if assumed is not None:
            note = Reason(SOURCE_TEXT).add(f"isolation.spill_assumed.{assumed}")
            text, parts = f"{text} · {note.text}", parts + note.parts
        return {"radius_m": float(dist.radius_m), "protective_m": float(dist.protective_m),
                "downwind_deg": downwind, "source": text, "source_parts": parts,
                "basis": dist.basis, "guide": dist.guide_code, "over_11km": dist.over_11km,
                "atm": dist.atm, "increase_as_necessary": dist.increase_as_necessary,
                "spill": spill, "spill_assumed": assumed is not None}

    def _held_tonnes(self, incident: Incident) -> float | None:
        """The most of the chemical one installation of the enterprise holds (None: unknown)."""
        session = object_session(incident)
        enterprise = (session.get(Enterprise, incident.enterprise_id)
                      if session is not None and incident.enterprise_id is not None else None)
        if enterprise is None:
            return None
        amounts = [float(c.get("quantity_t") or 0) for h in enterprise.installations
                   for c in h.chemicals if c.get("un") == incident.chemical]
        return max(amounts) if amounts else None

    def _zone(self, incident: Incident) -> HazardZone | None:
        iso_ = incident.isolation
        if not iso_:
            return None
        return HazardZone(incident.lat, incident.lon, iso_["radius_m"], iso_["protective_m"],
                          iso_.get("downwind_deg"))

    def _target(self, s: Session, incident: Incident) -> RouteTarget:
        """Where units go (the incident or the upwind staging point) and which edges to avoid."""
        closed = self._blocked_by_closures(s, incident)
        zone = self._zone(incident)
        if zone is None:
            return RouteTarget(incident.lat, incident.lon, closed, closed, None)
        blocked = closed | zone.blocked_edges(self.graph)
        hot = zone.isolation_edges(self.graph)
        staging = zone.staging_point(self.graph, blocked)
        if staging is None and zone.protective_m > zone.radius_m:
            # no staging point outside the zone can be reached around it (a valley, a single
            # road, a zone over the map): units may drive through the protective zone, never
            # the isolation circle, to a point on its upwind side, and their boards say so
            circle = HazardZone(incident.lat, incident.lon, zone.radius_m, 0.0, None)
            blocked = closed | circle.blocked_edges(self.graph)
            if zone.downwind_deg is not None:
                side = zone.staging_point(self.graph, blocked, crosswind=True)
                if side is None:
                    # never downwind inside the protective zone: say so instead
                    return RouteTarget(incident.lat, incident.lon, blocked, closed, {
                        "error": "no staging point outside the protective zone is "
                                 "reachable"}, hot)
                return RouteTarget(side.lat, side.lon, blocked, closed, {
                    "lat": side.lat, "lon": side.lon, "crosswind": True,
                    "may_cross_protective_zone": True}, hot)
            # no wind: the protective distance applies all round, there is no outside to
            # reach; responders stage outside the isolation circle
            staging = circle.staging_point(self.graph, blocked)
            if staging is not None:
                return RouteTarget(staging.lat, staging.lon, blocked, closed, {
                    "lat": staging.lat, "lon": staging.lon, "inside_protective_zone": True},
                    hot)
        if staging is None:
            return RouteTarget(incident.lat, incident.lon, blocked, closed, {
                "error": "no staging point outside the hazard zone is reachable"}, hot)
        return RouteTarget(staging.lat, staging.lon, blocked, closed,
                           {"lat": staging.lat, "lon": staging.lon}, hot)

    def _candidates(
        self, s: Session, incident: Incident, unit_pool: frozenset[int] | None,
        exclude: set[int],
    ) -> list[Unit]:
        units = s.scalars(select(Unit).order_by(Unit.id)).all()
        out = []
        # a drill's incident only ever takes the drill's units, whatever adds to it later
        standing = frozenset(incident.unit_pool) if incident.unit_pool is not None else None
        for u in units:
            if u.id in exclude or (unit_pool is not None and u.id not in unit_pool):
                continue
            if standing is not None and u.id not in standing:
                continue
            if not self._in_scope_county(u.county_id, incident.county_id):
                continue
            if u.status is UnitStatus.AVAILABLE:
                out.append(u)
            elif (not incident.exercise and u.incident_id is not None
                  and u.status is not UnitStatus.OUT_OF_SERVICE):
                # a real incident always wins over a drill: drill units are available to it
                current = s.get(Incident, u.incident_id)
                if current is not None and current.exercise:
                    out.append(u)
        return out

    def _in_scope_county(self, unit_county: int | None, incident_county: int | None) -> bool:
        # mutual aid across counties is the province's call; dispatch stays within the county
        return unit_county is None or incident_county is None or unit_county == incident_county

    def _dispatch(
        self, tx: Tx, incident: Incident, forces: list[RequiredForce], match: Match | None,
        actor: Actor | str, *, unit_pool: frozenset[int] | None = None,
        task_templates: Sequence[Any] | None = None, replace_unmet: bool = True,
    ) -> Recommendation | None:
        """Recommend and assign units for forces; create and push their tasks and boards.

        replace_unmet: forces is everything still required (a report, an escalation), so its
        shortfall becomes the incident's; an officer's single added unit leaves it to the
        caller.
        """
        s = tx.session
        if not forces:
            incident.unmet = []
            return None
        exclude = {a.unit_id for a in incident.assignments if a.status is AssignmentStatus.ACTIVE}
        units = self._candidates(s, incident, unit_pool, exclude)
        target = self._target(s, incident)
        staging = target.staging
        rec = recommend_units(
            self.graph,
            target.lat,
            target.lon,
            forces,
            [Candidate(u.id, u.kind, tuple(u.capabilities), u.lat, u.lon) for u in units],
            turnout_s=self.settings.turnout_s,
            blocked=target.blocked,
            escape=target.escape,
            hot=target.hot,
            max_snap_m=self.settings.max_snap_m,
        )
        by_id = {u.id: u for u in units}
        new_assignments: list[Assignment] = []
        for p in rec.assignments:
            unit = by_id[p.unit_id]
            if unit.incident_id is not None and unit.incident_id != incident.id:
                self._preempt(tx, unit, incident)
            a = Assignment(
                incident_id=incident.id, unit_id=unit.id, capability=p.capability,
                eta_s=p.eta_s, travel_s=p.travel_s, turnout_s=p.turnout_s,
                distance_m=p.distance_m, deadline_s=p.deadline_s, route=p.route,
                staging=staging if staging and "error" not in staging else None,
                created_at=tx.now,
            )
            a.unit = unit
            s.add(a)
            incident.assignments.append(a)
            new_assignments.append(a)
            self._set_status(tx, unit, UnitStatus.DISPATCHED, incident, actor)
            unit.incident_id = incident.id
        unmet_before = list(incident.unmet or [])
        if replace_unmet:
            incident.unmet = [{"capability": u.capability, "missing": u.missing,
                               "deadline_s": u.deadline_s} for u in rec.unmet]
        if replace_unmet and staging and "error" in staging:
            # code: what the pages translate; reason: the same in plain English for the API
            incident.unmet = [*incident.unmet, {"capability": "route", "missing": 0,
                                                "deadline_s": None, "code": "no_staging",
                                                "reason": staging["error"]}]
        templates = task_templates if task_templates is not None else (
            match.tasks if match else [])
        created = self._create_tasks(tx, incident, templates, new_assignments)
        adopted = self._adopt_unowned_tasks(incident, new_assignments)
        s.flush()
        for t in created:
            if t.unit_id is None:
                # nobody could take it: logged all the same, so the board, a replay and the
                # drill's score know the plan's task exists and since when
                tx.record("task.updated", {"task": task_view(t)}, incident=incident,
                          actor=actor)
        for a in new_assignments:
            tx.record("assignment.created", {"assignment": assignment_view(a)},
                      incident=incident, unit_id=a.unit_id, actor=actor)
        for t in adopted:
            tx.record("task.updated", {"task": task_view(t)}, incident=incident,
                      unit_id=t.unit_id, actor=actor)
        for a in new_assignments:
            self._push_board(tx, incident, a, actor)
        if (incident.unmet or []) != unmet_before:
            tx.record("incident.unmet", {"unmet": incident.unmet}, incident=incident,
                      actor=actor)
        return rec

    def _create_tasks(self, tx: Tx, incident: Incident, templates: Sequence[Any],
                      assignments: list[Assignment]) -> list[Task]:
        """Each task template goes to a unit filling its capability, the capability's tasks
        split across those units: the least loaded first, then the unit whose own kind is that
        role (a hazmat engine before a command car that also carries hazmat), then the earliest."""
        by_cap: dict[str, list[Assignment]] = {}
        for a in sorted(assignments, key=lambda a: a.eta_s):
            by_cap.setdefault(a.capability, []).append(a)
        load: dict[int | None, int] = {}
        for existing in incident.tasks:
            load[existing.unit_id] = load.get(existing.unit_id, 0) + 1
        created: list[Task] = []
        for t in sorted(templates, key=lambda t: t.order):
            owners = by_cap.get(t.capability) or []
            owner = min(owners, key=lambda a: (load.get(a.unit_id, 0), _off_role(a), a.eta_s),
                        default=None)
            if owner is not None:
                load[owner.unit_id] = load.get(owner.unit_id, 0) + 1
            task = Task(
                incident_id=incident.id,
                unit_id=owner.unit_id if owner else None,
                title=t.title,
                details=getattr(t, "details", "") or "",
                capability=t.capability,
                order=t.order,
                deadline_s=float(t.deadline_s) if t.deadline_s is not None else None,
                created_at=tx.now,
            )
            tx.session.add(task)
            incident.tasks.append(task)
            created.append(task)
        return created

    def _adopt_unowned_tasks(self, incident: Incident, assignments: list[Assignment]
                             ) -> list[Task]:
        """Pending plan tasks nobody holds (their capability was unmet, or their unit was
        released) go to the earliest new unit of that capability: escalation and added
        units take up the plan's open work, and their boards carry it."""
        by_cap: dict[str, Assignment] = {}
        for a in sorted(assignments, key=lambda a: a.eta_s):
            by_cap.setdefault(a.capability, a)
        adopted = []
        for t in incident.tasks:
            owner = by_cap.get(t.capability or "")
            if (t.unit_id is None and t.id is not None and owner is not None
                    and t.status is TaskStatus.PENDING):
                t.unit_id = owner.unit_id
                adopted.append(t)
        return adopted

    def _board(self, s: Session, incident: Incident, a: Assignment) -> dict[str, Any]:
        enterprise = s.get(Enterprise, incident.enterprise_id) if incident.enterprise_id else None
        tasks = [task_view(t) for t in incident.tasks if t.unit_id == a.unit_id]
        tasks.sort(key=lambda t: (t["order"], t["id"] or 0))
        # the rest of the work of the capability this unit fills, held by the other units of
        # that role: a unit with no task of its own still sees what its team is doing
        support = [task_view(t) for t in incident.tasks
                   if t.capability == a.capability and t.unit_id != a.unit_id]
        support.sort(key=lambda t: (t["order"], t["id"] or 0))
        cards: list[Any] = []
        notes: list[str] = []
        if incident.plan_version_id:
            version = s.get(PlanVersion, incident.plan_version_id)
            if version is not None:
                cards = list(version.document.get("pocket_cards", []))
        if a.staging:
            notes.append("staging")
            if a.staging.get("inside_protective_zone"):
                # the protective zone covers every road: the crew works inside it
                notes.append("staging_in_protective_zone")
            if a.staging.get("may_cross_protective_zone"):
                # the way to the upwind side leads through the protective zone
                notes.append("route_crosses_protective_zone")
        if a.route is None:
            # no road to the scene or a staging point avoids the hazard zone and closures
            notes.append("no_route")
        return {
            "incident": {
                "id": incident.id,
                "kind": incident.kind.value,
                "exercise": incident.exercise,
                "status": incident.status.value,
                "address": incident.address,
                "location": {"lat": incident.lat, "lon": incident.lon},
                "enterprise": enterprise_brief(enterprise),
                "chemical": incident.chemical,
                "severity": incident.severity,
                "response_level": incident.response_level,
                "scenario_name": incident.scenario_name,
                "isolation": incident.isolation,
                "wind": incident.wind,
            },
            "assignment": assignment_view(a),
            "tasks": tasks,
            "support_tasks": support,
            "pocket_cards": cards,
            "notes": notes,
        }

    def _push_board(self, tx: Tx, incident: Incident, a: Assignment, actor: Actor | str) -> None:
        tx.session.flush()
        tx.record("task_board", self._board(tx.session, incident, a), incident=incident,
                  unit_id=a.unit_id, actor=actor)
        tx.boards_pushed.add(a.unit_id)

    def _set_status(self, tx: Tx, unit: Unit, status: UnitStatus, incident: Incident | None,
                    actor: Actor | str) -> None:
        previous = unit.status
        unit.status = status
        unit.status_since = tx.now
        tx.record(
            "unit.status",
            {"unit_id": unit.id, "callsign": unit.callsign, "status": status.value,
             "previous": previous.value, "incident_id": incident.id if incident else None},
            incident=incident, unit_id=unit.id,
            county_id=unit.county_id if incident is None else None, actor=actor,
        )

    def _release(self, tx: Tx, a: Assignment, incident: Incident, actor: Actor | str,
                 why: Reason, then: UnitStatus = UnitStatus.AVAILABLE) -> None:
        """End an assignment: its open tasks lose their owner (logged, so every screen and a
        replay agree), and the unit becomes `then` (available, or out of service)."""
        a.status = AssignmentStatus.RELEASED
        a.released_at = tx.now
        unit = a.unit
        tx.record("assignment.released", {"assignment_id": a.id, "unit_id": a.unit_id,
                                          "callsign": unit.callsign, "reason": why.text,
                                          "reason_parts": why.parts},
                  incident=incident, unit_id=a.unit_id, actor=actor)
        for t in incident.tasks:
            if t.unit_id == a.unit_id and t.status is TaskStatus.PENDING:
                t.unit_id = None
                tx.record("task.updated", {"task": task_view(t)}, incident=incident,
                          actor=actor)
        if unit.incident_id == incident.id:
            unit.incident_id = None
            if unit.status is not UnitStatus.OUT_OF_SERVICE:
                self._set_status(tx, unit, then, incident, actor)

    def _preempt(self, tx: Tx, unit: Unit, real: Incident) -> None:
        """Take a unit off a drill for a real incident, and say so in the drill's log."""
        drill_incident = tx.session.get(Incident, unit.incident_id)
        if drill_incident is None:
            return
        for a in drill_incident.assignments:
            if a.unit_id == unit.id and a.status is AssignmentStatus.ACTIVE:
                self._release(tx, a, drill_incident, "system",
                              Reason(RELEASE_TEXT).add("release.preempted"))
        tx.record("drill.preempted", {"unit_id": unit.id, "callsign": unit.callsign,
                                      "drill_id": drill_incident.drill_id},
                  incident=drill_incident, actor="system")

    # ---- officer actions -----------------------------------------------------------------

    def get_incident_obj(self, incident_id: int) -> Incident:
        with self.reading() as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"incident {incident_id} not found", "incident_id")
            # load what the views need before the session closes
            for a in incident.assignments:
                _ = a.unit
            _ = incident.tasks
            # detach before reading()'s rollback, which would expire every loaded attribute
            s.expunge_all()
            return incident

    def incident_view(self, actor: Actor, incident_id: int) -> dict[str, Any]:
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=False)
            enterprise = (tx.session.get(Enterprise, incident.enterprise_id)
                          if incident.enterprise_id else None)
            return incident_view(incident, enterprise)

    def list_incidents(self, actor: Actor, status: str | None = None,
                       exercise: bool | None = None) -> list[dict[str, Any]]:
        with self.reading() as s:
            q = select(Incident).order_by(Incident.id.desc())
            if status:
                q = q.where(Incident.status == IncidentStatus(status))
            if actor.role is Role.TRAINER:
                exercise = True
            if exercise is not None:
                q = q.where(Incident.exercise.is_(exercise))
            counties = self.region_counties(actor.region_id)
            if counties is not None:
                q = q.where(Incident.county_id.in_(counties))
            out = []
            for inc in s.scalars(q.limit(500)):
                e = s.get(Enterprise, inc.enterprise_id) if inc.enterprise_id else None
                out.append(incident_view(inc, e))
            return out

    def timeline(self, actor: Actor, incident_id: int) -> list[dict[str, Any]]:
        with self.transaction() as tx:
            self._incident_for(tx, actor, incident_id, write=False)
            return [e.payload() for e in incident_events(tx.session, incident_id)]

    def close_incident(self, actor: Actor, incident_id: int, client_id: str | None = None,
                       ) -> dict[str, Any]:
        """Close an incident and release its units where they are."""
        self._require(actor, Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=False)
            if not self._claim(tx, client_id, "close", actor) or (
                    incident.status is IncidentStatus.CLOSED):
                return self._view(tx, incident)
            if actor.role is Role.TRAINER and not incident.exercise:
                raise Forbidden("trainers cannot close real incidents")
            for a in incident.assignments:
                if a.status is AssignmentStatus.ACTIVE:
                    self._release(tx, a, incident, actor,
                                  Reason(RELEASE_TEXT).add("release.incident_closed"))
            incident.status = IncidentStatus.CLOSED
            incident.closed_at = tx.now
            tx.record("incident.closed", {"incident_id": incident.id, "closed_by":
                                          actor.username}, incident=incident, actor=actor)
            return self._view(tx, incident)

    def _view(self, tx: Tx, incident: Incident) -> dict[str, Any]:
        tx.session.flush()
        e = tx.session.get(Enterprise, incident.enterprise_id) if incident.enterprise_id else None
        return incident_view(incident, e)

    def _require(self, actor: Actor, *roles: Role) -> None:
        if actor.role not in roles:
            raise Forbidden(f"role {actor.role.value} may not do this")

    def change_incident(self, actor: Actor, incident_id: int, change: IncidentChange
                        ) -> dict[str, Any]:
        """Apply new wind, spill, severity or casualties: re-route, escalate, dispatch more."""
        view = self._change_incident(actor, incident_id, change)
        self._recheck_cover(view, actor)
        return view

    def add_unit(self, actor: Actor, incident_id: int, unit_id: int, capability: str | None
                 ) -> dict[str, Any]:
        """Officer adds a specific unit to an incident."""
        view = self._add_unit(actor, incident_id, unit_id, capability)
        self._recheck_cover(view, actor)
        return view

    def release_unit(self, actor: Actor, incident_id: int, unit_id: int) -> dict[str, Any]:
        """Officer releases one unit from an incident."""
        view = self._release_unit(actor, incident_id, unit_id)
        self._recheck_cover(view, actor)
        return view

    def _recheck_cover(self, view: dict[str, Any], actor: Actor) -> None:
        # more (or fewer) units committed: the county's cover changed with them
        if not view.get("exercise") and view.get("status") == "active" and view.get("id"):
            incident_id = int(view["id"])
            self.spawn(lambda: self._check_coverage_quietly(incident_id, actor))

    def _change_incident(self, actor: Actor, incident_id: int, change: IncidentChange
                        ) -> dict[str, Any]:
        """Apply new wind, spill, severity or casualties: re-route, escalate, dispatch more."""
        self._require(actor, Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=True)
            if actor.role is Role.TRAINER and not incident.exercise:
                raise Forbidden("trainers cannot change real incidents")
            changed: dict[str, Any] = {}
            if change.wind is not None:
                incident.wind = change.wind.as_dict()
                changed["wind"] = incident.wind
            if change.spill is not None:
                incident.spill = change.spill
                changed["spill"] = change.spill
            if change.description is not None:
                incident.description = change.description
                changed["description"] = change.description
            escalate = False
            if change.severity is not None and change.severity != incident.severity:
                escalate = change.severity > incident.severity
                incident.severity = change.severity
                changed["severity"] = change.severity
            if change.casualties is not None and change.casualties != incident.casualties:
                escalate = escalate or change.casualties > incident.casualties
                incident.casualties = change.casualties
                changed["casualties"] = change.casualties
            match = self._stored_match(tx.session, incident)
            if change.zone is not None:
                if change.zone not in ("plan", "erg"):
                    raise InvalidInput("zone must be plan or erg", "zone")
                if not (incident.isolation or {}).get("warning"):
                    raise Conflict("the plan's zone is not smaller than ERG's: nothing to "
                                   "choose", "zone")
                # plan_ref is reassigned whole: JSON columns track assignment, not mutation
                incident.plan_ref = {**(incident.plan_ref or {}), "zone_choice": change.zone}
                changed["zone_choice"] = change.zone
            if "wind" in changed or "spill" in changed or "zone_choice" in changed:
                incident.isolation = self._isolation(incident, match)
                changed["isolation"] = incident.isolation
            if "zone_choice" in changed:
                iso_ = incident.isolation or {}
                tx.record("incident.zone_chosen", {
                    "choice": change.zone, "plan": iso_.get("plan"), "erg": iso_.get("erg")},
                    incident=incident, actor=actor)
            tx.record("incident.updated", {"changes": changed}, incident=incident, actor=actor)
            if "isolation" in changed:
                self._reroute_all(tx, incident, actor,
                                  Reason(REROUTE_TEXT).add("reroute.zone_changed"))
            if escalate and match is not None:
                self._escalate(tx, incident, match, actor)
            # units' events carry their unit_id only: the crews already on the incident see
            # the new severity, level, wind or zone through a fresh board
            for a in incident.assignments:
                if a.status is AssignmentStatus.ACTIVE and a.unit_id not in tx.boards_pushed:
                    self._push_board(tx, incident, a, actor)
            return self._view(tx, incident)

    def _stored_match(self, s: Session, incident: Incident) -> Match | None:
        """Re-read the scenario from the exact plan version the incident activated."""
        if incident.plan_version_id is None or incident.scenario_id is None:
            return None
        version = s.get(PlanVersion, incident.plan_version_id)
        if version is None:
            return None
        doc = PlanDocument.model_validate(version.document)
        for sc in doc.scenarios:
            if sc.id == incident.scenario_id:
                return Match(scenario=sc, source=(incident.plan_ref or {}).get("source", ""),
                             reason=incident.match_reason,
                             reason_parts=(incident.plan_ref or {}).get("reason_parts", []),
                             response_level=incident.response_level or sc.response_level,
                             forces=list(sc.required_forces), tasks=list(sc.tasks))
        return None

    def _escalate(self, tx: Tx, incident: Incident, match: Match, actor: Actor | str) -> None:
        level, forces = response_level_for(match.scenario, incident.severity, incident.casualties)
        old_level = incident.response_level
        if old_level in RESPONSE_LEVELS and level_rank(level) > level_rank(old_level):
            # a lower severity with more casualties may compute a milder level: the response
            # never steps down here, or stepping up again would re-create the steps' tasks
            level, forces = old_level, forces_for_level(match.scenario, old_level)
        if level != old_level:
            incident.response_level = level
            tx.record("incident.escalated", {"from": old_level, "to": level,
                                             "severity": incident.severity,
                                             "casualties": incident.casualties},
                      incident=incident, actor=actor)
            tx.boards_pushed.clear()  # boards built before show the old level
        have: dict[str, int] = {}
        for a in incident.assignments:
            if a.status is AssignmentStatus.ACTIVE:
                have[a.capability] = have.get(a.capability, 0) + 1
        needed: dict[str, RequiredForce] = {}
        for f in forces:
            prev = needed.get(f.capability)
            count = f.count + (prev.count if prev else 0)
            deadline = min(float(f.deadline_s), prev.deadline_s or 1e9) if prev else float(
                f.deadline_s)
            needed[f.capability] = RequiredForce(f.capability, count, deadline)
        extra = [RequiredForce(c, f.count - have.get(c, 0), f.deadline_s)
                 for c, f in needed.items() if f.count > have.get(c, 0)]
        # the work of the newly reached steps: held first by units already on the incident,
        # so that what is left unowned goes to the extra units _dispatch adopts it for
        created = self._create_step_tasks(tx, incident, match, old_level, level)
        before = {t.id: t.unit_id for t in created}
        if extra:
            self._dispatch(tx, incident, extra, match, actor, task_templates=[])
        # tasks _dispatch adopted were announced with the new units' boards; the others now
        boards: set[int] = set()
        for t in created:
            if t.unit_id == before[t.id]:
                tx.record("task.updated", {"task": task_view(t)}, incident=incident,
                          unit_id=t.unit_id, actor=actor)
                if t.unit_id is not None:
                    boards.add(t.unit_id)
        # the team of each new task's capability sees it among its support tasks
        roles = {t.capability for t in created}
        for a in incident.assignments:
            if a.status is AssignmentStatus.ACTIVE and (
                    a.unit_id in boards
                    or (a.capability in roles and a.unit_id not in tx.boards_pushed)):
                self._push_board(tx, incident, a, actor)

    def _create_step_tasks(self, tx: Tx, incident: Incident, match: Match,
                           old_level: str | None, level: str) -> list[Task]:
        """Tasks of the escalation steps reached going from old_level to level, each with the
        earliest-arriving active unit of its capability (or nobody yet); flushed for ids."""
        templates = sorted((t for step in steps_between(match.scenario, old_level, level)
                            for t in step.extra_tasks), key=lambda t: t.order)
        # a step's tasks exist once per incident whatever the path to its level
        have = {(t.title, t.capability, t.order) for t in incident.tasks}
        templates = [t for t in templates if (t.title, t.capability, t.order) not in have]
        if not templates:
            return []
        active = [a for a in incident.assignments if a.status is AssignmentStatus.ACTIVE]
        before = len(incident.tasks)
        self._create_tasks(tx, incident, templates, active)
        tx.session.flush()
        return list(incident.tasks[before:])

    def _reroute_all(self, tx: Tx, incident: Incident, actor: Actor | str, reason: Reason
                     ) -> None:
        target = self._target(tx.session, incident)
        staging = target.staging
        # the zone changed: whether a staging point can be reached is stated afresh
        unmet = [u for u in incident.unmet or [] if u.get("capability") != "route"]
        if staging and "error" in staging:
            unmet.append({"capability": "route", "missing": 0, "deadline_s": None,
                          "code": "no_staging", "reason": staging["error"]})
        if unmet != (incident.unmet or []):
            incident.unmet = unmet
            tx.record("incident.unmet", {"unmet": unmet}, incident=incident, actor=actor)
        active = [a for a in incident.assignments if a.status is AssignmentStatus.ACTIVE]
        if not active:
            return
        rec = recommend_units(
            self.graph, target.lat, target.lon,
            [RequiredForce(a.capability, 1, a.deadline_s) for a in active],
            [Candidate(a.unit.id, a.unit.kind, (a.capability,), a.unit.lat, a.unit.lon)
             for a in active],
            turnout_s={k: 0.0 for k in self.settings.turnout_s},
            blocked=target.blocked,
            escape=target.escape,
            hot=target.hot,
            max_snap_m=self.settings.max_snap_m,
        )
        routes = {p.unit_id: p for p in rec.assignments}
        for a in active:
            p = routes.get(a.unit_id)
            if p is None:
                a.route = None
                a.staging = None
                tx.record("assignment.no_route", {"assignment_id": a.id, "unit_id": a.unit_id,
                                                  "callsign": a.unit.callsign,
                                                  "reason": reason.text,
                                                  "reason_parts": reason.parts},
                          incident=incident, unit_id=a.unit_id, actor=actor)
                # the tablet must drop the old route and ETA and say plainly there is none
                self._push_board(tx, incident, a, actor)
                continue
            turnout = 0.0 if a.unit.status is not UnitStatus.DISPATCHED else a.turnout_s
            a.route = p.route
            a.travel_s = p.travel_s
            a.distance_m = p.distance_m
            a.eta_s = turnout + p.travel_s
            a.staging = staging if staging and "error" not in staging else None
            tx.record("assignment.rerouted", {"assignment": assignment_view(a),
                                              "reason": reason.text,
                                              "reason_parts": reason.parts},
                      incident=incident, unit_id=a.unit_id, actor=actor)
            self._push_board(tx, incident, a, actor)

    def reroute_active(self, reason: Reason, actor: Actor | str = "system") -> int:
        """Re-route every active assignment (after a closure changes); returns how many."""
        with self.reading() as s:
            ids = [i for i in s.scalars(select(Incident.id).where(
                Incident.status == IncidentStatus.ACTIVE))]
        count = 0
        for incident_id in ids:
            with self.transaction() as tx:
                incident = tx.session.get(Incident, incident_id)
                if incident is None or incident.status is not IncidentStatus.ACTIVE:
                    continue
                count += sum(1 for a in incident.assignments
                             if a.status is AssignmentStatus.ACTIVE)
                self._reroute_all(tx, incident, actor, reason)
        return count

    # ---- road closures ---------------------------------------------------------------------

    def closures(self, actor: Actor) -> list[dict[str, Any]]:
        """Road closures in force in the actor's region."""
        with self.reading() as s:
            rows = s.scalars(select(Closure).where(Closure.removed_at.is_(None))
                             .order_by(Closure.id)).all()
            return [closure_view(c) for c in rows if self._in_scope(actor, c.county_id)]

    def add_closure(self, actor: Actor, geometry: dict[str, Any], reason: str = "",
                    incident_id: int | None = None) -> dict[str, Any]:
        """Close the roads a drawn line, point or polygon covers; live routes change at once."""
        try:
            edges = edges_for_closure(self.graph, geometry)
        except InvalidClosure as exc:
            raise InvalidInput(str(exc), "geometry") from None
        if not edges:
            raise InvalidInput("the geometry covers no road of the map", "geometry")
        with self.transaction() as tx:
            if incident_id is not None:
                incident = self._incident_for(tx, actor, incident_id, write=True)
                county_id = incident.county_id
            else:
                # the map carries no county boundaries yet: a road belongs to the county of
                # the fire station nearest to it, so nobody closes another county's roads
                county_id = self._county_near(tx.session, edges) or self._actor_county(
                    tx.session, actor)
            if not self._in_scope(actor, county_id):
                raise Forbidden("these roads lie in another county", "geometry")
            closure = Closure(geometry=geometry, reason=reason, created_at=tx.now,
                              incident_id=incident_id, county_id=county_id)
            tx.session.add(closure)
            tx.session.flush()
            view = closure_view(closure) | {"edges": len(edges)}
            tx.record("closure.added", view, county_id=county_id, actor=actor)
        view["rerouted"] = self.reroute_active(
            Reason(REROUTE_TEXT).add("reroute.closure_added", closure=view["id"]), actor)
        return view

    def remove_closure(self, actor: Actor, closure_id: int) -> dict[str, Any]:
        """Reopen the roads of a closure; live routes change at once."""
        with self.transaction() as tx:
            closure = tx.session.get(Closure, closure_id)
            if (closure is None or closure.removed_at is not None
                    or not self._in_scope(actor, closure.county_id)):
                raise NotFound(f"closure {closure_id} not found", "closure_id")
            closure.removed_at = tx.now
            view = closure_view(closure)
            tx.record("closure.removed", view, county_id=closure.county_id, actor=actor)
        view["rerouted"] = self.reroute_active(
            Reason(REROUTE_TEXT).add("reroute.closure_removed", closure=closure_id), actor)
        return view

    def _add_unit(self, actor: Actor, incident_id: int, unit_id: int, capability: str | None
                 ) -> dict[str, Any]:
        """Officer adds a specific unit to an incident."""
        self._require(actor, Role.DUTY_OFFICER, Role.ADMIN)
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=True)
            unit = tx.session.get(Unit, unit_id)
            if unit is None or not self._in_scope(actor, unit.county_id):
                raise InvalidInput(f"unit {unit_id} not found", "unit_id")
            if any(a.unit_id == unit_id and a.status is AssignmentStatus.ACTIVE
                   for a in incident.assignments):
                raise Conflict("unit already assigned to this incident", "unit_id")
            cap = capability or (unit.capabilities[0] if unit.capabilities else "fire")
            if cap not in unit.capabilities:
                raise InvalidInput(f"unit {unit.callsign} has no capability {cap}", "capability")
            candidates = self._candidates(tx.session, incident, None, set())
            if unit not in candidates:
                raise InvalidInput(f"unit {unit.callsign} is not available", "unit_id")
            # filling a shortfall, the unit inherits its plan deadline, counted from the report
            # (the requirement was due then); any other added unit has none
            unmet = [dict(u) for u in incident.unmet or []]
            gap = next((u for u in unmet if u.get("capability") == cap
                        and int(u.get("missing") or 0) > 0), None)
            deadline = None
            if gap is not None and gap.get("deadline_s") is not None:
                elapsed = (tx.now - incident.created_at).total_seconds()
                deadline = max(0.0, float(gap["deadline_s"]) - elapsed)
            rec = self._dispatch(tx, incident, [RequiredForce(cap, 1, deadline)], None, actor,
                                 unit_pool=frozenset({unit_id}), task_templates=[],
                                 replace_unmet=False)
            if rec is None or not rec.assignments:
                # nothing changes: the whole transaction rolls back
                raise Conflict(f"no open road leads from {unit.callsign} to the incident",
                               "unit_id")
            if gap is not None:
                # the added unit covers one missing force of its capability
                gap["missing"] = int(gap["missing"]) - 1
                incident.unmet = [u for u in unmet
                                  if u.get("capability") == "route" or u.get("missing")]
                tx.record("incident.unmet", {"unmet": incident.unmet}, incident=incident,
                          actor=actor)
            return self._view(tx, incident)

    def _release_unit(self, actor: Actor, incident_id: int, unit_id: int) -> dict[str, Any]:
        """Officer releases one unit from an incident."""
        self._require(actor, Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
        with self.transaction() as tx:
            incident = self._incident_for(tx, actor, incident_id, write=True)
            if actor.role is Role.TRAINER and not incident.exercise:
                raise Forbidden("trainers cannot change real incidents")
            for a in incident.assignments:
                if a.unit_id == unit_id and a.status is AssignmentStatus.ACTIVE:
                    self._release(tx, a, incident, actor,
                                  Reason(RELEASE_TEXT).add("release.by_officer"))
                    return self._view(tx, incident)
            raise NotFound(f"unit {unit_id} is not assigned to incident {incident_id}",
                           "unit_id")

    # ---- unit actions --------------------------------------------------------------------

    def _own_assignment(self, tx: Tx, actor: Actor, incident_id: int) -> Assignment:
        if actor.role is not Role.UNIT or actor.unit_id is None:
            raise Forbidden("only a unit's tablet does this")
        a = tx.session.scalar(select(Assignment).where(
            Assignment.incident_id == incident_id, Assignment.unit_id == actor.unit_id,
            Assignment.status == AssignmentStatus.ACTIVE))
        if a is None:
            raise NotFound(f"no active assignment on incident {incident_id}", "incident_id")
        return a

    def acknowledge(self, actor: Actor, incident_id: int, client_id: str | None = None,
                    assignment_id: int | None = None) -> dict[str, Any]:
        """A unit's crew acknowledges its assignment.

        assignment_id, when given, is the one the crew saw: an ack queued offline for an
        assignment since released never acknowledges a newer one on the same incident.
        """
        with self.transaction() as tx:
            a = self._own_assignment(tx, actor, incident_id)
            if not self._claim(tx, client_id, "ack", actor):
                return assignment_view(a)
            if assignment_id is not None and a.id != assignment_id:
                raise Conflict(f"assignment {assignment_id} is no longer active",
                               "assignment_id")
            if a.acked_at is not None:
                return assignment_view(a)
            a.acked_at = tx.now
            if a.delivered_at is None:
                a.delivered_at = tx.now
            tx.record("assignment.acked", {"assignment_id": a.id, "unit_id": a.unit_id,
                                           "callsign": a.unit.callsign},
                      incident=a.incident, unit_id=a.unit_id, actor=actor)
            return assignment_view(a)

    def mark_delivered(self, actor: Actor, incident_id: int, seq: int | None = None
                       ) -> dict[str, Any]:
        """The tablet reports that it rendered the board (sent automatically, once)."""
        with self.transaction() as tx:
            a = self._own_assignment(tx, actor, incident_id)
            if a.delivered_at is None:
                a.delivered_at = tx.now
                tx.record("assignment.delivered", {"assignment_id": a.id, "unit_id": a.unit_id,
                                                   "callsign": a.unit.callsign, "seq": seq},
                          incident=a.incident, unit_id=a.unit_id, actor=actor)
            return assignment_view(a)

    def update_task(self, actor: Actor, task_id: int, status: str, client_id: str | None = None
                    ) -> dict[str, Any]:
        """Check a task off (or reopen it); units only touch their own tasks."""
        try:
            new = TaskStatus(status)
        except ValueError:
            raise InvalidInput("status must be pending or done", "status") from None
        with self.transaction() as tx:
            task = tx.session.get(Task, task_id)
            if task is None:
                raise NotFound(f"task {task_id} not found", "task_id")
            if actor.role is Role.UNIT:
                if task.unit_id != actor.unit_id:
                    raise Forbidden("this task belongs to another unit", "task_id")
            else:
                self._require(actor, Role.DUTY_OFFICER, Role.ADMIN)
                self._incident_for(tx, actor, task.incident_id, write=False)
            if not self._claim(tx, client_id, "task", actor) or task.status is new:
                return task_view(task)
            if actor.role is Role.UNIT and not any(
                    a.unit_id == actor.unit_id and a.status is AssignmentStatus.ACTIVE
                    for a in task.incident.assignments):
                # a done task keeps its unit after a release; reopened then, it would belong
                # to nobody on the incident
                raise Forbidden("your unit is no longer on this incident", "task_id")
            if task.incident.status is IncidentStatus.CLOSED:
                raise IncidentClosed("incident is closed", "task_id")
            task.status = new
            task.done_at = tx.now if new is TaskStatus.DONE else None
            tx.record("task.updated", {"task": task_view(task)}, incident=task.incident,
                      unit_id=task.unit_id, actor=actor)
            return task_view(task)

    def set_unit_status(self, actor: Actor, status: str, client_id: str | None = None,
                        unit_id: int | None = None, *, only_on_incident: int | None = None
                        ) -> dict[str, Any]:
        """A crew (or an officer for them) sets the unit's status.

        only_on_incident: apply only while the unit is on that incident (0: on none), so a
        status queued on an offline tablet never lands on an assignment made meanwhile.
        """
        try:
            new = UnitStatus(status)
        except ValueError:
            raise InvalidInput("unknown status", "status") from None
        if new not in CREW_STATUSES:
            raise InvalidInput(f"status {status} cannot be set by hand", "status")
        if actor.role is Role.UNIT:
            unit_id = actor.unit_id
        else:
            self._require(actor, Role.DUTY_OFFICER, Role.ADMIN)
        with self.transaction() as tx:
            unit = tx.session.get(Unit, unit_id) if unit_id is not None else None
            if unit is None or not self._in_scope(actor, unit.county_id):
                raise NotFound(f"unit {unit_id} not found", "unit_id")
            if not self._claim(tx, client_id, "status", actor):
                return unit_view(unit)  # sent again after a lost answer: applied once already
            if only_on_incident is not None and (unit.incident_id or 0) != only_on_incident:
                # checked under the write lock: a status the crew set for one incident (0: for
                # none) must not land on another that reached the unit meanwhile
                raise Conflict(f"unit {unit_id} is no longer on incident {only_on_incident}"
                               if only_on_incident else f"unit {unit_id} has an incident now",
                               "incident_id")
            if unit.status is new:
                return unit_view(unit)
            incident = tx.session.get(Incident, unit.incident_id) if unit.incident_id else None
            if incident is not None and new in (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE):
                for a in incident.assignments:
                    if a.unit_id == unit.id and a.status is AssignmentStatus.ACTIVE:
                        why = Reason(RELEASE_TEXT).add("release.unit_set", status=new.value)
                        self._release(tx, a, incident, actor, why, then=new)
                incident = None
            if incident is None and new in BUSY:
                raise Conflict("unit has no incident", "status")
            if unit.status is not new:
                self._set_status(tx, unit, new, incident, actor)
            return unit_view(unit)

    def report_position(self, actor: Actor, lat: float, lon: float, unit_id: int | None = None
                        ) -> None:
        """A tablet or the simulator reports where its unit is."""
        if actor.role is Role.UNIT:
            unit_id = actor.unit_id
        else:
            self._require(actor, Role.ADMIN, Role.DUTY_OFFICER)
        if not self.graph.contains(lat, lon):
            raise InvalidInput("position is outside the map", "lat")
        with self.transaction() as tx:
            unit = tx.session.get(Unit, unit_id) if unit_id is not None else None
            if unit is None or not self._in_scope(actor, unit.county_id):
                raise NotFound(f"unit {unit_id} not found", "unit_id")
            unit.lat, unit.lon, unit.position_at = lat, lon, tx.now
            incident = tx.session.get(Incident, unit.incident_id) if unit.incident_id else None
            tx.record("unit.position", {"unit_id": unit.id, "lat": lat, "lon": lon},
                      incident=incident, county_id=unit.county_id if incident is None else None,
                      actor=actor)

    # ---- reading -------------------------------------------------------------------------

    def resync(self, actor: Actor, since_seq: int, limit: int = 5000) -> list[PublishedEvent]:
        """The events after since_seq the actor may see, in order, at most limit of them."""
        with self.reading() as s:
            return events_since(s, self.viewer_for(actor), since_seq, limit)

    def units(self, actor: Actor) -> list[dict[str, Any]]:
        with self.reading() as s:
            q = select(Unit).order_by(Unit.id)
            counties = self.region_counties(actor.region_id)
            if counties is not None:
                q = q.where(Unit.county_id.in_(counties))
            if actor.role is Role.UNIT:
                q = q.where(Unit.id == actor.unit_id)
            return [unit_view(u) for u in s.scalars(q)]

    def board_for_unit(self, actor: Actor) -> tuple[dict[str, Any] | None, int]:
        """The unit's current task board (None without an assignment), for a tablet that
        (re)loads, and the last event seq it reflects: the tablet applies only later events
        on top of it, so a slow answer never undoes a newer live one."""
        if actor.role is not Role.UNIT:
            raise Forbidden("only a unit has a task board")
        with self.reading() as s:
            # read first: on PostgreSQL each statement sees its own snapshot, so the board may
            # be newer than seq, never older; replaying events after seq on it converges
            seq = last_seq(s)
            a = s.scalar(select(Assignment).where(
                Assignment.unit_id == actor.unit_id,
                Assignment.status == AssignmentStatus.ACTIVE).order_by(Assignment.id.desc()))
            if a is None:
                return None, seq
            return self._board(s, a.incident, a), seq
