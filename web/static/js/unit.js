// The unit tablet: one unit's task board, live over Socket.IO, usable on flaky Wi-Fi.
//
// Every crew action (ack, task done, status) is first written to a queue in localStorage with
// a client-generated id, then sent in order; the server applies a repeated id once, so a send
// that timed out is simply sent again. The board shown is the server's board plus the queued
// actions on top; while the link is down the page says so and never presents it as live.
(function () {
  "use strict";
  const RL = window.RL;
  const L = window.L;
  const t = RL.t;
  const el = RL.el;

  const auth = RL.requireAuth(["unit"]);
  if (!auth) return;
  if (RL.applyUserLang(auth.username)) return;

  const KEY = "redline.unit." + auth.unit_id + ".";
  const store = {
    get(name, fallback) {
      try {
        const v = localStorage.getItem(KEY + name);
        return v === null ? fallback : JSON.parse(v);
      } catch (e) { return fallback; }
    },
    set(name, value) {
      try { localStorage.setItem(KEY + name, JSON.stringify(value)); } catch (e) { /* full */ }
    },
  };
  // server errors that mean "this will never apply": drop the action instead of retrying.
  // Anything else (a database hiccup, no answer) is retried; "unauthorized" keeps the queue
  // through a new login, since it is stored per unit.
  const FINAL_ERRORS = new Set(["invalid", "forbidden", "not_found", "incident_closed",
    "conflict"]);
  const MAX_ATTEMPTS = 6;
  // events that change what the board shows: applied in seq order, never older over newer
  const BOARD_EVENTS = new Set(["task_board", "task.updated", "assignment.acked",
    "assignment.delivered", "assignment.released", "incident.closed", "unit.status",
    "incident.escalated"]);
  const ARRIVED = new Set(["on_scene", "transporting", "returning"]);

  const reasonText = RL.reasonText;

  const S = (RL.unit = {
    auth,
    unit: null,
    board: store.get("board", null), // last board the server sent (may be stale)
    boardAt: store.get("boardAt", null),
    queue: store.get("queue", []), // [{client_id, event, payload, queued_at}]
    delivered: new Set(store.get("delivered", [])), // assignment ids receipted
    live: false, // connected AND synced since the last (re)connect
    offlineSince: store.get("offlineSince", null),
    hub: null,
    map: null,
    mapLayers: null,
    flushing: false,
    boardSeq: 0, // seq of the newest board applied (a snapshot's or a task_board event's)
    baseSeq: 0, // seq the last /board snapshot reflects: older events are already in it
    keySeq: {}, // per task / the unit's status: seq of the last event applied
  });

  function saveQueue() { store.set("queue", S.queue); renderQueueCount(); }
  function saveBoard() {
    store.set("board", S.board);
    store.set("boardAt", S.boardAt);
  }

  // ---- the crew's actions -------------------------------------------------------------------

  function enqueue(event, payload, meta) {
    const item = Object.assign({ client_id: RL.uuid(), event, payload, queued_at: Date.now() },
      meta || {});
    item.payload = Object.assign({}, payload, { client_id: item.client_id });
    S.queue.push(item);
    saveQueue();
    render();
    flush();
    return item;
  }

  // send queued actions one at a time, in order; stop at the first that cannot go out
  async function flush() {
    if (S.flushing || !S.hub || !S.hub.connected) return;
    S.flushing = true;
    try {
      while (S.queue.length && S.hub.connected) {
        const item = S.queue[0];
        let resp;
        try {
          resp = await S.hub.call(item.event, item.payload, 8000);
        } catch (e) {
          // offline or no answer: keep it, the same client_id goes again on reconnect
          setTimeout(flush, 3000);
          break;
        }
        const err = resp && resp.ok ? null : (resp && resp.error) || { code: "no_answer" };
        if (err && err.code === "unauthorized") {
          // the session ended (expired, revoked): re-reading the board sends the crew to the
          // login page on a 401, and the queue waits for them
          setTimeout(resyncBoard, 2000);
          break;
        }
        if (err && !FINAL_ERRORS.has(err.code)) {
          item.attempts = (item.attempts || 0) + 1;
          if (item.attempts < MAX_ATTEMPTS) {
            saveQueue();
            setTimeout(flush, 1000 * 2 ** item.attempts);
            break;
          }
          console.warn("action given up", item, err);
        }
        S.queue.shift();
        saveQueue();
        if (!err) applyResult(item, resp.result);
        else RL.toast(t("unit.action_refused", { detail: RL.errorText(err) }), "error");
        render();
      }
    } finally {
      S.flushing = false;
    }
  }

  // fold a command's answer into the board at once, without waiting for its event
  function applyResult(item, result) {
    if (!result || !S.board) return;
    if (item.event === "task.update") applyTask(result);
    else if (item.event === "ack" && result.id === S.board.assignment.id) {
      Object.assign(S.board.assignment, result);
      saveBoard();
    } else if (item.event === "unit.status" && S.unit) {
      Object.assign(S.unit, result);
    }
  }

  function pendingFor(event, match) {
    for (let i = S.queue.length - 1; i >= 0; i--) {
      const q = S.queue[i];
      if (q.event === event && match(q.payload, q)) return q;
    }
    return null;
  }

  function acknowledge() {
    if (!S.board || isAcked()) return;
    enqueue("ack", { incident_id: S.board.incident.id,
      assignment_id: S.board.assignment.id }, { assignment_id: S.board.assignment.id });
    stopAlarm();
  }

  function toggleTask(task) {
    const shown = taskStatus(task);
    enqueue("task.update", { task_id: task.id, status: shown === "done" ? "pending" : "done" });
  }

  // tied to the incident on the board (0: none), so a status pressed offline for one job
  // is refused, not applied, if another job reached the unit meanwhile
  function setStatus(status) {
    enqueue("unit.status", { status, incident_id: S.board ? S.board.incident.id : 0 });
  }

  // what the crew sees: the server's state, overlaid with actions not yet confirmed
  function taskStatus(task) {
    const q = pendingFor("task.update", (p) => p.task_id === task.id);
    return q ? q.payload.status : task.status;
  }
  function isAcked() {
    if (!S.board) return false;
    return Boolean(S.board.assignment.acked_at) ||
      Boolean(pendingFor("ack", (p, q) => (q.assignment_id
        ? q.assignment_id === S.board.assignment.id : p.incident_id === S.board.incident.id)));
  }
  function shownStatus() {
    const q = pendingFor("unit.status", () => true);
    return q ? q.payload.status : (S.unit ? S.unit.status : null);
  }

  // ---- events from the hub ------------------------------------------------------------------

  function applyTask(task) {
    if (!S.board || task.incident_id !== S.board.incident.id) return;
    const i = S.board.tasks.findIndex((x) => x.id === task.id);
    if (task.unit_id !== auth.unit_id) {
      if (i >= 0) S.board.tasks.splice(i, 1);
    } else if (i >= 0) S.board.tasks[i] = task;
    else S.board.tasks.push(task);
    S.board.tasks.sort((a, b) => a.order - b.order || a.id - b.id);
    saveBoard();
  }

  function setBoard(board, seq) {
    const previous = S.board;
    S.board = board;
    S.boardAt = Date.now();
    saveBoard();
    render();
    if (!board) return;
    const fresh = !previous || previous.assignment.id !== board.assignment.id;
    RL.metrics.boards[board.incident.id] = RL.metrics.boards[board.incident.id] || RL.epochMs();
    if (fresh && S.map) fitRoute();
    if (!isAcked()) startAlarm();
    sendReceipt(board, seq);
  }

  // the tablet tells the command room it has the board: once per assignment
  function sendReceipt(board, seq) {
    const aid = board.assignment.id;
    if (board.assignment.delivered_at || S.delivered.has(aid) || !S.hub) return;
    S.hub.call("delivered", { incident_id: board.incident.id, seq: seq || undefined }, 8000)
      .then((resp) => {
        if (resp && (resp.ok || FINAL_ERRORS.has((resp.error || {}).code))) {
          S.delivered.add(aid);
          store.set("delivered", Array.from(S.delivered).slice(-50));
        }
      })
      .catch(() => { /* sent again after reconnect: the board is re-read then */ });
  }

  // a board read in flight: the events that arrive meanwhile, re-applied on top of its answer
  let fetchBuffer = null;

  function onEvent(ev) {
    if (fetchBuffer && BOARD_EVENTS.has(ev.type)) fetchBuffer.push(ev);
    applyEvent(ev);
  }

  // whether ev is newer than what the board shows for key (live events and a resync's replay
  // interleave after a reconnect; an older one must never overwrite a newer one)
  function newer(key, seq) {
    if (seq <= (S.keySeq[key] || 0)) return false;
    S.keySeq[key] = seq;
    return true;
  }

  function applyEvent(ev) {
    const d = ev.data || {};
    const b = S.board;
    const mine = b && ev.incident_id === b.incident.id;
    // already part of the board on screen (a board reflects every event before its seq; the
    // unit's status is not on it, only in the /units read of the last snapshot)
    if (BOARD_EVENTS.has(ev.type) &&
        ev.seq <= (ev.type === "unit.status" ? S.baseSeq : S.boardSeq)) return;
    switch (ev.type) {
      case "task_board":
        if (d.assignment && d.assignment.unit_id === auth.unit_id) {
          S.boardSeq = ev.seq;
          setBoard(d, ev.seq);
        }
        return;
      case "task.updated":
        if (d.task && newer("task:" + d.task.id, ev.seq)) applyTask(d.task);
        break;
      case "assignment.acked":
        if (mine && d.assignment_id === b.assignment.id) {
          b.assignment.acked_at = b.assignment.acked_at || ev.at;
          b.assignment.delivered_at = b.assignment.delivered_at || ev.at;
          saveBoard();
          stopAlarm();
        }
        break;
      case "assignment.delivered":
        if (mine && d.assignment_id === b.assignment.id) {
          b.assignment.delivered_at = b.assignment.delivered_at || ev.at;
          saveBoard();
        }
        break;
      case "assignment.released":
        if (mine && d.assignment_id === b.assignment.id) {
          releaseBoard(t("unit.released", { reason: reasonText(d.reason_parts, d.reason) }));
        }
        break;
      case "incident.closed":
        if (mine) releaseBoard(t("unit.incident_closed", { id: ev.incident_id }));
        break;
      case "unit.status":
        if (d.unit_id === auth.unit_id && S.unit && newer("unit", ev.seq)) {
          S.unit.status = d.status;
          S.unit.status_since = ev.at;
        }
        break;
      case "incident.escalated":
        if (mine) {
          b.incident.response_level = d.to || b.incident.response_level;
          if (d.severity) b.incident.severity = d.severity;
          saveBoard();
        }
        break;
      default:
        return;
    }
    render();
  }

  function releaseBoard(note) {
    S.board = null;
    S.boardAt = Date.now();
    saveBoard();
    stopAlarm();
    document.getElementById("no-board-note").textContent = note;
    render();
  }

  // After (re)connecting: the server's board is the truth as of its seq; events newer than
  // that which arrived while it was read are applied again on top, in order. Then we are live.
  let syncGen = 0;
  async function resyncBoard() {
    const gen = ++syncGen;
    fetchBuffer = [];
    try {
      const [board, units] = await Promise.all([RL.api("GET", "/board"), RL.api("GET", "/units")]);
      if (gen !== syncGen) return;
      const later = fetchBuffer.filter((ev) => ev.seq > board.seq).sort((x, y) => x.seq - y.seq);
      fetchBuffer = null;
      S.unit = units.find((u) => u.id === auth.unit_id) || S.unit;
      S.baseSeq = board.seq;
      S.boardSeq = board.seq;
      S.keySeq = {};
      if (board.board) setBoard(board.board, null);
      else if (S.board) releaseBoard(t("unit.no_longer_assigned"));
      later.forEach(applyEvent);
      render();
      setLive(S.hub.connected);
      flush();
    } catch (e) {
      if (gen === syncGen) {
        fetchBuffer = null;
        setTimeout(() => { if (S.hub.connected) resyncBoard(); }, 2000);
      }
    }
  }

  // ---- alarm: full screen and a WebAudio beep until acknowledged ---------------------------

  let audio = null;
  let beepTimer = 0;
  function audioContext() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    if (!audio) audio = new AC();
    return audio;
  }
  function beep() {
    const ctx = audioContext();
    if (!ctx) return;
    if (ctx.state === "suspended") {
      ctx.resume().catch(() => {});
      document.getElementById("alert-sound").hidden = ctx.state !== "suspended";
    } else document.getElementById("alert-sound").hidden = true;
    const now = ctx.currentTime;
    // two tones, like a pager: hard to sleep through, no sound file to fetch
    [[0, 880], [0.25, 1320]].forEach(([at, freq]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(0.4, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.24);
    });
  }
  function startAlarm() {
    const box = document.getElementById("alert");
    const b = S.board;
    if (!b) return;
    document.getElementById("alert-exercise").hidden = !b.incident.exercise;
    document.getElementById("alert-what").textContent = incidentTitle(b);
    document.getElementById("alert-where").textContent = b.incident.address || "";
    document.getElementById("alert-eta").textContent = b.assignment.route
      ? t("unit.eta_line", { eta: RL.duration(b.assignment.eta_s),
        km: RL.distance(b.assignment.distance_m) })
      : t("unit.no_route");
    const wasHidden = box.hidden;
    box.hidden = false;
    document.body.classList.add("alerting");
    if (wasHidden) document.getElementById("alert-ack").focus();
    if (!beepTimer) {
      beep();
      beepTimer = setInterval(beep, 1500);
    }
  }
  function stopAlarm() {
    document.getElementById("alert").hidden = true;
    document.body.classList.remove("alerting");
    clearInterval(beepTimer);
    beepTimer = 0;
  }
  // browsers start audio only after a touch: the first touch anywhere unlocks it
  document.addEventListener("pointerdown", () => {
    const ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
  }, { capture: true });

  // ---- rendering ----------------------------------------------------------------------------

  function incidentTitle(b) {
    const inc = b.incident;
    const where = inc.enterprise ? RL.localName(inc.enterprise) : (inc.address || "");
    return "#" + inc.id + " " + t("kind." + inc.kind) + (where ? " · " + where : "");
  }

  function render() {
    const b = S.board;
    const boardEl = document.getElementById("board");
    const wasHidden = boardEl.hidden;
    document.getElementById("no-board").hidden = Boolean(b);
    boardEl.hidden = !b;
    // Leaflet measured a hidden (0×0) container: measure again once the board shows
    if (b && wasHidden && S.map) setTimeout(() => { S.map.invalidateSize(); fitRoute(); }, 0);
    renderStatus();
    renderQueueCount();
    if (!b) { drawMap(); return; }
    const inc = b.incident;
    const a = b.assignment;
    document.getElementById("board-exercise").hidden = !inc.exercise;
    document.body.classList.toggle("exercise", Boolean(inc.exercise));
    document.getElementById("b-title").textContent = incidentTitle(b);
    document.getElementById("b-address").textContent = inc.address || "";

    const created = RL.parseTime(a.created_at) || S.boardAt;
    const eta = document.getElementById("b-eta");
    // the hub found no road that avoids the hazard zone and closures: no ETA to count down
    const noRoute = !a.route || (b.notes || []).includes("no_route");
    if (ARRIVED.has(shownStatus())) {
      eta.removeAttribute("data-until");
      eta.textContent = t("unit.arrived");
    } else if (noRoute) {
      eta.removeAttribute("data-until");
      eta.textContent = "—";
    } else {
      eta.dataset.until = String(created + a.eta_s * 1000);
    }
    document.getElementById("b-distance").textContent =
      RL.distance(a.distance_m) + " · " + RL.tOr("capability." + a.capability, a.capability);

    const facts = [];
    const fact = (k, v, cls) => facts.push(el("div", { class: cls || "" }, el("dt", {}, k),
      el("dd", {}, v)));
    if (inc.chemical) fact(t("unit.hazard"), inc.chemical, "hazard");
    if (inc.isolation) {
      fact(t("unit.isolation"), Math.round(inc.isolation.radius_m) + " m", "hazard");
      fact(t("unit.protective"), Math.round(inc.isolation.protective_m) + " m");
    }
    if (inc.wind) fact(t("unit.wind"), Math.round(inc.wind.from_deg) + "°" +
      (inc.wind.speed_ms ? " " + inc.wind.speed_ms + " m/s" : ""));
    fact(t("unit.severity"), String(inc.severity));
    if (inc.response_level) fact(t("unit.level"), inc.response_level);
    if (inc.scenario_name) fact(t("unit.scenario"), inc.scenario_name);
    if (noRoute) fact(t("unit.route"), t("unit.no_route"), "hazard no-route");
    else if (a.staging) {
      // without wind the zone is a circle: the staging point is outside it, not "upwind"
      const inZone = (b.notes || []).includes("staging_in_protective_zone");
      fact(t("unit.staging"), inZone ? t("unit.staging_in_protective_zone")
        : inc.wind ? t("unit.staging_upwind") : t("unit.staging_outside"), "hazard");
      if ((b.notes || []).includes("route_crosses_protective_zone")) {
        fact(t("unit.route"), t("unit.route_crosses_protective_zone"), "hazard crossing");
      }
    }
    document.getElementById("b-hazard").replaceChildren(...facts);

    const acked = isAcked();
    const ackBtn = document.getElementById("ack");
    ackBtn.hidden = acked;
    document.getElementById("ack-state").textContent = acked
      ? (a.acked_at ? t("unit.acked_at", { time: RL.clock(RL.parseTime(a.acked_at)) })
        : t("unit.acked_pending"))
      : t("unit.ack_needed");
    document.getElementById("b-ack-row").classList.toggle("done", acked);
    if (acked) stopAlarm();

    renderTasks(b, created);
    renderCards(b);
    drawMap();
    RL.tick();
  }

  function renderTasks(b, created) {
    const list = document.getElementById("b-tasks");
    const done = b.tasks.filter((x) => taskStatus(x) === "done").length;
    document.getElementById("b-progress").textContent = b.tasks.length
      ? t("unit.progress", { done, total: b.tasks.length }) : "";
    const none = document.getElementById("b-no-tasks");
    none.hidden = b.tasks.length > 0;
    // no task of its own: the crew works with its team on the tasks of the role it fills
    const team = (b.support_tasks || []).map((x) => x.title).join("；");
    if (none.dataset.plain === undefined) none.dataset.plain = none.textContent;
    none.textContent = team ? t("unit.team_tasks", { list: team }) : none.dataset.plain;
    list.replaceChildren(...b.tasks.map((task) => {
      const status = taskStatus(task);
      const pending = Boolean(pendingFor("task.update", (p) => p.task_id === task.id));
      const due = task.deadline_s !== null && task.deadline_s !== undefined
        ? created + task.deadline_s * 1000 : null;
      return el("li", { class: "task " + status + (pending ? " unsynced" : ""),
        dataset: { taskId: task.id } },
      el("button", {
        type: "button", class: "task-btn", "aria-pressed": status === "done" ? "true" : "false",
        onclick: () => toggleTask(task),
      },
      el("span", { class: "check", "aria-hidden": "true" }, status === "done" ? "✓" : ""),
      el("span", { class: "task-text" },
        el("span", { class: "task-title" }, task.title),
        task.details ? el("span", { class: "task-details" }, task.details) : null),
      el("span", { class: "task-due" },
        status === "done"
          ? (task.done_at && !pending ? RL.clock(RL.parseTime(task.done_at), false) : "")
          : due ? el("span", { dataset: { until: due, overdueAt: due } }) : "",
        pending ? el("span", { class: "sync-mark" }, t("unit.syncing")) : null)));
    }));
  }

  function renderCards(b) {
    const box = document.getElementById("b-cards");
    const cards = b.pocket_cards || [];
    box.replaceChildren(...(cards.length ? cards.map((c) => el("details", { class: "card" },
      el("summary", {}, c.post),
      el("ol", {}, (c.steps || []).map((s) => el("li", {}, s))),
      (c.call || []).length ? el("p", {}, t("card.call") + " ",
        c.call.map((x) => el("span", { class: "call" }, x.name + " " + x.phone + " "))) : null,
      c.escape_route ? el("p", {}, t("card.escape") + " " + c.escape_route) : null,
      c.assembly_point ? el("p", {}, t("card.assembly") + " " + c.assembly_point) : null))
      : [el("p", { class: "hint" }, t("unit.no_cards"))]));
  }

  function renderStatus() {
    const st = shownStatus();
    const badge = document.getElementById("unit-status");
    badge.className = "status-badge status-" + (st || "unknown");
    badge.textContent = st ? t("unit_status." + st) : "—";
    document.getElementById("callsign").textContent = (S.unit && S.unit.callsign) || auth.username;
    RL.$$(".status-btn").forEach((btn) => {
      btn.classList.toggle("active", btn.dataset.status === st);
      btn.setAttribute("aria-pressed", btn.dataset.status === st ? "true" : "false");
    });
  }

  function renderQueueCount() {
    const q = document.getElementById("queue-count");
    q.hidden = S.queue.length === 0;
    q.textContent = t("unit.queued", { n: S.queue.length });
  }

  // ---- connection state: never present a board as live unless it is -------------------------

  function setLive(live) {
    S.live = live;
    const conn = document.getElementById("conn");
    const banner = document.getElementById("offline-banner");
    const staleNote = document.getElementById("board-stale");
    if (live) {
      S.offlineSince = null;
      store.set("offlineSince", null);
      conn.className = "conn online";
      conn.textContent = t("conn.live");
      banner.hidden = true;
      staleNote.hidden = true;
      document.body.classList.remove("stale");
      return;
    }
    if (!S.offlineSince) {
      S.offlineSince = Date.now();
      store.set("offlineSince", S.offlineSince);
    }
    conn.className = "conn offline";
    conn.textContent = S.hub && S.hub.connected ? t("conn.syncing") : t("conn.offline");
    banner.textContent = t("unit.offline_since", { time: RL.clock(S.offlineSince, false) }) +
      (S.queue.length ? " · " + t("unit.queued", { n: S.queue.length }) : "");
    banner.hidden = false;
    staleNote.hidden = !S.board;
    staleNote.textContent = t("unit.board_as_of", { time: RL.clock(S.boardAt) });
    document.body.classList.add("stale");
  }

  // ---- the small route map ------------------------------------------------------------------

  async function setupMap() {
    S.map = await RL.createMap("route-map", { zoomControl: true, attributionControl: true });
    S.mapLayers = L.layerGroup().addTo(S.map);
    drawMap();
    fitRoute();
  }

  function drawMap() {
    if (!S.map) return;
    const g = S.mapLayers;
    g.clearLayers();
    const b = S.board;
    if (S.unit && S.unit.position && S.unit.position.lat !== null) {
      L.marker([S.unit.position.lat, S.unit.position.lon], {
        icon: RL.unitIcon({ callsign: S.unit.callsign, status: shownStatus() }, true),
        keyboard: false, zIndexOffset: 1000 }).addTo(g);
    }
    if (!b) return;
    RL.hazardLayer(b.incident).addTo(g);
    const a = b.assignment;
    if (a.route && a.route.coordinates) {
      L.geoJSON(a.route, { style: { color: "#1864ab", weight: 7, opacity: 0.85 } }).addTo(g);
    }
    if (a.staging) L.marker([a.staging.lat, a.staging.lon], { icon: RL.stagingIcon() }).addTo(g);
    L.marker([b.incident.location.lat, b.incident.location.lon], {
      icon: RL.incidentIcon(b.incident, true), keyboard: false }).addTo(g);
  }

  function fitRoute() {
    if (!S.map || !S.board) return;
    const a = S.board.assignment;
    const pts = a.route && a.route.coordinates
      ? a.route.coordinates.map((c) => [c[1], c[0]]) : [];
    pts.push([S.board.incident.location.lat, S.board.incident.location.lon]);
    S.map.fitBounds(L.latLngBounds(pts).pad(0.15), { maxZoom: 16 });
  }

  // ---- position: the tablet's GPS keeps the unit's position current for dispatch ------------

  let fix = null; // newest {lat, lon, at} from the GPS
  let lastFix = null; // the one last sent
  function metresBetween(a, b) {
    const ky = 111320;
    const kx = ky * Math.cos((a.lat * Math.PI) / 180);
    return Math.hypot((a.lat - b.lat) * ky, (a.lon - b.lon) * kx);
  }
  function onFix(pos) {
    fix = { lat: pos.coords.latitude, lon: pos.coords.longitude, at: Date.now() };
    sendFix();
  }
  // at most every 10 s unless the unit moved 100 m; never queued: only the newest matters,
  // and it goes out again after each (re)connect
  function sendFix() {
    // socket.connected: hello is handled before the client's own "connect" listeners run
    if (!fix || !S.hub || !S.hub.socket.connected) return;
    if (lastFix && fix.at - lastFix.at < 10000 && metresBetween(fix, lastFix) < 100) return;
    const sent = (lastFix = fix);
    S.hub.call("position", { lat: sent.lat, lon: sent.lon }, 8000).then((resp) => {
      if (resp && resp.ok && S.unit) {
        S.unit.position = { lat: sent.lat, lon: sent.lon };
        drawMap();
      }
    }).catch(() => { lastFix = null; });
  }
  function watchPosition() {
    if (!navigator.geolocation) return;
    navigator.geolocation.watchPosition(onFix, () => { /* no fix or no permission */ },
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 });
  }

  // ---- start --------------------------------------------------------------------------------

  async function start() {
    await RL.ready;
    RL.bindLangButton(document.getElementById("lang-switch"));
    document.getElementById("logout").addEventListener("click", async () => {
      if (S.queue.length && !(await RL.confirm(t("unit.logout_queued", { n: S.queue.length })))) {
        return;
      }
      RL.logout();
    });
    document.getElementById("ack").addEventListener("click", acknowledge);
    document.getElementById("alert-ack").addEventListener("click", acknowledge);
    RL.$$(".status-btn").forEach((btn) => btn.addEventListener("click", () => {
      if (btn.dataset.status !== shownStatus()) setStatus(btn.dataset.status);
    }));
    const clock = document.getElementById("clock");
    RL.onTick((now) => { clock.textContent = RL.clock(now, false); });
    RL.startTicker();
    setLive(false);
    render();

    S.hub = RL.connectHub({
      initialSeq: store.get("lastSeq", 0),
      onSeq: (seq) => store.set("lastSeq", seq),
      onHello: () => { lastFix = null; resyncBoard(); sendFix(); },
      onEvent,
      onStatus: (up) => {
        if (!up) { syncGen++; fetchBuffer = null; setLive(false); }
      },
      onError: (err) => console.warn("hub error", err),
    });
    // the OS knows first when Wi-Fi drops or returns; don't wait for a ping timeout
    window.addEventListener("offline", () => { S.hub.socket.disconnect(); setLive(false); });
    window.addEventListener("online", () => { if (!S.hub.socket.connected) S.hub.socket.connect(); });
    setTimeout(() => { if (!S.live) setLive(false); }, 5000);
    setupMap().catch((e) => console.warn("map", e));
    watchPosition();
  }

  start();
})();
