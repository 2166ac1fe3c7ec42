// Replay of an incident's event log on the Leaflet map, 1× to 60×.
(function () {
  "use strict";
  const { api, el, secs, t } = window.Trainer;
  const STATUS_COLOURS = {
    dispatched: "#f59e0b", en_route: "#3b82f6", on_scene: "#16a34a",
    available: "#6b7280", out_of_service: "#111827", returning: "#8b5cf6", transporting: "#ec4899",
  };
  let map = null;
  let layer = null;
  let data = null;
  let playhead = 0;
  let applied = 0;
  let playing = false;
  let lastFrame = null;
  let state = null;

  async function ensureMap() {
    if (map) return;
    map = L.map("replay-map", { preferCanvas: true });
    const info = await api("GET", "/map/info");
    const [w, s, e, n] = info.bbox;
    map.fitBounds([[s, w], [n, e]]);
    if (info.tile_url) {
      L.tileLayer(info.tile_url, { attribution: info.attribution, maxZoom: 19 }).addTo(map);
    } else {
      const roads = await api("GET", "/map/roads");
      L.geoJSON(roads, { style: { color: "#9ca3af", weight: 1 }, interactive: false }).addTo(map);
      map.attributionControl.addAttribution(info.attribution);
    }
    layer = L.layerGroup().addTo(map);
  }

  function reset() {
    layer.clearLayers();
    state = { units: {}, tasks: {}, routes: {} };
    applied = 0;
    document.getElementById("replay-log").replaceChildren();
    const inc = data.incident;
    if (inc) {
      L.circleMarker([inc.location.lat, inc.location.lon], { radius: 9, color: "#dc2626", fillOpacity: 0.6 })
        .bindTooltip((inc.exercise ? t("exercise") + " · " : "") + "#" + inc.id, { permanent: true })
        .addTo(layer);
    }
  }

  function unitMarker(id) {
    if (state.units[id]) return state.units[id];
    const info = data.units[id] || {};
    const start = info.start || (data.incident ? data.incident.location : { lat: 0, lon: 0 });
    const m = L.circleMarker([start.lat, start.lon], { radius: 7, color: STATUS_COLOURS.dispatched, fillOpacity: 0.9 })
      .bindTooltip(info.callsign || String(id), { permanent: true, direction: "right" })
      .addTo(layer);
    state.units[id] = m;
    return m;
  }

  function logLine(f) {
    const d = f.data || {};
    const who = d.callsign || (d.assignment && d.assignment.callsign) || (d.task && d.task.title) || d.type || "";
    const named = window.TrainerI18n.named;
    const extra = d.status ? named("unit_status.", d.status)
      : (d.task && d.task.status ? named("task_status.", d.task.status) : "");
    const li = el("li", {}, el("span", { class: "mono", text: secs(f.t) + " " }),
      named("ev.", f.type) + " ", who + " ", extra);
    const log = document.getElementById("replay-log");
    log.prepend(li);
    while (log.children.length > 200) log.lastChild.remove();
  }

  // seconds since the incident started of an ISO time in a task's view (null if absent)
  function sinceStart(iso) {
    return iso ? (new Date(iso).getTime() - new Date(data.start).getTime()) / 1000 : null;
  }

  // a task as an event shows it; its times come from its own fields (created, done), so a
  // board re-sent later never moves them
  function taskSeen(task, f) {
    const before = state.tasks[task.id];
    const created = sinceStart(task.created_at);
    const done = task.status === "done" ? (sinceStart(task.done_at) ?? f.t) : null;
    state.tasks[task.id] = {
      ...task,
      created_t: before ? before.created_t : (created ?? f.t),
      done_t: done,
    };
  }

  function apply(f) {
    const d = f.data || {};
    if (f.type === "assignment.created") {
      const a = d.assignment;
      unitMarker(String(a.unit_id));
      if (a.route) {
        state.routes[a.id] = L.geoJSON(a.route, { style: { color: "#3b82f6", weight: 2, opacity: 0.5, dashArray: "4 4" } }).addTo(layer);
      }
    } else if (f.type === "unit.position") {
      unitMarker(String(d.unit_id)).setLatLng([d.lat, d.lon]);
    } else if (f.type === "unit.status") {
      if (data.units[String(d.unit_id)] || state.units[String(d.unit_id)]) {
        unitMarker(String(d.unit_id)).setStyle({ color: STATUS_COLOURS[d.status] || "#6b7280" });
      }
    } else if (f.type === "assignment.released") {
      const r = state.routes[d.assignment_id];
      if (r) r.remove();
    } else if (f.type === "task_board") {
      for (const task of d.tasks || []) taskSeen(task, f);
    } else if (f.type === "task.updated") {
      taskSeen(d.task, f);
    }
    if (f.type !== "unit.position") logLine(f);
  }

  function renderTasks() {
    const items = Object.values(state.tasks).sort((a, b) => a.order - b.order || a.id - b.id);
    document.getElementById("replay-tasks").replaceChildren(...items.map((task) => {
      const due = task.deadline_s !== null && task.deadline_s !== undefined ? task.created_t + task.deadline_s : null;
      const left = due !== null ? due - playhead : null;
      const done = task.status === "done";
      const late = done ? (due !== null && task.done_t > due) : (left !== null && left < 0);
      return el("li", { class: (done ? "done " : "") + (late ? "late" : "") },
        (done ? "☑ " : "☐ ") + task.title,
        el("span", { class: "mono", text: due === null ? "" : " " + (done ? secs(task.done_t) : secs(left)) }));
    }));
  }

  function seek(to) {
    if (to < playhead) reset();
    playhead = to;
    while (applied < data.events.length && data.events[applied].t <= playhead) {
      apply(data.events[applied]);
      applied += 1;
    }
    renderTasks();
    // at the end the slider sits at its end too (its max is the duration rounded up)
    document.getElementById("replay-seek").value = String(playhead >= data.duration_s
      ? Math.ceil(data.duration_s) : Math.floor(playhead));
    document.getElementById("replay-clock").textContent = secs(playhead) + " / " + secs(data.duration_s);
  }

  function frame(ts) {
    if (!playing) return;
    if (lastFrame !== null) {
      const speed = Number(document.getElementById("replay-speed").value);
      const next = Math.min(data.duration_s, playhead + ((ts - lastFrame) / 1000) * speed);
      seek(next);
      if (next >= data.duration_s) {
        playing = false;
        return;
      }
    }
    lastFrame = ts;
    requestAnimationFrame(frame);
  }

  async function load(incidentId) {
    const id = incidentId || Number(document.getElementById("replay-incident").value);
    if (!id) return;
    document.getElementById("replay-incident").value = id;
    await ensureMap();
    data = await api("GET", "/incidents/" + id + "/playback");
    playing = false;
    playhead = 0;
    reset();
    document.getElementById("replay-seek").max = String(Math.ceil(data.duration_s || 0));
    seek(0);
    document.getElementById("replay").scrollIntoView({ behavior: "smooth" });
  }

  function live(ev) {
    // while watching the live incident at its end, append new events as they come
    if (!data || !data.incident || ev.incident_id !== data.incident.id || playing) return;
    if (playhead < data.duration_s) return;
    const start = new Date(data.start).getTime();
    const f = { t: (new Date(ev.at).getTime() - start) / 1000, seq: ev.seq, type: ev.type, data: ev.data };
    data.events.push(f);
    data.duration_s = Math.max(data.duration_s, f.t);
    document.getElementById("replay-seek").max = String(Math.ceil(data.duration_s));
    seek(data.duration_s);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("replay-load").addEventListener("click", () => load().catch((e) => {
      document.getElementById("action-error").textContent = e.message;
    }));
    document.getElementById("replay-play").addEventListener("click", () => {
      if (!data) return;
      if (playhead >= data.duration_s) seek(0);
      playing = !playing;
      lastFrame = null;
      if (playing) requestAnimationFrame(frame);
    });
    document.getElementById("replay-seek").addEventListener("input", (ev) => {
      if (data) seek(Number(ev.target.value));
    });
  });

  window.TrainerReplay = { load, live };
})();
