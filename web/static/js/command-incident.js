// The incident panel of the command room: dispatch table with delivery and acknowledgement,
// officer actions, tasks and pocket cards, the timeline, contacts to notify and the first
// report upward with its one-hour countdown.
(function () {
  "use strict";
  const RL = window.RL;
  const L = window.L;
  const t = RL.t;
  const el = RL.el;
  const FIRST_REPORT_MS = 60 * 60 * 1000;
  const LOCAL_NOTIFY_KEY = "redline.notified.";

  const reasonText = RL.reasonText;

  class IncidentPanel {
    constructor(S) {
      this.S = S;
      this.closureMode = false;
      this.draftFor = null;
      this.bindTabs();
      this.bindActions();
      RL.onTick(() => this.tickReport());
    }

    get inc() { return this.S.incidents.get(this.S.selectedId) || null; }

    // ---- wiring -------------------------------------------------------------------------------

    bindTabs() {
      this.tabs = RL.$$("#incident-view [role=tab]");
      this.tabs.forEach((tab) => tab.addEventListener("click", () => this.showTab(tab)));
      this.tabs.forEach((tab, i) => tab.addEventListener("keydown", (e) => {
        if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
        const next = this.tabs[(i + (e.key === "ArrowRight" ? 1 : this.tabs.length - 1)) %
          this.tabs.length];
        next.focus();
        this.showTab(next);
      }));
    }

    showTab(tab) {
      this.tabs.forEach((x) => {
        const on = x === tab;
        x.setAttribute("aria-selected", on ? "true" : "false");
        document.getElementById(x.getAttribute("aria-controls")).hidden = !on;
      });
    }

    bindActions() {
      document.getElementById("add-unit-form").addEventListener("submit", (e) => {
        e.preventDefault();
        this.addUnit();
      });
      document.getElementById("add-unit").addEventListener("change", () => this.fillCaps());
      RL.$$("#sev-buttons [data-sev]").forEach((b) => b.addEventListener("click", () =>
        this.patch({ severity: Number(b.dataset.sev) })));
      document.getElementById("update-form").addEventListener("submit", (e) => {
        e.preventDefault();
        this.update();
      });
      document.getElementById("close-incident").addEventListener("click", () => this.close());
      document.getElementById("close-road").addEventListener("click", () =>
        this.setClosureMode(!this.closureMode));
      document.getElementById("first-report-refresh").addEventListener("click", () => {
        this.draftFor = null;
        this.renderReport(true);
      });
      document.getElementById("first-report-copy").addEventListener("click", () => {
        const ta = document.getElementById("first-report-text");
        ta.select();
        const done = () => RL.toast(t("report.copied"), "ok");
        if (navigator.clipboard) navigator.clipboard.writeText(ta.value).then(done, () => {});
        else { document.execCommand("copy"); done(); }
      });
      this.addSentTo();
      document.getElementById("first-report-sent").addEventListener("click", () =>
        this.sendReport());
    }

    // who the report went to: built here so its words come from the script catalogues
    addSentTo() {
      const actions = document.getElementById("first-report-sent").parentElement;
      const input = el("input", { id: "first-report-to", type: "text", maxlength: "200",
        value: t("report.sent_to_default") });
      actions.before(el("label", { class: "field", for: "first-report-to" },
        el("span", {}, t("report.sent_to")), input));
    }

    // the report is a state change on the hub: every officer's screen, the log and the drill
    // score learn of it from the incident.first_report event
    async sendReport() {
      const inc = this.inc;
      if (!inc || inc.first_report || inc.status !== "active") return;
      const text = document.getElementById("first-report-text").value.trim();
      const sentTo = document.getElementById("first-report-to").value.trim();
      if (!text || !sentTo) {
        RL.toast(t(text ? "report.need_sent_to" : "report.need_text"), "error");
        return;
      }
      // one id per attempt on this incident, so a retry after a lost answer is applied once
      if (!this.reportId || this.reportId.incident !== inc.id) {
        this.reportId = { incident: inc.id, id: RL.uuid() };
      }
      const btn = document.getElementById("first-report-sent");
      btn.disabled = true;
      const view = await this.call("POST", "/incidents/" + inc.id + "/first-report",
        { text, sent_to: sentTo, client_id: this.reportId.id }, t("report.sent_toast"));
      if (view) this.reportId = null;
      else btn.disabled = false;
    }

    async call(method, path, data, okText) {
      try {
        const view = await RL.api(method, path, data);
        if (view && view.id && view.assignments) this.S.upsertIncident(view);
        if (okText) RL.toast(okText, "ok");
        return view;
      } catch (err) {
        RL.toast(RL.errorText(err), "error");
        return null;
      }
    }

    // ---- officer actions ------------------------------------------------------------------

    // the government's response level (I most severe .. IV mildest): a decision with a reason
    governmentForm(inc) {
      const el = RL.el;
      const action = el("select", { "aria-label": t("gov.action") },
        ...[["set", t("gov.set")], ["raise", t("gov.raise")], ["lower", t("gov.lower")],
          ["end", t("gov.end")]].map(([a, text]) => el("option", { value: a }, text)));
      const level = el("select", { "aria-label": t("gov.level") },
        ...[["I", t("gov.level_I")], ["II", t("gov.level_II")], ["III", t("gov.level_III")],
          ["IV", t("gov.level_IV")]].map(([l, text]) => el("option", { value: l }, text)));
      const reason = el("input", { type: "text", placeholder: t("gov.reason"), maxlength: 2000 });
      const go = () => {
        const body = { action: action.value, reason: reason.value.trim() };
        if (action.value !== "end") body.level = level.value;
        this.call("POST", "/incidents/" + inc.id + "/government-level", body, t("gov.done"));
      };
      return el("span", { class: "gov-form" }, action, level, reason,
        el("button", { type: "button", class: "btn", onclick: go }, t("gov.decide")));
    }

    addUnit() {
      const inc = this.inc;
      const unitId = Number(document.getElementById("add-unit").value);
      if (!inc || !unitId) return;
      const cap = document.getElementById("add-unit-cap").value || undefined;
      this.call("POST", "/incidents/" + inc.id + "/assignments",
        { unit_id: unitId, capability: cap },
        t("toast.unit_added", { unit: this.S.unitLabel(unitId) }));
    }

    async release(a) {
      const inc = this.inc;
      if (!inc) return;
      const unit = a.callsign || this.S.unitLabel(a.unit_id);
      if (!(await RL.confirm(t("confirm.release", { unit }), t("action.release")))) return;
      this.call("DELETE", "/incidents/" + inc.id + "/assignments/" + a.unit_id, undefined,
        t("toast.unit_released", { unit }));
    }

    // the plan's zone is smaller than ERG's for this release: both side by side, the officer
    // decides (the hub keeps ERG's until then), and the choice is logged
    renderZoneChoice(inc) {
      const box = document.getElementById("zone-choice");
      const iso = inc.isolation;
      if (!box) return;
      if (!iso || !iso.warning || inc.status !== "active") { box.hidden = true; return; }
      const line = (z, which) => el("div", { class: "zone-option" + (iso.chosen === which ? " chosen" : "") },
        el("strong", {}, t("zone." + which)), " ",
        t("incident.isolation_value", { r: Math.round(z.radius_m), p: Math.round(z.protective_m) }),
        iso.chosen === which ? el("span", { class: "tag" }, t("zone.in_use"))
          : el("button", { type: "button", class: "btn small", dataset: { zone: which },
            onclick: () => this.patch({ zone: which }) }, t("zone.use")));
      box.replaceChildren(el("p", { class: "zone-warning", role: "alert" }, "⚠ " + t("zone.plan_smaller")),
        line(iso.erg, "erg"), line(iso.plan, "plan"));
      box.hidden = false;
    }

    patch(body) {
      const inc = this.inc;
      if (!inc) return null;
      return this.call("PATCH", "/incidents/" + inc.id, body, t("toast.updated"));
    }

    update() {
      const body = {};
      const cas = document.getElementById("u-casualties").value;
      if (cas !== "") body.casualties = Number(cas);
      const w = RL.parseWind(document.getElementById("u-wind").value);
      if (w === undefined) { RL.toast(t("form.bad_wind"), "error"); return; }
      if (w !== null) {
        body.wind = { from_deg: w };
        const sp = document.getElementById("u-wind-speed").value;
        if (sp !== "") body.wind.speed_ms = Number(sp);
      }
      const spill = document.getElementById("u-spill").value;
      if (spill) body.spill = spill;
      if (!Object.keys(body).length) return;
      this.patch(body).then((v) => { if (v) document.getElementById("update-form").reset(); });
    }

    async close() {
      const inc = this.inc;
      if (!inc) return;
      if (!(await RL.confirm(t("confirm.close", { title: this.S.incidentTitle(inc) }),
        t("action.close_incident")))) return;
      this.call("POST", "/incidents/" + inc.id + "/close", { client_id: RL.uuid() },
        t("toast.closed"));
    }

    setClosureMode(on) {
      this.closureMode = on;
      document.getElementById("close-road").classList.toggle("active", on);
      document.getElementById("map").classList.toggle("picking", on);
      const hint = document.getElementById("map-click-hint");
      hint.textContent = on ? t("map.closure_hint") : t("map.report_hint");
      hint.hidden = !on;
    }

    async placeClosure(latlng) {
      this.setClosureMode(false);
      const inc = this.inc;
      const reason = document.getElementById("closure-reason").value.trim();
      const body = {
        geometry: { type: "Point", coordinates: [latlng.lng, latlng.lat] },
        reason: reason || t("closure.default_reason"),
      };
      if (inc && inc.status === "active") body.incident_id = inc.id;
      try {
        const c = await RL.api("POST", "/closures", body);
        RL.toast(t("toast.closure_added", { n: c.rerouted || 0 }), "ok");
        document.getElementById("closure-reason").value = "";
        this.S.loadClosures();
      } catch (err) {
        RL.toast(RL.errorText(err), "error");
      }
    }

    async removeClosure(c) {
      try {
        await RL.api("DELETE", "/closures/" + c.id);
        RL.toast(t("toast.closure_removed"), "ok");
        this.S.loadClosures();
      } catch (err) {
        RL.toast(RL.errorText(err), "error");
      }
    }

    async toggleNotified(inc, check, on) {
      try {
        await RL.api("POST", "/incidents/" + inc.id + "/notifications/" + check.id,
          { notified: on, client_id: RL.uuid() });
        this.S.refreshIncident(inc.id, 0);
      } catch (err) {
        RL.toast(RL.errorText(err), "error");
        this.render();
      }
    }

    // ---- rendering ----------------------------------------------------------------------------

    render() {
      const inc = this.inc;
      document.getElementById("incident-empty").hidden = Boolean(inc);
      document.getElementById("incident-view").hidden = !inc;
      if (!inc) return;
      const S = this.S;
      const active = inc.status === "active";
      document.getElementById("exercise-banner").hidden = !inc.exercise;
      document.getElementById("incident-view").classList.toggle("exercise", inc.exercise);
      document.getElementById("inc-title").textContent = S.incidentTitle(inc);
      const st = document.getElementById("inc-status");
      st.textContent = t("incident_status." + inc.status);
      st.className = "badge status-" + inc.status;
      document.getElementById("inc-place").textContent = inc.address ||
        (inc.location.lat.toFixed(5) + ", " + inc.location.lon.toFixed(5));

      const facts = [];
      const fact = (k, v) => facts.push(el("div", {}, el("dt", {}, k), el("dd", {}, v)));
      fact(t("incident.reported"), RL.dateTime(RL.parseTime(inc.created_at)));
      const label = (l) => l ? (RL.lang === "en" ? l.en : l.zh) : "—";
      fact(t("incident.severity"), inc.severity_label ? label(inc.severity_label) : String(inc.severity));
      const gov = inc.government_response;
      fact(t("gov.level"), el("span", {}, gov && gov.active ? label(gov.label) + " · " + gov.reason
        : (gov ? t("gov.ended") : "—"), " ", this.governmentForm(inc)));
      fact(t("incident.casualties"), String(inc.casualties || 0));
      if (inc.chemical) fact(t("incident.chemical"), inc.chemical);
      if (inc.wind) fact(t("incident.wind"), Math.round(inc.wind.from_deg) + "°" +
        (inc.wind.speed_ms ? " " + inc.wind.speed_ms + " m/s" : ""));
      if (inc.isolation) fact(t("incident.isolation"), t("incident.isolation_value", {
        r: Math.round(inc.isolation.radius_m), p: Math.round(inc.isolation.protective_m) }) +
        (inc.isolation.source ? " · " + reasonText(inc.isolation.source_parts,
          inc.isolation.source) : ""));
      fact(t("incident.source"), RL.tOr("source." + inc.source, inc.source));
      document.getElementById("inc-facts").replaceChildren(...facts);
      this.renderZoneChoice(inc);

      const plan = inc.plan;
      document.getElementById("inc-plan").replaceChildren(plan
        ? el("div", {},
          el("div", { class: "plan-line" },
            el("span", { class: "level-badge", title: t("incident.plan_level_hint") },
              t("incident.level", { level: inc.response_level || "—" }) +
              (inc.response_level_label ? " · " + label(inc.response_level_label) : "")),
            el("strong", { class: "scenario" }, plan.scenario_name)),
          el("div", { class: "hint" }, t("incident.plan_version", { v: plan.version, id: plan.plan_id }) +
            (plan.source === "default" ? " · " + t("incident.default_plan") : "") +
            (inc.match_reason ? " · " + reasonText(inc.match_reason_parts, inc.match_reason)
              : "")))
        : el("div", { class: "hint" }, t("incident.no_plan")));

      this.renderUnmet(inc);
      this.renderCoverage(inc);
      this.renderAssignments(inc);
      this.renderAddUnit(inc);
      this.renderClosures();
      this.renderTasks(inc);
      this.renderCards(inc);
      this.renderContacts(inc);
      this.renderReport(false);
      this.renderAccident(inc);
      RL.$$("#tab-overview button, #tab-overview select, #tab-overview input").forEach((x) => {
        if (x.id !== "close-road") x.disabled = !active;
      });
      document.getElementById("close-incident").hidden = !active;
      this.tickReport();
    }

    renderUnmet(inc) {
      const box = document.getElementById("unmet");
      const unmet = inc.unmet || [];
      box.hidden = unmet.length === 0;
      box.replaceChildren(el("strong", {}, t("incident.unmet")), ...unmet.map((u) =>
        el("span", { class: "tag danger" }, u.code ? RL.tOr("unmet." + u.code, u.reason)
          : u.reason ? u.reason
            : RL.tOr("capability." + u.capability, u.capability) + " × " + u.missing)));
    }

    // the hub checks the county's cover after a real dispatch (event incident.coverage):
    // enterprises whose first force can no longer arrive in time, and the move-ups that help
    renderCoverage(inc) {
      const S = this.S;
      const box = document.getElementById("coverage-warning");
      const gaps = inc.coverage_gaps || [];
      const moves = inc.move_ups || [];
      box.hidden = inc.status !== "active" || (gaps.length === 0 && moves.length === 0);
      if (box.hidden) { box.replaceChildren(); return; }
      const name = (g) => RL.localName(S.enterprises.get(g.enterprise_id)) || g.name;
      box.replaceChildren(
        el("strong", {}, t("coverage.gap_title", { n: gaps.length })),
        gaps.length ? el("div", { class: "gap-list" }, gaps.map((g) => (g.reason
          ? t("coverage.gap_reason", { name: name(g), reason: reasonText(g.reason_parts, g.reason) })
          : name(g))).join("、")) : null,
        el("div", {}, el("strong", {}, t("coverage.move_up_title"))),
        moves.length
          ? el("ul", { class: "move-ups" }, moves.map((m) => {
            const st = S.stations.get(m.to_station_id);
            return el("li", { class: "move-up", dataset: { unitId: m.unit_id } },
              t("coverage.move_up", { unit: m.callsign || S.unitLabel(m.unit_id),
                station: st ? RL.localName(st) : m.to_station, travel: RL.duration(m.travel_s),
                n: (m.restores || []).length }));
          }))
          : el("div", { class: "hint" }, t("coverage.no_move_up")));
    }

    renderAssignments(inc) {
      const S = this.S;
      const rows = (inc.assignments || []).slice().sort((a, b) =>
        (a.status === "active" ? 0 : 1) - (b.status === "active" ? 0 : 1) || a.eta_s - b.eta_s);
      document.getElementById("assignments").replaceChildren(...rows.map((a) => {
        const tm = S.assignmentTimes(a);
        const u = S.units.get(a.unit_id);
        const active = a.status === "active";
        const delivered = RL.parseTime(a.delivered_at);
        const acked = RL.parseTime(a.acked_at);
        let ackCell;
        if (acked) ackCell = el("span", { class: "ok" }, RL.clock(acked) + " (+" + RL.duration((acked - tm.created) / 1000) + ")");
        else if (active) {
          ackCell = el("span", { class: "tag ack-flag", dataset: { overdueAt: tm.ackDue } },
            el("span", { dataset: { since: tm.created } }));
        } else ackCell = "—";
        const arrived = u && ["on_scene", "transporting", "returning"].includes(u.status);
        return el("tr", { class: "assignment " + a.status + (a.late ? " late" : ""),
          dataset: { unitId: a.unit_id, assignmentId: a.id } },
        el("td", { class: "callsign" }, u ? el("i", { class: "dot status-" + u.status }) : null,
          a.callsign || S.unitLabel(a.unit_id)),
        el("td", {}, RL.tOr("capability." + a.capability, a.capability)),
        el("td", { class: "num" }, !active ? "—" : arrived ? t("unit.arrived")
          : el("span", { dataset: { until: tm.arrival } }),
        a.late ? el("span", { class: "tag warn", title: t("flag.late_eta_title") }, t("flag.late_eta")) : null,
        active && !a.route ? el("span", { class: "tag danger no-route" }, t("flag.no_route")) : null),
        el("td", { class: "num delivered" }, delivered ? RL.clock(delivered) : active ? t("assignment.not_yet") : "—"),
        el("td", { class: "num acked" }, ackCell),
        el("td", {}, active && u ? t("unit_status." + u.status) : t("assignment_status." + a.status)),
        el("td", {}, active && inc.status === "active" ? el("button", { type: "button",
          class: "btn small", onclick: () => this.release(a) }, t("action.release")) : null));
      }));
    }

    renderAddUnit(inc) {
      const S = this.S;
      const sel = document.getElementById("add-unit");
      const prev = sel.value;
      const avail = Array.from(S.units.values()).filter((u) => u.status === "available")
        .sort((a, b) => String(a.callsign).localeCompare(String(b.callsign)));
      sel.replaceChildren(el("option", { value: "" }, t("form.pick_unit")), ...avail.map((u) =>
        el("option", { value: u.id }, u.callsign + " · " +
          u.capabilities.map((c) => RL.tOr("capability." + c, c)).join("/"))));
      if (avail.some((u) => String(u.id) === prev)) sel.value = prev;
      this.fillCaps();
      void inc;
    }

    fillCaps() {
      const u = this.S.units.get(Number(document.getElementById("add-unit").value));
      const caps = u ? u.capabilities : [];
      const capSel = document.getElementById("add-unit-cap");
      const prev = capSel.value;
      capSel.replaceChildren(...caps.map((c) => el("option", { value: c },
        RL.tOr("capability." + c, c))));
      if (caps.includes(prev)) capSel.value = prev;
    }

    renderClosures() {
      const list = document.getElementById("closure-list");
      const items = this.S.closures || [];
      list.replaceChildren(...items.map((c) => el("li", {},
        this.S.closureIsDrill(c) ? el("span", { class: "tag exercise-tag" }, t("exercise.tag") + " ") : null,
        el("span", {}, "#" + c.id + " " + (c.reason || t("map.closure")) + " · " +
          RL.clock(RL.parseTime(c.created_at), false)),
        el("button", { type: "button", class: "btn small link",
          onclick: () => this.removeClosure(c) }, t("action.reopen")))));
      document.getElementById("closure-empty").hidden = items.length > 0;
    }

    renderTasks(inc) {
      const S = this.S;
      const tasks = (inc.tasks || []).slice().sort((a, b) => a.order - b.order || a.id - b.id);
      const done = tasks.filter((x) => x.status === "done").length;
      document.getElementById("tasks-progress").textContent = tasks.length ? done + "/" + tasks.length : "";
      const groups = new Map();
      for (const task of tasks) {
        const k = task.unit_id || 0;
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k).push(task);
      }
      const start = S.incidentStart(inc);
      const box = document.getElementById("tasks");
      if (!tasks.length) { box.replaceChildren(el("p", { class: "empty" }, t("tasks.none"))); return; }
      box.replaceChildren(...Array.from(groups.entries()).map(([unitId, list]) => {
        const n = list.filter((x) => x.status === "done").length;
        return el("section", { class: "task-group", dataset: { unitId } },
          el("h4", {}, unitId ? S.unitLabel(unitId) : t("tasks.unassigned"),
            el("span", { class: "progress" }, " " + n + "/" + list.length),
            el("progress", { max: list.length, value: n })),
          el("ul", { class: "task-rows" }, list.map((task) => {
            const due = task.deadline_s !== null && task.deadline_s !== undefined
              ? start + task.deadline_s * 1000 : null;
            const isDone = task.status === "done";
            return el("li", { class: "task-row " + task.status, dataset: { taskId: task.id } },
              el("span", { class: "check" }, isDone ? "✓" : "○"),
              el("span", { class: "title" }, task.title),
              el("span", { class: "due" }, isDone
                ? t("tasks.done_at", { time: RL.clock(RL.parseTime(task.done_at)) })
                // a closed incident's open tasks stop counting down
                : due && inc.status === "active"
                  ? el("span", { dataset: { until: due, overdueAt: due } }) : ""));
          })));
      }));
    }

    renderCards(inc) {
      const per = this.S.cards.get(inc.id);
      const seen = new Set();
      const cards = [];
      if (per) {
        for (const v of per.values()) {
          for (const c of v.cards) {
            const k = c.post + "|" + (c.steps || []).join("|");
            if (!seen.has(k)) { seen.add(k); cards.push(c); }
          }
        }
      }
      const box = document.getElementById("pocket-cards");
      box.replaceChildren(...(cards.length ? cards.map((c) => el("details", { class: "card" },
        el("summary", {}, c.post),
        el("ol", {}, (c.steps || []).map((s) => el("li", {}, s))),
        (c.call || []).length ? el("p", {}, t("card.call") + " " +
          c.call.map((x) => x.name + " " + x.phone).join("; ")) : null,
        c.escape_route ? el("p", {}, t("card.escape") + " " + c.escape_route) : null,
        c.assembly_point ? el("p", {}, t("card.assembly") + " " + c.assembly_point) : null))
        : [el("p", { class: "empty" }, t("cards.none"))]));
    }

    renderContacts(inc) {
      const box = document.getElementById("contacts");
      const server = inc.notifications;
      if (Array.isArray(server)) {
        // the hub keeps the checklist: each tick is an event in the incident's log
        box.replaceChildren(...(server.length ? server.map((c) => {
          const id = "notify-" + c.id;
          return el("li", { class: c.notified ? "done" : "" },
            el("input", { type: "checkbox", id, checked: c.notified, disabled: inc.status !== "active",
              onchange: (e) => this.toggleNotified(inc, c, e.target.checked) }),
            el("label", { for: id }, el("strong", {}, c.contact), " ",
              el("span", { class: "muted" }, c.role), " ", el("a", { href: "tel:" + c.phone }, c.phone)),
            el("span", { class: "when" }, c.notified
              ? t("notify.at", { time: RL.clock(RL.parseTime(c.notified_at)), who: c.notified_by || "" })
              : ""));
        }) : [el("li", { class: "empty" }, t("notify.none"))]));
        return;
      }
      // a hub without the checklist API: the enterprise's contacts, ticked in this browser
      const e = inc.enterprise_id ? this.S.enterprises.get(inc.enterprise_id) : null;
      const people = [];
      const c = (e && e.contacts) || {};
      if (c.on_duty_phone) people.push({ key: "duty", name: t("notify.on_duty"), phone: c.on_duty_phone });
      if (c.safety_manager) people.push({ key: "safety", name: c.safety_manager.name + " (" + t("notify.safety_manager") + ")", phone: c.safety_manager.phone });
      if (c.legal_representative) people.push({ key: "legal", name: c.legal_representative.name + " (" + t("notify.legal") + ")", phone: c.legal_representative.phone });
      const key = LOCAL_NOTIFY_KEY + inc.id;
      const state = JSON.parse(localStorage.getItem(key) || "{}");
      box.replaceChildren(...(people.length ? people.map((p) => {
        const id = "notify-" + p.key;
        return el("li", { class: state[p.key] ? "done" : "" },
          el("input", { type: "checkbox", id, checked: Boolean(state[p.key]),
            onchange: (ev) => {
              if (ev.target.checked) state[p.key] = Date.now(); else delete state[p.key];
              localStorage.setItem(key, JSON.stringify(state));
              this.renderContacts(inc);
            } }),
          el("label", { for: id }, el("strong", {}, p.name), " ", el("a", { href: "tel:" + p.phone }, p.phone)),
          el("span", { class: "when" }, state[p.key] ? t("notify.at", { time: RL.clock(state[p.key]), who: "" }) : ""));
      }) : [el("li", { class: "empty" }, t("notify.none"))]));
    }

    // the first report upward: drafted from the incident's own data, due one hour after
    draft(inc) {
      const S = this.S;
      const active = (inc.assignments || []).filter((a) => a.status === "active");
      const tasks = inc.tasks || [];
      const done = tasks.filter((x) => x.status === "done");
      const lines = [
        t("report.title"),
        t("report.time", { time: RL.dateTime(RL.parseTime(inc.created_at)) }),
        t("report.place", { place: inc.address || (inc.location.lat.toFixed(5) + ", " + inc.location.lon.toFixed(5)) }),
        t("report.enterprise", { name: inc.enterprise ? RL.localName(inc.enterprise) : "—" }),
        t("report.kind", { kind: t("kind." + inc.kind), chemical: inc.chemical || "—",
          severity: inc.severity }),
        t("report.casualties", { n: inc.casualties || 0 }),
        t("report.level", { level: inc.response_level || "—",
          scenario: (inc.plan && inc.plan.scenario_name) || "—" }),
        t("report.forces", { n: active.length,
          units: active.map((a) => a.callsign || S.unitLabel(a.unit_id)).join("、") || "—" }),
        inc.isolation ? t("report.isolation", { r: Math.round(inc.isolation.radius_m),
          p: Math.round(inc.isolation.protective_m) }) : null,
        t("report.actions", { done: done.length, total: tasks.length,
          list: done.map((x) => x.title).join("；") || "—" }),
        t("report.reporter", { who: S.auth.username, time: RL.dateTime(Date.now()) }),
      ];
      return lines.filter(Boolean).join("\n");
    }

    // order No. 493: the first report's form, then its grade, the upward steps and follow-ups
    renderAccident(inc) {
      const box = document.getElementById("accident-report");
      const key = inc.id + ":" + JSON.stringify(inc.accident_report);
      if (!box || box.dataset.key === key) return;
      box.dataset.key = key;
      const el = RL.el;
      const url = "/incidents/" + inc.id + "/accident-report";
      const input = (name, label, type) => el("label", { class: "field" }, el("span", {}, label),
        el("input", { name, type: type || "text", min: type === "number" ? "0" : null }));
      const counts = [["dead", t("acc.dead")], ["injured", t("acc.injured")],
        ["seriously_injured", t("acc.seriously_injured")], ["missing", t("acc.missing")],
        ["direct_loss_yuan", t("acc.direct_loss_yuan")]].map(([n, l]) => input(n, l, "number"));
      const read = (form) => {
        const out = {};
        for (const f of form.querySelectorAll("input, select")) {
          if (f.value === "") continue;
          out[f.name] = f.type === "number" ? Number(f.value)
            : f.type === "datetime-local" ? new Date(f.value).toISOString() : f.value;
        }
        return out;
      };
      const r = inc.accident_report;
      const head = el("h3", {}, t("acc.title"));
      if (!r) {
        const form = el("form", { class: "accident-form" },
          input("occurred_at", t("acc.occurred_at"), "datetime-local"),
          ...[["place", t("acc.place")], ["enterprise_summary", t("acc.enterprise_summary")],
            ["account", t("acc.account")], ["measures", t("acc.measures")],
            ["reporter_name", t("acc.reporter_name")], ["reporter_phone", t("acc.reporter_phone")],
          ].map(([n, l]) => input(n, l)),
          el("label", { class: "field" }, el("span", {}, t("acc.category")),
            el("select", { name: "category" }, el("option", { value: "general" }, t("acc.general")),
              el("option", { value: "fire" }, t("acc.fire")),
              el("option", { value: "road_traffic" }, t("acc.road_traffic")))),
          ...counts,
          el("button", { type: "submit", class: "btn primary" }, t("acc.file")));
        form.addEventListener("submit", (e) => {
          e.preventDefault();
          this.call("POST", url, read(form), t("acc.filed"));
        });
        box.replaceChildren(head, form);
        return;
      }
      const grade = RL.lang === "en" ? { general: t("acc.grade_general"), larger: t("acc.grade_larger"),
        major: t("acc.grade_major"), especially_major: t("acc.grade_especially_major") }[r.grade] : r.grade_zh;
      const levels = { city: t("acc.to_city"), province: t("acc.to_province"),
        state_council: t("acc.to_state_council") };
      const steps = el("ol", { class: "checklist" }, ...r.steps.map((s) => {
        const due = RL.parseTime(s.due_at);
        return el("li", {}, levels[s.to] + " · " + (s.sent_at
          ? t("acc.sent", { time: RL.clock(RL.parseTime(s.sent_at), false), by: s.sent_by })
          : t("acc.due", { time: RL.clock(due, false) })) + (s.late ? " · " + t("acc.late") : ""),
        s.sent_at ? null : el("span", { dataset: { until: due, overdueAt: due } }),
        s.sent_at ? null : el("button", { type: "button", class: "btn", onclick: () =>
          this.call("POST", url + "/steps/" + s.to + "/sent", { recipients: s.recipients },
            t("acc.marked")) }, t("acc.mark_sent")));
      }));
      const follow = el("form", { class: "accident-form" }, ...counts,
        input("note", t("acc.note")),
        el("button", { type: "submit", class: "btn" }, t("acc.follow_up")));
      follow.addEventListener("submit", (e) => {
        e.preventDefault();
        const base = { dead: r.dead, injured: r.injured, seriously_injured: r.seriously_injured,
          missing: r.missing, direct_loss_yuan: r.direct_loss_yuan };
        this.call("POST", url + "/follow-ups", { ...base, ...read(follow) }, t("acc.followed"));
      });
      box.replaceChildren(head, el("p", {}, t("acc.summary", { grade, dead: r.dead,
        injured: r.injured, serious: r.seriously_injured, missing: r.missing,
        loss: r.direct_loss_yuan })), steps, follow);
    }

    renderReport(force) {
      const inc = this.inc;
      if (!inc) return;
      const ta = document.getElementById("first-report-text");
      const to = document.getElementById("first-report-to");
      const sent = inc.first_report;
      if (sent) {
        // what went out is the record: shown as sent, no longer editable
        ta.value = sent.text;
        to.value = sent.sent_to;
        this.draftFor = null;
      } else if (force || this.draftFor !== inc.id || !ta.value) {
        // keep the officer's edits; redraft only for another incident or when asked
        ta.value = this.draft(inc);
        if (this.draftFor !== inc.id) to.value = t("report.sent_to_default");
        this.draftFor = inc.id;
      }
      const open = !sent && inc.status === "active";
      ta.readOnly = !open;
      to.readOnly = !open;
      document.getElementById("first-report-sent").disabled = !open;
      document.getElementById("first-report-refresh").disabled = !open;
    }

    tickReport() {
      const inc = this.inc;
      const chip = document.getElementById("first-report-chip");
      const cd = document.getElementById("first-report-countdown");
      if (!inc) return;
      const due = this.S.incidentStart(inc) + FIRST_REPORT_MS;
      const sent = inc.first_report;
      let text;
      let cls;
      if (sent) {
        // the countdown stops: the hub recorded when and by whom it went out
        text = t(sent.late ? "report.sent_by_late" : "report.sent_by",
          { time: RL.clock(RL.parseTime(sent.sent_at), false), by: sent.by });
        cls = sent.late ? "warn" : "ok";
      } else if (inc.status !== "active") {
        text = t("report.not_sent");
        cls = "";
      } else {
        const left = (due - Date.now()) / 1000;
        text = left >= 0 ? t("report.due_in", { left: RL.duration(left) })
          : t("report.overdue", { late: RL.duration(-left) });
        cls = left < 0 ? "overdue" : left < 600 ? "warn" : "";
      }
      chip.textContent = text;
      chip.className = "report-chip " + cls;
      cd.textContent = text;
      cd.className = "countdown " + cls;
    }

    renderTimeline() {
      const inc = this.inc;
      const list = document.getElementById("timeline");
      if (!inc) { list.replaceChildren(); return; }
      const tl = this.S.timelines.get(inc.id);
      const events = tl ? Array.from(tl.values()).sort((a, b) => b.seq - a.seq) : [];
      list.replaceChildren(...events.map((ev) => el("li", { class: "ev ev-" + ev.type.replace(/\./g, "-"),
        dataset: { seq: ev.seq } },
      el("time", {}, RL.clock(RL.parseTime(ev.at))),
      el("span", { class: "ev-type" }, RL.tOr("ev." + ev.type, ev.type)),
      el("span", { class: "ev-text" }, this.describe(ev)))));
    }

    describe(ev) {
      const d = ev.data || {};
      const S = this.S;
      const unit = d.callsign || (d.assignment && d.assignment.callsign) ||
        (d.unit_id ? S.unitLabel(d.unit_id) : "");
      switch (ev.type) {
        case "incident.created": return d.incident && d.incident.plan
          ? d.incident.plan.scenario_name : "";
        case "assignment.created":
          return unit + " · " + t("map.eta", { eta: RL.duration(d.assignment.eta_s) });
        case "task_board": return d.assignment ? d.assignment.callsign : "";
        case "task.updated": return (d.task.unit_id ? S.unitLabel(d.task.unit_id) + " · " : "") +
          d.task.title + " → " + t("task_status." + d.task.status);
        case "unit.status": return unit + " → " + t("unit_status." + d.status);
        case "incident.escalated": return (d.from || "—") + " → " + (d.to || "—");
        case "incident.unmet": return (d.unmet || []).filter((u) => u.missing)
          .map((u) => RL.tOr("capability." + u.capability, u.capability) + "×" + u.missing)
          .join(", ");
        case "assignment.released":
        case "assignment.no_route":
          return unit + (d.reason ? " · " + reasonText(d.reason_parts, d.reason) : "");
        case "assignment.rerouted":
          return unit + " · " + t("map.eta", { eta: RL.duration(d.assignment.eta_s) }) +
            (d.reason ? " · " + reasonText(d.reason_parts, d.reason) : "");
        case "notification.checked": return d.check ? d.check.contact : "";
        case "incident.first_report": return t("report.timeline", { to: d.sent_to, by: d.by }) +
          (d.late ? " · " + t("report.late") : "");
        default: return unit;
      }
    }
  }

  RL.IncidentPanel = IncidentPanel;
  void L;
})();
