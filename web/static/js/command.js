// The command room: live state from REST + Socket.IO, the map, the incident list and the
// unit status board. The report form and the incident panel live in their own files.
(function () {
  "use strict";
  const RL = window.RL;
  const L = window.L;
  const t = RL.t;
  const el = RL.el;

  const auth = RL.requireAuth(["duty_officer", "admin"]);
  if (!auth) return;
  if (RL.applyUserLang(auth.username)) return;

  const STATUS_ORDER = ["dispatched", "en_route", "on_scene", "transporting", "returning",
    "available", "out_of_service"];
  const ARRIVED = new Set(["on_scene", "transporting", "returning"]);
  const ACK_WITHIN_MS = 60 * 1000;

  const S = (RL.cmd = {
    auth,
    enterprises: new Map(),
    units: new Map(),
    stations: new Map(),
    incidents: new Map(),
    timelines: new Map(),
    cards: new Map(),
    selectedId: null,
    loaded: false,
    map: null,
    layers: {},
    hub: null,
    closures: [],
  });

  // ---- helpers other modules use ----------------------------------------------------------

  S.activeAssignment = function (unitId) {
    for (const inc of S.incidents.values()) {
      if (inc.status !== "active") continue;
      for (const a of inc.assignments || []) {
        if (a.unit_id === unitId && a.status === "active") return { incident: inc, assignment: a };
      }
    }
    return null;
  };
  S.incidentStart = (inc) => RL.parseTime(inc.created_at) || Date.now();
  S.assignmentTimes = function (a) {
    const created = RL.parseTime(a.created_at) || Date.now();
    return {
      created,
      arrival: created + (a.eta_s || 0) * 1000,
      deadline: a.deadline_s !== null && a.deadline_s !== undefined
        ? created + a.deadline_s * 1000 : null,
      ackDue: created + ACK_WITHIN_MS,
    };
  };
  S.taskDeadline = function (inc, task) {
    if (task.deadline_s === null || task.deadline_s === undefined) return null;
    return S.incidentStart(inc) + task.deadline_s * 1000;
  };
  S.incidentTitle = function (inc) {
    const kind = t("kind." + inc.kind);
    const where = inc.enterprise ? RL.localName(inc.enterprise) : (inc.address || t("incident.map_point"));
    return "#" + inc.id + " " + kind + " · " + where;
  };
  S.unitLabel = function (unitId, fallback) {
    const u = S.units.get(unitId);
    return (u && u.callsign) || fallback || "#" + unitId;
  };

  // ---- rendering, batched -------------------------------------------------------------------

  const dirty = new Set();
  let flushTimer = 0;
  S.invalidate = function () {
    for (const p of arguments) dirty.add(p);
    if (!flushTimer) flushTimer = setTimeout(flush, 16);
  };
  function flush() {
    flushTimer = 0;
    const parts = new Set(dirty);
    dirty.clear();
    if (parts.has("list")) renderIncidentList();
    if (parts.has("units")) renderUnitBoard();
    if (parts.has("incidentMarkers")) renderIncidentMarkers();
    if (parts.has("selected")) renderSelectedOverlay();
    if (parts.has("panel")) S.panel.render();
    if (parts.has("timeline")) S.panel.renderTimeline();
    if (parts.has("stats")) renderStats();
    RL.tick();
  }

  // ---- incidents --------------------------------------------------------------------------

  S.upsertIncident = function (view) {
    if (!view || !view.id) return;
    // a snapshot read before an ack or a delivery arrived must not take them back
    const old = S.incidents.get(view.id);
    if (old && old !== view) {
      const before = new Map((old.assignments || []).map((a) => [a.id, a]));
      for (const a of view.assignments || []) {
        const o = before.get(a.id);
        if (!o) continue;
        a.acked_at = a.acked_at || o.acked_at;
        a.delivered_at = a.delivered_at || o.delivered_at;
      }
    }
    S.incidents.set(view.id, view);
    S.invalidate("list", "units", "incidentMarkers", "stats");
    if (view.id === S.selectedId) S.invalidate("panel", "selected");
  };

  const refreshTimers = new Map();
  S.refreshIncident = function (id, delay) {
    if (!id || refreshTimers.has(id)) return;
    refreshTimers.set(id, setTimeout(async () => {
      refreshTimers.delete(id);
      try {
        S.upsertIncident(await RL.api("GET", "/incidents/" + id));
      } catch (e) {
        if (e.status !== 404 && e.status !== 403) console.warn("refresh failed", id, e);
      }
    }, delay === undefined ? 120 : delay));
  };

  S.select = async function (id, opts) {
    S.selectedId = id;
    const inc = S.incidents.get(id);
    S.invalidate("list", "panel", "selected", "incidentMarkers");
    if (inc && opts && opts.fly && S.map) S.map.flyTo([inc.location.lat, inc.location.lon], 15,
      { duration: 0.6 });
    if (!S.timelines.has(id)) {
      S.timelines.set(id, new Map());
      try {
        const events = await RL.api("GET", "/incidents/" + id + "/events");
        const tl = S.timelines.get(id);
        for (const ev of events) {
          tl.set(ev.seq, ev);
          captureCards(ev);
        }
      } catch (e) {
        RL.toast(RL.errorText(e), "error");
      }
      if (S.selectedId === id) S.invalidate("timeline", "panel");
    } else {
      S.invalidate("timeline");
    }
  };

  function captureCards(ev) {
    if (ev.type !== "task_board" || !ev.incident_id) return;
    const d = ev.data || {};
    if (!S.cards.has(ev.incident_id)) S.cards.set(ev.incident_id, new Map());
    const unitId = d.assignment ? d.assignment.unit_id : null;
    S.cards.get(ev.incident_id).set(unitId, { cards: d.pocket_cards || [], notes: d.notes || [],
      callsign: d.assignment ? d.assignment.callsign : null });
  }

  function renderIncidentList() {
    const list = document.getElementById("incident-list");
    const active = Array.from(S.incidents.values()).filter((i) => i.status === "active")
      .sort((a, b) => b.id - a.id);
    document.getElementById("incident-list-empty").hidden = active.length > 0;
    list.replaceChildren(...active.map((inc) => {
      const start = S.incidentStart(inc);
      const assigned = (inc.assignments || []).filter((a) => a.status === "active");
      const acked = assigned.filter((a) => a.acked_at).length;
      const unacked = assigned.filter((a) => !a.acked_at);
      const firstAckDue = unacked.length
        ? Math.min(...unacked.map((a) => S.assignmentTimes(a).ackDue)) : null;
      return el("li", {
        class: "incident-item" + (inc.id === S.selectedId ? " selected" : "") +
          (inc.exercise ? " exercise" : ""),
        dataset: { incidentId: inc.id },
        tabindex: "0",
        role: "button",
        "aria-pressed": inc.id === S.selectedId ? "true" : "false",
        onclick: () => S.select(inc.id, { fly: true }),
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); S.select(inc.id, { fly: true }); } },
      },
      el("div", { class: "incident-item-top" },
        inc.exercise ? el("span", { class: "tag exercise-tag" }, t("exercise.tag")) : null,
        el("strong", {}, S.incidentTitle(inc))),
      el("div", { class: "incident-item-meta" },
        el("span", { class: "sev sev-" + inc.severity }, t("incident.severity_short", { n: inc.severity })),
        inc.response_level ? el("span", { class: "level" }, t("incident.level", { level: inc.response_level })) : null,
        el("span", {}, t("incident.units_acked", { acked, total: assigned.length })),
        (inc.unmet || []).length ? el("span", { class: "tag danger" }, t("incident.unmet_short")) : null,
        firstAckDue ? el("span", { class: "tag ack-flag", dataset: { overdueAt: firstAckDue } }, t("flag.no_ack")) : null,
        el("span", { class: "age", dataset: { since: start } })));
    }));
  }

  function renderStats() {
    const active = Array.from(S.incidents.values()).filter((i) => i.status === "active");
    document.getElementById("stat-incidents").textContent = active.length;
    const units = Array.from(S.units.values());
    document.getElementById("stat-units").textContent = units.length;
    document.getElementById("stat-available").textContent =
      units.filter((u) => u.status === "available").length;
    const anyExercise = active.some((i) => i.exercise);
    document.getElementById("exercise-indicator").hidden = !anyExercise;
  }

  function countAlerts(now) {
    let n = 0;
    for (const inc of S.incidents.values()) {
      if (inc.status !== "active") continue;
      for (const a of inc.assignments || []) {
        if (a.status !== "active") continue;
        const tm = S.assignmentTimes(a);
        const u = S.units.get(a.unit_id);
        if (!a.acked_at && now >= tm.ackDue) n++;
        if (tm.deadline && now >= tm.deadline && !(u && ARRIVED.has(u.status))) n++;
      }
      for (const task of inc.tasks || []) {
        const due = S.taskDeadline(inc, task);
        if (task.status !== "done" && due && now >= due) n++;
      }
    }
    document.getElementById("stat-alerts").textContent = n;
    document.getElementById("stat-alerts-wrap").hidden = n === 0;
  }
  RL.onTick(countAlerts);

  // ---- unit status board ------------------------------------------------------------------

  function renderLegend() {
    const box = document.getElementById("status-legend");
    box.replaceChildren(...STATUS_ORDER.map((s) => el("span", { class: "legend-item" },
      el("i", { class: "dot status-" + s }), t("unit_status." + s))));
  }

  function renderUnitBoard() {
    const rows = Array.from(S.units.values()).sort((a, b) =>
      STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) ||
      String(a.callsign).localeCompare(String(b.callsign)));
    const body = document.getElementById("unit-rows");
    body.replaceChildren(...rows.map((u) => {
      const link = S.activeAssignment(u.id);
      const a = link && link.assignment;
      const inc = link && link.incident;
      const tm = a ? S.assignmentTimes(a) : null;
      const arrived = ARRIVED.has(u.status);
      const since = RL.parseTime(u.status_since);
      let eta = "—";
      if (a && arrived) eta = t("unit.arrived");
      else if (a && !a.route) eta = el("span", { class: "tag danger" }, t("flag.no_route"));
      else if (a) eta = el("span", { dataset: { until: tm.arrival } });
      let deadlineCell = "—";
      if (tm && tm.deadline) {
        deadlineCell = arrived ? t("unit.deadline_met")
          : el("span", { dataset: { until: tm.deadline } });
      }
      const overdueTasks = inc ? (inc.tasks || []).filter((x) => x.unit_id === u.id &&
        x.status !== "done" && S.taskDeadline(inc, x)) : [];
      const taskDue = overdueTasks.length
        ? Math.min(...overdueTasks.map((x) => S.taskDeadline(inc, x))) : null;
      const rowAttrs = { class: "unit-row status-row-" + u.status, dataset: { unitId: u.id } };
      // a unit past its plan deadline and not yet there turns the row red
      if (tm && tm.deadline && !arrived) rowAttrs.dataset.overdueAt = tm.deadline;
      return el("tr", rowAttrs,
        el("td", { class: "callsign" }, el("i", { class: "dot status-" + u.status }), u.callsign),
        el("td", {}, RL.tOr("unit_kind." + u.kind, u.kind)),
        el("td", { class: "station" }, u.station ? RL.localName(u.station) : "—"),
        el("td", {}, el("span", { class: "status-badge status-" + u.status }, t("unit_status." + u.status))),
        el("td", { class: "num" }, since ? el("span", { dataset: { since } }) : "—"),
        el("td", {}, u.incident_id ? el("button", { type: "button", class: "btn link small",
          onclick: () => S.select(u.incident_id, { fly: true }) }, "#" + u.incident_id) : "—"),
        el("td", { class: "num" }, eta),
        el("td", { class: "num" }, deadlineCell),
        el("td", { class: "flags" },
          a && a.late ? el("span", { class: "tag warn", title: t("flag.late_eta_title") }, t("flag.late_eta")) : null,
          a && !a.acked_at ? el("span", { class: "tag ack-flag", dataset: { overdueAt: tm.ackDue } }, t("flag.no_ack")) : null,
          taskDue ? el("span", { class: "tag task-flag", dataset: { overdueAt: taskDue } }, t("flag.task_overdue")) : null,
          u.status === "out_of_service" ? el("span", { class: "tag muted" }, t("flag.out_of_service")) : null));
    }));
    updateUnitMarkers();
  }

  // ---- map --------------------------------------------------------------------------------

  async function setupMap() {
    const map = await RL.createMap("map");
    S.map = map;
    const layers = S.layers;
    layers.stations = L.layerGroup().addTo(map);
    layers.enterprises = L.layerGroup().addTo(map);
    layers.installations = L.layerGroup();
    layers.closures = L.layerGroup().addTo(map);
    layers.selected = L.layerGroup().addTo(map);
    layers.incidents = L.layerGroup().addTo(map);
    layers.units = L.layerGroup().addTo(map);
    layers.report = L.layerGroup().addTo(map);
    L.control.layers(null, {
      [t("map.layer_enterprises")]: layers.enterprises,
      [t("map.layer_installations")]: layers.installations,
      [t("map.layer_stations")]: layers.stations,
      [t("map.layer_units")]: layers.units,
      [t("map.layer_closures")]: layers.closures,
    }, { collapsed: true }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    map.on("zoomend", () => {
      const show = map.getZoom() >= 15;
      if (show && !map.hasLayer(layers.installations)) layers.installations.addTo(map);
      if (!show && map.hasLayer(layers.installations)) map.removeLayer(layers.installations);
    });
    map.on("click", (e) => {
      if (S.panel.closureMode) S.panel.placeClosure(e.latlng);
      else S.form.offerPoint(e.latlng);
    });
    return map;
  }

  function drawEnterprises() {
    const g = S.layers.enterprises;
    const inst = S.layers.installations;
    g.clearLayers();
    inst.clearLayers();
    for (const e of S.enterprises.values()) {
      const m = L.marker([e.location.lat, e.location.lon], { icon: RL.enterpriseIcon(e),
        keyboard: false, riseOnHover: true });
      m.bindTooltip(() => enterpriseTooltip(e), { direction: "top" });
      m.on("click", () => S.form.offerEnterprise(e, m));
      m.addTo(g);
      for (const h of e.installations || []) {
        L.circleMarker([h.lat, h.lon], { radius: 5, color: "#862e9c", weight: 2,
          fillColor: "#e599f7", fillOpacity: 0.8 })
          .bindTooltip(() => el("div", { class: "tip" },
            el("strong", {}, h.name),
            h.grade ? el("div", {}, t("enterprise.grade", { n: h.grade })) : null,
            (h.chemicals || []).map((c) => el("div", {}, (c.un || "") + " " + (c.name || "")))))
          .addTo(inst);
      }
    }
  }

  function enterpriseTooltip(e) {
    const box = el("div", { class: "tip" },
      el("strong", {}, RL.localName(e)),
      e.park ? el("div", {}, e.park) : null,
      el("div", {}, e.max_grade ? t("enterprise.major_hazard", { n: e.max_grade }) : t("enterprise.no_major_hazard")),
      (e.chemicals || []).length ? el("div", {}, e.chemicals.join(" ")) : null,
      el("div", {}, e.plan && e.plan.current
        ? t("enterprise.plan_version", { v: e.plan.current.version })
        : t("enterprise.no_plan")));
    return box;
  }

  function drawStations() {
    const g = S.layers.stations;
    g.clearLayers();
    for (const s of S.stations.values()) {
      L.marker([s.lat, s.lon], {
        icon: L.divIcon({ className: "station-marker kind-" + s.kind, html: "<span></span>",
          iconSize: [16, 16], iconAnchor: [8, 8] }),
        keyboard: false,
      }).bindTooltip(RL.localName(s) + (s.in_service ? "" : " · " + t("station.out_of_service")))
        .addTo(g);
    }
  }

  const unitMarkers = new Map();
  function updateUnitMarkers() {
    if (!S.map) return;
    const sel = S.incidents.get(S.selectedId);
    const selUnits = new Set(sel ? (sel.assignments || []).filter((a) => a.status === "active")
      .map((a) => a.unit_id) : []);
    for (const u of S.units.values()) {
      if (!u.position || u.position.lat === null || u.position.lat === undefined) continue;
      let m = unitMarkers.get(u.id);
      const key = u.status + (selUnits.has(u.id) ? "*" : "");
      if (!m) {
        m = L.marker([u.position.lat, u.position.lon], { icon: RL.unitIcon(u, selUnits.has(u.id)),
          keyboard: false, zIndexOffset: 1000 });
        m.bindTooltip(() => S.unitLabel(u.id) + " · " + t("unit_status." + S.units.get(u.id).status));
        m.on("click", () => { const cur = S.units.get(u.id); if (cur.incident_id) S.select(cur.incident_id); });
        m.addTo(S.layers.units);
        m.redlineKey = key;
        unitMarkers.set(u.id, m);
      } else if (m.redlineKey !== key) {
        m.setIcon(RL.unitIcon(u, selUnits.has(u.id)));
        m.redlineKey = key;
      }
    }
  }
  function moveUnit(unitId, lat, lon) {
    const u = S.units.get(unitId);
    if (u) u.position = { lat, lon };
    const m = unitMarkers.get(unitId);
    if (m) m.setLatLng([lat, lon]);
    else updateUnitMarkers();
  }

  const incidentMarkers = new Map();
  function renderIncidentMarkers() {
    if (!S.map) return;
    const keep = new Set();
    for (const inc of S.incidents.values()) {
      if (inc.status !== "active" && inc.id !== S.selectedId) continue;
      keep.add(inc.id);
      const selected = inc.id === S.selectedId;
      let m = incidentMarkers.get(inc.id);
      if (!m) {
        m = L.marker([inc.location.lat, inc.location.lon], { icon: RL.incidentIcon(inc, selected),
          zIndexOffset: 2000 });
        m.on("click", () => S.select(inc.id));
        m.bindTooltip(() => S.incidentTitle(S.incidents.get(inc.id)));
        m.addTo(S.layers.incidents);
        incidentMarkers.set(inc.id, m);
      } else {
        m.setIcon(RL.incidentIcon(inc, selected));
        m.setLatLng([inc.location.lat, inc.location.lon]);
      }
    }
    for (const [id, m] of incidentMarkers) {
      if (!keep.has(id)) { m.remove(); incidentMarkers.delete(id); }
    }
  }

  function renderSelectedOverlay() {
    if (!S.map) return;
    const g = S.layers.selected;
    g.clearLayers();
    const inc = S.incidents.get(S.selectedId);
    updateUnitMarkers();
    if (!inc) return;
    RL.hazardLayer(inc).addTo(g);
    for (const a of inc.assignments || []) {
      if (a.status !== "active") continue;
      if (a.route && a.route.coordinates) {
        L.geoJSON(a.route, { style: { color: RL.routeColor(a.capability), weight: 5,
          opacity: 0.75 }, interactive: true })
          .bindTooltip(t("map.route_of", { unit: a.callsign || S.unitLabel(a.unit_id),
            eta: RL.duration(a.eta_s), km: RL.distance(a.distance_m) }), { sticky: true })
          .addTo(g);
      }
      if (a.staging) {
        L.marker([a.staging.lat, a.staging.lon], { icon: RL.stagingIcon(), keyboard: false })
          .bindTooltip(t("map.staging")).addTo(g);
      }
    }
  }

  async function loadClosures() {
    try {
      const data = await RL.api("GET", "/closures");
      const items = (Array.isArray(data) ? data : (data && data.closures) || [])
        .filter((c) => c.geometry && !c.removed_at);
      S.closures = items;
      const closureLabel = (c) => (S.closureIsDrill(c) ? t("exercise.tag") + " · " : "") +
        t("map.closure") + (c.reason ? ": " + c.reason : "");
      const g = S.layers.closures;
      if (g) {
        g.clearLayers();
        for (const c of items) {
          L.geoJSON(c.geometry, {
            style: { color: "#c92a2a", weight: 7, dashArray: "4 6" },
            pointToLayer: (_f, ll) => L.marker(ll, { icon: L.divIcon({
              className: "closure-marker", html: "<span>⛔</span>", iconSize: [24, 24],
              iconAnchor: [12, 12] }) }),
          }).bindTooltip(closureLabel(c)).addTo(g);
        }
      }
      if (S.selectedId) S.invalidate("panel");
    } catch (e) {
      console.warn("closures", e);
    }
  }
  S.loadClosures = loadClosures;
  // a drill's closure binds only its exercise: never shown as if the road were shut
  S.closureIsDrill = function (c) {
    const inc = c.incident_id ? S.incidents.get(c.incident_id) : null;
    return Boolean(inc && inc.exercise);
  };

  // ---- events -----------------------------------------------------------------------------

  const buffered = [];
  function onEvent(ev) {
    if (!S.loaded) { buffered.push(ev); return; }
    apply(ev);
  }

  function apply(ev) {
    const d = ev.data || {};
    const id = ev.incident_id;
    if (id && ev.type !== "unit.position") {
      const tl = S.timelines.get(id);
      if (tl) {
        tl.set(ev.seq, ev);
        if (id === S.selectedId) S.invalidate("timeline");
      }
    }
    switch (ev.type) {
      case "incident.created": {
        const inc = d.incident;
        if (inc && !S.incidents.has(inc.id)) {
          S.upsertIncident(inc);
          if (!S.form.isMine(inc.id)) {
            RL.toast(t("toast.new_incident", { title: S.incidentTitle(inc) }),
              inc.exercise ? "info" : "warn");
          }
        }
        S.refreshIncident(id, 250);
        break;
      }
      case "task.updated": {
        const inc = S.incidents.get(id);
        if (inc && d.task) {
          const i = (inc.tasks || []).findIndex((x) => x.id === d.task.id);
          if (i >= 0) inc.tasks[i] = d.task;
          else inc.tasks.push(d.task);
          S.invalidate("units");
          if (id === S.selectedId) S.invalidate("panel");
        } else S.refreshIncident(id);
        break;
      }
      case "assignment.acked":
      case "assignment.delivered": {
        const inc = S.incidents.get(id);
        const a = inc && (inc.assignments || []).find((x) => x.id === d.assignment_id);
        if (a) {
          if (ev.type === "assignment.acked") {
            a.acked_at = a.acked_at || ev.at;
            a.delivered_at = a.delivered_at || ev.at;
          } else a.delivered_at = a.delivered_at || ev.at;
          S.invalidate("list", "units");
          if (id === S.selectedId) S.invalidate("panel");
        } else S.refreshIncident(id);
        break;
      }
      case "task_board":
        captureCards(ev);
        if (id === S.selectedId) S.invalidate("panel");
        break;
      case "unit.status": {
        const u = S.units.get(d.unit_id);
        if (u && u._seq > ev.seq) break;  // older than what the board shows
        if (u) {
          u._seq = ev.seq;
          u.status = d.status;
          u.status_since = ev.at;
          u.incident_id = d.status === "available" || d.status === "out_of_service"
            ? null : (d.incident_id || u.incident_id);
        }
        S.invalidate("units", "stats", "list");
        if (id && id === S.selectedId) S.invalidate("panel");
        break;
      }
      case "unit.position": {
        const u = S.units.get(d.unit_id);
        if (u && u._posSeq > ev.seq) break;
        if (u) u._posSeq = ev.seq;
        moveUnit(d.unit_id, d.lat, d.lon);
        break;
      }
      case "incident.closed": {
        const inc = S.incidents.get(id);
        if (inc) {
          inc.status = "closed";
          inc.closed_at = ev.at;
          S.upsertIncident(inc);
        }
        S.refreshIncident(id);
        break;
      }
      case "incident.coverage": {
        const gaps = (d.gaps || []).length;
        if (gaps) RL.toast(t("toast.coverage_gap", { n: gaps }), "warn");
        S.refreshIncident(id, 0);
        break;
      }
      case "drill.preempted":
        RL.toast(t("toast.drill_preempted", { unit: d.callsign || S.unitLabel(d.unit_id) }), "warn");
        S.refreshIncident(id);
        break;
      default:
        if (ev.type.startsWith("closure")) loadClosures();
        if (id) S.refreshIncident(id);
    }
  }

  // ---- connection state ---------------------------------------------------------------------

  let offlineSince = null;
  function setConnected(ok) {
    const conn = document.getElementById("conn");
    const banner = document.getElementById("conn-banner");
    if (ok) {
      offlineSince = null;
      conn.className = "conn online";
      conn.textContent = t("conn.live");
      banner.hidden = true;
      document.body.classList.remove("stale");
    } else {
      if (!offlineSince) offlineSince = Date.now();
      conn.className = "conn offline";
      conn.textContent = t("conn.offline");
      banner.textContent = t("conn.banner_officer", { time: RL.clock(offlineSince, false) });
      banner.hidden = false;
      document.body.classList.add("stale");
    }
  }

  // ---- start --------------------------------------------------------------------------------

  async function loadAll() {
    const [enterprises, units, stations, incidents] = await Promise.all([
      RL.api("GET", "/enterprises"),
      RL.api("GET", "/units"),
      RL.api("GET", "/stations"),
      RL.api("GET", "/incidents?status=active"),
    ]);
    S.enterprises = new Map(enterprises.map((e) => [e.id, e]));
    S.units = new Map(units.map((u) => [u.id, u]));
    S.stations = new Map(stations.map((s) => [s.id, s]));
    for (const inc of incidents) S.incidents.set(inc.id, inc);
    S.form.setEnterprises(S.enterprises);
    if (S.map) { drawEnterprises(); drawStations(); loadClosures(); }
    S.loaded = true;
    while (buffered.length) apply(buffered.shift());
    setConnected(Boolean(S.hub && S.hub.connected));
    S.invalidate("list", "units", "incidentMarkers", "stats");
    const first = incidents.find((i) => i.status === "active");
    if (S.selectedId === null && first) S.select(first.id);
  }

  async function start() {
    await RL.ready;
    document.getElementById("user-name").textContent = auth.username;
    RL.bindLangButton(document.getElementById("lang-switch"));
    document.getElementById("logout").addEventListener("click", () => RL.logout());
    const clock = document.getElementById("clock");
    RL.onTick((now) => { clock.textContent = RL.clock(now); });
    renderLegend();
    S.form = new RL.ReportForm(S);
    S.panel = new RL.IncidentPanel(S);
    RL.startTicker();
    try {
      await setupMap();
    } catch (e) {
      RL.toast(t("map.failed") + " " + RL.errorText(e), "error");
    }
    let loading = null;
    // the first load must succeed before the room may say it is live: retried until it does
    // (a hub restarting behind the proxy answers 502 for a moment)
    function load(delay) {
      loading = loadAll().catch((e) => {
        RL.toast(RL.errorText(e), "error");
        loading = null;
        setTimeout(() => { if (!S.loaded && !loading) load(Math.min(delay * 2, 30000)); }, delay);
      });
      return loading;
    }
    S.hub = RL.connectHub({
      onHello: () => {
        if (!S.loaded) {
          if (!loading) load(2000);
        } else if (S.selectedId) {
          S.refreshIncident(S.selectedId, 0);
        }
      },
      onEvent,
      onStatus: (ok) => setConnected(ok && S.loaded),
      onError: (err) => RL.toast(RL.errorText(err), "error"),
    });
    setTimeout(() => { if (!S.hub.connected) setConnected(false); }, 5000);
    return loading;
  }

  start();
})();
