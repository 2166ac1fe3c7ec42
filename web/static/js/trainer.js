// The trainer's console: schedule blind drills, watch them, inject, reveal, end, replay.
(function () {
  "use strict";
  const { api, el, secs, when, t } = window.Trainer;
  const INJECT_TYPES = ["explosion", "casualties", "road_blocked", "unit_breakdown"];
  const INJECT_EXAMPLES = {
    explosion: "{}",
    casualties: '{"count": 3}',
    road_blocked: '{"geometry": {"type": "LineString", "coordinates": [[0, 0], [0, 0]]}}',
    unit_breakdown: '{"unit_id": 1}',
  };
  let drills = [];
  let socket = null;
  let refreshTimer = null;

  function isoLocal(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  function fill(select, items, label) {
    select.replaceChildren(...items.map((it) => el("option", { value: it.id, text: label(it) })));
  }

  async function loadOptions() {
    const [enterprises, units, stations] = await Promise.all([
      api("GET", "/enterprises"), api("GET", "/units"), api("GET", "/stations")]);
    const f = document.getElementById("drill-form");
    fill(f.enterprises, enterprises, (e) => {
      const sc = e.plan && e.plan.current ? e.plan.current.scenarios.map((s) => s.id).join(", ") : "";
      return e.name + (sc ? " [" + sc + "]" : "");
    });
    fill(f.units, units, (u) => u.callsign + " (" + u.kind + ")");
    fill(f.stations, stations, (s) => s.name + (s.alt_name ? " / " + s.alt_name : ""));
    const now = new Date();
    f.start.value = isoLocal(now);
    f.end.value = isoLocal(new Date(now.getTime() + 7 * 24 * 3600 * 1000));
  }

  function addInjectRow() {
    const type = el("select", { name: "type" }, ...INJECT_TYPES.map((x) => el("option", { value: x, text: t("inject." + x) })));
    const data = el("input", { name: "data", value: INJECT_EXAMPLES.explosion });
    type.addEventListener("change", () => { data.value = INJECT_EXAMPLES[type.value]; });
    const row = el("tr", {},
      el("td", {}, el("input", { name: "at_s", type: "number", min: "0", value: "300" })),
      el("td", {}, type), el("td", {}, data),
      el("td", {}, el("button", { type: "button", text: "✕", onclick: () => row.remove() })));
    document.getElementById("inject-rows").append(row);
  }

  function selected(select) {
    const ids = [...select.selectedOptions].map((o) => Number(o.value));
    return ids.length ? ids : null;
  }

  async function submit(ev) {
    ev.preventDefault();
    const f = ev.target;
    const err = document.getElementById("form-error");
    err.textContent = "";
    try {
      const spill = [];
      if (f.spill_small.checked) spill.push("small");
      if (f.spill_large.checked) spill.push("large");
      const scen = f.scenarios.value.split(",").map((s) => s.trim()).filter(Boolean);
      const injects = [...document.querySelectorAll("#inject-rows tr")].map((row) => ({
        at_s: Number(row.querySelector("[name=at_s]").value),
        type: row.querySelector("[name=type]").value,
        data: JSON.parse(row.querySelector("[name=data]").value || "{}"),
      }));
      await api("POST", "/drills", {
        title: f.title.value,
        window: { start: new Date(f.start.value).toISOString(), end: new Date(f.end.value).toISOString() },
        enterprise_ids: selected(f.enterprises),
        unit_ids: selected(f.units),
        station_ids: selected(f.stations),
        scenario_ids: scen.length ? scen : null,
        variations: {
          severity: [Number(f.sev_lo.value), Number(f.sev_hi.value)],
          casualties: [Number(f.cas_lo.value), Number(f.cas_hi.value)],
          wind: { from_deg: [Number(f.wd_lo.value), Number(f.wd_hi.value)],
                  speed_ms: [Number(f.ws_lo.value), Number(f.ws_hi.value)] },
          spill,
        },
        injects,
      });
      document.getElementById("inject-rows").replaceChildren();
      await refresh();
    } catch (e) {
      err.textContent = e.message;
    }
  }

  async function act(drill, action, extra) {
    const err = document.getElementById("action-error");
    err.textContent = "";
    if (action === "end" && !window.confirm(t("confirm_end"))) return;
    try {
      await api("POST", "/drills/" + drill.id + "/" + action + (extra || ""));
      await refresh();
    } catch (e) {
      err.textContent = "#" + drill.id + ": " + e.message;
    }
  }

  function injectList(d) {
    if (!d.injects.length) return null;
    return el("ul", { class: "inject-list" }, ...d.injects.map((i) => el("li", {},
      el("span", { class: "mono", text: "+" + secs(i.at_s) + " " + t("inject." + i.type) + " " }),
      i.applied_at
        ? el("span", { class: "ok", text: t("applied") + " " + when(i.applied_at) + (i.outcome ? " · " + window.TrainerI18n.reason(i.outcome_parts, i.outcome) : "") })
        : el("span", {}, el("span", { class: "muted", text: t("pending") + (i.due_at ? " " + when(i.due_at) : "") + " " }),
            d.status === "running" && !d.paused
              ? el("button", { type: "button", text: t("fire"), onclick: () => act(d, "injects/" + i.index + "/fire") })
              : null))));
  }

  function row(d) {
    const live = d.status === "running";
    const buttons = [];
    if (d.incident_id && !d.revealed_at && live) buttons.push(el("button", { type: "button", text: t("reveal"), onclick: () => act(d, "reveal") }));
    if (live && !d.paused) buttons.push(el("button", { type: "button", text: t("pause"), onclick: () => act(d, "pause") }));
    if (live && d.paused) buttons.push(el("button", { type: "button", text: t("resume"), onclick: () => act(d, "resume") }));
    if (d.status === "scheduled" || live) buttons.push(el("button", { type: "button", class: "danger", text: t("end"), onclick: () => act(d, "end") }));
    if (d.incident_id) {
      buttons.push(el("a", { href: "/trainer/drills/" + d.id + "/report", text: t("report") }));
      buttons.push(el("a", { href: "/trainer/drills/" + d.id + "/evaluate", text: t("evaluate") }));
      buttons.push(el("a", { href: "/trainer/drills/" + d.id + "/evaluation", text: t("evaluation") }));
      buttons.push(el("button", { type: "button", text: t("replay"), onclick: () => window.TrainerReplay.load(d.incident_id) }));
    }
    const sprung = d.sprung ? " · " + (d.sprung.enterprise_name || "") + " · " + (d.sprung.scenario_name || d.sprung.scenario_id || "") : "";
    return el("tr", { class: "status-" + d.status },
      el("td", { text: d.id }),
      el("td", {}, d.title || "", el("small", { class: "muted", text: sprung }), injectList(d)),
      el("td", {}, el("span", { class: "pill " + d.status, text: t(d.status) }),
        d.paused ? el("span", { class: "pill paused", text: t("paused") }) : null,
        d.revealed_at ? el("div", { class: "muted", text: t("revealed") + " " + when(d.revealed_at) }) : null,
        d.note ? el("div", { class: "muted", text: d.note }) : null),
      el("td", { text: when(d.window.start) + " – " + when(d.window.end) }),
      el("td", { text: when(d.due_at) }),
      el("td", { text: d.incident_id || t("none") }),
      el("td", { text: d.score === null || d.score === undefined ? t("none") : d.score }),
      el("td", { class: "actions" }, ...buttons));
  }

  function render() {
    document.getElementById("drill-rows").replaceChildren(...drills.map(row));
  }

  async function refresh() {
    drills = await api("GET", "/drills");
    render();
  }

  function connect() {
    if (socket || typeof io === "undefined") return;
    socket = io("/hub", { auth: { token: window.Trainer.token() }, transports: ["websocket", "polling"] });
    // a trainer hears exercise events only: any of them may change a drill's row
    socket.on("event", (ev) => {
      if (ev.type.startsWith("drill.") || ev.type === "incident.created" || ev.type === "incident.closed") refresh();
      window.TrainerReplay.live(ev);
    });
  }

  async function ready() {
    try {
      await loadOptions();
      await refresh();
      connect();
      if (!refreshTimer) refreshTimer = setInterval(() => refresh().catch(() => {}), 5000);
    } catch (e) {
      document.getElementById("action-error").textContent = e.message;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("drill-form").addEventListener("submit", submit);
    document.getElementById("add-inject").addEventListener("click", addInjectRow);
    document.addEventListener("trainer:lang", render);
    window.Trainer.initLogin(ready);
  });
})();
