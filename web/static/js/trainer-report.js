// The after-action report of one drill: summary, SVG timeline, timings, late items, improvements.
(function () {
  "use strict";
  const { api, el, secs, when, t } = window.Trainer;
  const SVG = "http://www.w3.org/2000/svg";
  const drillId = Number(document.body.dataset.drillId);
  let current = null;

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function outcome(status, lateBy) {
    const cls = { met: "ok", late: "bad", missed: "bad", open: "muted", released: "muted" }[status] || "";
    return el("span", { class: "pill " + cls, text: (t(status) || status) + (lateBy ? " +" + secs(lateBy) : "") });
  }

  function chart(rep) {
    const rows = [];
    for (const u of rep.units) {
      rows.push({ label: u.callsign, start: u.dispatched_s, mid: u.en_route_s, end: u.on_scene_s,
                  due: u.deadline_s !== null ? u.dispatched_s + u.deadline_s : null, status: u.status });
    }
    for (const task of rep.tasks) {
      rows.push({ label: task.title, start: task.created_s, mid: null, end: task.done_s, due: task.due_s,
                  status: task.status, task: true });
    }
    const span = Math.max(60, rep.as_of_s || 0, ...rows.map((r) => Math.max(r.end || 0, r.due || 0)));
    const left = 180, width = 760, rowH = 22, top = 24;
    const x = (s) => left + (s / span) * width;
    const root = svg("svg", { viewBox: "0 0 " + (left + width + 20) + " " + (top + rows.length * rowH + 10),
                              class: "timeline", role: "img" });
    const stepMin = Math.max(1, Math.ceil(span / 60 / 10));
    for (let m = 0; m * 60 <= span; m += stepMin) {
      root.append(svg("line", { x1: x(m * 60), x2: x(m * 60), y1: top - 6, y2: top + rows.length * rowH, class: "grid" }));
      root.append(svg("text", { x: x(m * 60), y: 14, class: "axis" }, m + " " + t("minutes")));
    }
    rows.forEach((r, i) => {
      const y = top + i * rowH;
      root.append(svg("text", { x: left - 6, y: y + 15, class: "label" + (r.task ? " task" : "") }, r.label.slice(0, 28)));
      const end = r.end !== null ? r.end : (rep.as_of_s || span);
      if (r.start !== null) {
        if (r.mid !== null && r.mid !== undefined) {
          root.append(svg("rect", { x: x(r.start), y: y + 4, width: Math.max(1, x(r.mid) - x(r.start)), height: 14, class: "bar turnout" }));
          root.append(svg("rect", { x: x(r.mid), y: y + 4, width: Math.max(1, x(end) - x(r.mid)), height: 14, class: "bar travel " + r.status }));
        } else {
          root.append(svg("rect", { x: x(r.start), y: y + 4, width: Math.max(1, x(end) - x(r.start)), height: 14, class: "bar " + (r.task ? "taskbar " : "travel ") + r.status }));
        }
      }
      if (r.due !== null && r.due !== undefined) {
        root.append(svg("line", { x1: x(r.due), x2: x(r.due), y1: y + 1, y2: y + rowH - 1, class: "deadline" }));
      }
    });
    document.getElementById("chart").replaceChildren(root);
  }

  function cmpCell(c) {
    if (!c || !c.ack_s) return t("none");
    const parts = [];
    for (const k of ["ack_s", "response_s"]) {
      const v = c[k];
      if (v && v.before !== null) parts.push(t(k === "ack_s" ? "ack" : "response") + " " + t("before") + " " + secs(v.before) + " (" + (v.delta > 0 ? "+" : "") + secs(v.delta) + ")");
    }
    return parts.join("; ") || t("none");
  }

  function render(data) {
    current = data;
    const d = data.drill;
    const rep = data.report;
    if (!rep) {
      document.getElementById("report-error").textContent = t("not_sprung");
      return;
    }
    const score = rep.score;
    const sum = [
      [t("status"), t(d.status)], [t("incident"), "#" + rep.incident_id],
      [t("scenario"), (d.sprung ? (d.sprung.enterprise_name || "") + " · " : "") + (rep.scenario_name || "")],
      [t("reported_at"), when(rep.reported_at)], [t("report_to_dispatch"), secs(rep.report_to_dispatch_s)],
      [t("revealed"), when(d.revealed_at)],
      [t("score"), score.value === null ? t("none") : score.value + " / 100"],
    ];
    for (const [name, c] of Object.entries(score.components)) {
      sum.push([name + " (" + Math.round(c.weight * 100) + "%)", c.share === null ? t("none") : c.met + " / " + c.counted]);
    }
    document.getElementById("summary-list").replaceChildren(...sum.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
    document.getElementById("rules").replaceChildren(...score.rules.map((r) => el("li", { text: r })));
    chart(rep);
    const cmpUnits = (data.comparison && data.comparison.units) || {};
    document.getElementById("unit-rows").replaceChildren(...rep.units.map((u) => el("tr", {},
      el("td", { text: u.callsign }), el("td", { text: u.capability }),
      el("td", {}, secs(u.ack_s), " ", outcome(u.ack_status, u.ack_late_by_s)),
      el("td", { text: secs(u.turnout_s) }), el("td", { text: secs(u.travel_s) }),
      el("td", { text: secs(u.response_s) }), el("td", { text: secs(u.deadline_s) }),
      el("td", {}, outcome(u.status, u.late_by_s), u.release_reason ? el("div", { class: "muted", text: window.TrainerI18n.reason(u.release_reason_parts, u.release_reason) }) : null),
      el("td", { class: "muted", text: cmpCell(cmpUnits[String(u.unit_id)]) }))));
    document.getElementById("task-rows").replaceChildren(...rep.tasks.map((task) => el("tr", {},
      el("td", { text: task.title }), el("td", { text: task.callsign || t("none") }),
      el("td", { text: secs(task.created_s) }), el("td", { text: secs(task.deadline_s) }),
      el("td", { text: secs(task.done_s) }), el("td", {}, outcome(task.status, task.late_by_s)))));
    document.getElementById("notification-rows").replaceChildren(...rep.notifications.map((n) => el("tr", {},
      el("td", { text: n.contact }), el("td", { text: secs(n.notified_s) }),
      el("td", {}, outcome(n.status, n.late_by_s)))));
    const late = rep.late.map((x) => el("li", {}, el("strong", { text: t(x.what.replace(/ /g, "_")) + " · " + x.who + " " }),
      outcome(x.status, x.late_by_s)));
    document.getElementById("late-list").replaceChildren(...(late.length ? late : [el("li", { text: t("nothing_late") })]));
    document.getElementById("preempted-list").replaceChildren(...rep.preempted.map((p) => el("li", { text: secs(p.at_s) + " " + (p.callsign || p.unit_id) })));
    const county = data.comparison ? data.comparison.county : null;
    document.getElementById("county-compare").replaceChildren(el("p", {},
      t("county_before") + ": " + (county && county.mean_before !== null ? county.mean_before : t("none")) +
      (county && county.delta !== null ? " · " + t("delta") + " " + (county.delta > 0 ? "+" : "") + county.delta : "")),
      el("ul", {}, ...(county ? county.previous : []).map((p) => el("li", { text: "#" + (p.drill_id || p.incident_id) + " " + when(p.reported_at) + ": " + p.score }))));
    document.getElementById("improvement-list").replaceChildren(...data.improvements.map((m) => el("li", {},
      m.text, el("span", { class: "muted", text: (m.owner ? " · " + m.owner : "") + (m.due ? " · " + m.due : "") }))));
  }

  async function load() {
    try {
      render(await api("GET", "/drills/" + drillId + "/report"));
    } catch (e) {
      document.getElementById("report-error").textContent = e.message;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("print").addEventListener("click", () => window.print());
    document.getElementById("export-csv").addEventListener("click", () =>
      window.Trainer.download("/drills/" + drillId + "/report.csv", "drill-" + drillId + "-report.csv")
        .catch((e) => { document.getElementById("report-error").textContent = e.message; }));
    document.getElementById("improvement-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = ev.target;
      try {
        await api("POST", "/drills/" + drillId + "/improvements", { text: f.text.value, owner: f.owner.value, due: f.due.value || null });
        f.reset();
        await load();
      } catch (e) {
        document.getElementById("report-error").textContent = e.message;
      }
    });
    document.addEventListener("trainer:lang", () => { if (current) render(current); });
    window.Trainer.initLogin(load);
  });
})();
