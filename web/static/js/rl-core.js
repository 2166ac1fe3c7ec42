// Shared by every Redline page: language, login state, the REST API, the Socket.IO hub,
// time formatting and small DOM helpers. Everything hangs off window.RL.
(function () {
  "use strict";
  const RL = (window.RL = window.RL || {});
  const body = document.body;
  const AUTH_KEY = "redline.auth";
  const LANG_KEY = "redline.lang";
  const LANG_COOKIE = "redline_lang";

  // ---- language -------------------------------------------------------------------------

  RL.lang = body.dataset.lang || "zh-CN";
  RL.languages = ["zh-CN", "en"];
  let catalogue = {};
  const missing = new Set();

  RL.ready = fetch(body.dataset.i18nUrl, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : {}))
    .then((c) => { catalogue = c || {}; })
    .catch(() => { catalogue = {}; });

  function interpolate(s, vars) {
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined && vars[k] !== null
      ? String(vars[k]) : m));
  }

  // RL.t(key, vars): every key a script uses lives in static/i18n/<lang>.json
  RL.t = function (key, vars) {
    if (Object.prototype.hasOwnProperty.call(catalogue, key)) {
      return interpolate(catalogue[key], vars);
    }
    if (!missing.has(key)) { missing.add(key); console.warn("i18n: no string for", key); }
    return interpolate(key, vars);
  };
  // for names that come from data (capabilities, plan terms): the raw value if untranslated
  // server-made reasons (match, release, isolation source, cover gap) come as English text plus
  // parts [{code, params}]: render the parts through "reason.<code>"; the text if one is unknown
  const REASON_PARAM_FAMILIES = { kind: "kind.", capability: "capability.", status: "unit_status." };
  RL.reasonText = function (parts, fallback) {
    if (!parts || !parts.length) return fallback || "";
    const out = [];
    for (const p of parts) {
      const vars = Object.assign({}, p.params);
      for (const [name, prefix] of Object.entries(REASON_PARAM_FAMILIES)) {
        if (typeof vars[name] === "string") vars[name] = RL.tOr(prefix + vars[name], vars[name]);
      }
      const s = RL.tOr("reason." + p.code, null, vars);
      if (s === null) return fallback || "";
      out.push(s);
    }
    return out.join(RL.t("reason.separator"));
  };

  RL.tOr = function (key, fallback, vars) {
    if (Object.prototype.hasOwnProperty.call(catalogue, key)) {
      return interpolate(catalogue[key], vars);
    }
    return fallback;
  };
  RL.missingKeys = () => Array.from(missing);

  function userLangKey(username) { return LANG_KEY + ".user." + username; }

  RL.rememberLang = function (lang, username) {
    try {
      localStorage.setItem(LANG_KEY, lang);
      if (username) localStorage.setItem(userLangKey(username), lang);
    } catch (e) { /* private mode: the cookie still carries it */ }
    document.cookie = LANG_COOKIE + "=" + encodeURIComponent(lang) +
      "; path=/; max-age=31536000; SameSite=Strict";
  };
  RL.preferredLang = function (username) {
    try {
      return (username && localStorage.getItem(userLangKey(username))) ||
        localStorage.getItem(LANG_KEY) || null;
    } catch (e) { return null; }
  };
  // the server renders the page in the cookie's language: switch = remember + reload
  RL.switchLang = function (lang) {
    const auth = RL.auth.get();
    RL.rememberLang(lang, auth && auth.username);
    location.reload();
  };
  // a user's remembered language wins over whoever used this browser before
  RL.applyUserLang = function (username) {
    const want = RL.preferredLang(username);
    if (want && RL.languages.includes(want) && want !== RL.lang) {
      RL.rememberLang(want, username);
      location.reload();
      return true;
    }
    return false;
  };
  RL.bindLangButton = function (el) {
    if (!el) return;
    const other = RL.lang === "en" ? "zh-CN" : "en";
    el.addEventListener("click", () => RL.switchLang(other));
  };

  // ---- login state ----------------------------------------------------------------------

  RL.auth = {
    get() {
      try {
        const a = JSON.parse(sessionStorage.getItem(AUTH_KEY) || "null");
        if (a && a.expires_at && a.expires_at < Date.now()) return null;
        return a;
      } catch (e) { return null; }
    },
    set(a) { sessionStorage.setItem(AUTH_KEY, JSON.stringify(a)); },
    clear() { sessionStorage.removeItem(AUTH_KEY); },
  };

  RL.toLogin = function () {
    const next = location.pathname + location.search;
    location.replace("/login?next=" + encodeURIComponent(next));
  };

  RL.homeFor = function (role) {
    if (role === "unit") return "/unit";
    if (role === "trainer") return "/trainer";
    return "/";
  };

  // the page's allowed roles; anyone else is sent to their own page or to the login
  RL.requireAuth = function (roles) {
    const a = RL.auth.get();
    if (!a || !a.token) { RL.toLogin(); return null; }
    if (roles && !roles.includes(a.role)) { location.replace(RL.homeFor(a.role)); return null; }
    return a;
  };

  RL.logout = async function () {
    try { await RL.api("POST", "/auth/logout"); } catch (e) { /* token gone anyway */ }
    RL.auth.clear();
    location.replace("/login");
  };

  // ---- REST -----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }
  RL.ApiError = ApiError;

  RL.api = async function (method, path, data) {
    const a = RL.auth.get();
    const headers = { Accept: "application/json" };
    if (a && a.token) headers.Authorization = "Bearer " + a.token;
    const init = { method, headers, cache: "no-store", credentials: "same-origin" };
    if (data !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(data);
    }
    let resp;
    try {
      resp = await fetch("/api/v1" + path, init);
    } catch (e) {
      throw new ApiError(0, "network", RL.t("error.network"), null);
    }
    let payload = null;
    try { payload = await resp.json(); } catch (e) { payload = null; }
    if (resp.status === 401 && !path.startsWith("/auth/")) {
      RL.auth.clear();
      RL.toLogin();
    }
    if (!resp.ok) {
      const e = (payload && payload.error) || {};
      const err = new ApiError(resp.status, e.code || "http_" + resp.status,
        e.message || resp.statusText, e.field || null);
      err.detail = e;  // the rest of the error body (e.g. a possible duplicate's candidates)
      throw err;
    }
    return payload;
  };

  // a message for the screen: the translated meaning of the code, the server's detail after
  RL.errorText = function (err) {
    if (!err) return "";
    const code = err.code || "error";
    const known = RL.tOr("error." + code, null);
    const detail = err.message && err.message !== known ? err.message : "";
    if (known) return detail && code !== "network" ? known + " (" + detail + ")" : known;
    return RL.t("error.generic", { detail: detail || code });
  };

  // ---- Socket.IO ------------------------------------------------------------------------

  // Connects to /hub, re-sends `resync` from the last seq seen on every (re)connect and
  // hands each event to onEvent exactly once, in the order received.
  RL.connectHub = function (opts) {
    const auth = RL.auth.get();
    const socket = window.io("/hub", {
      auth: { token: auth.token },
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      timeout: 8000,
    });
    const seen = new Set();
    const seenOrder = [];
    const hub = {
      socket,
      lastSeq: opts.initialSeq || 0,
      // the seq this page's state starts from (its snapshot, or what a previous load of the
      // page saw): nothing at or before it is ever applied again
      baseSeq: null,
      hello: null,
      connected: false,
    };

    const RESYNC_OVERLAP = 200;
    function remember(seq) {
      seen.add(seq);
      seenOrder.push(seq);
      if (seenOrder.length > 5000) seen.delete(seenOrder.shift());
    }

    socket.on("connect", () => { hub.connected = true; });
    socket.on("hello", (hello) => {
      const first = hub.hello === null;
      hub.hello = hello;
      if (first && !hub.lastSeq) hub.lastSeq = hello.last_seq;
      if (first) hub.baseSeq = hub.lastSeq;
      if (opts.onHello) opts.onHello(hello, first);
      // Events from two hub processes can arrive out of seq order, so a link that dropped
      // right after seq N may have missed a lower one: ask again a little further back (what
      // was seen is skipped), and keep asking while the hub says there is more.
      const resync = (since) => socket.emit("resync", { since_seq: since }, (resp) => {
        const r = resp && resp.ok !== undefined ? resp.result || {} : resp || {};
        if (r.more && typeof r.last_seq === "number" && r.last_seq > since) {
          resync(r.last_seq);
          return;
        }
        if (opts.onResynced) opts.onResynced(resp);
      });
      // on a page's first connection nothing was seen yet to skip: start at the stored seq
      resync(first ? hub.lastSeq : Math.max(hub.baseSeq || 0, hub.lastSeq - RESYNC_OVERLAP));
      if (opts.onStatus) opts.onStatus(true);
    });
    socket.on("event", (ev) => {
      if (!ev || typeof ev.seq !== "number" || seen.has(ev.seq)) return;
      // older than the page's starting point: replayed by the overlap, already reflected
      if (hub.baseSeq !== null && ev.seq <= hub.baseSeq) return;
      remember(ev.seq);
      if (ev.seq > hub.lastSeq) {
        hub.lastSeq = ev.seq;
        if (opts.onSeq) opts.onSeq(ev.seq);
      }
      try {
        opts.onEvent(ev);
      } catch (e) {
        console.error("event handler failed", ev, e);
      }
    });
    socket.on("error", (err) => { if (opts.onError) opts.onError(err); });
    socket.on("disconnect", (reason) => {
      hub.connected = false;
      if (opts.onStatus) opts.onStatus(false, reason);
      // the hub dropped us (token expired or revoked, or a restart): Socket.IO does not
      // reconnect by itself then; try again, so a dead token reaches the login page below
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
    });
    socket.on("connect_error", (err) => {
      hub.connected = false;
      const msg = String((err && err.message) || "");
      if (!socket.active && /unauthori[sz]ed|token|expired|revoked/i.test(msg)) {
        RL.auth.clear();
        RL.toLogin();
        return;
      }
      if (opts.onStatus) opts.onStatus(false, "connect_error");
    });
    // emit with an answer: resolves {ok, result} | {ok:false, error}; rejects on timeout
    hub.call = function (event, payload, timeoutMs) {
      return new Promise((resolve, reject) => {
        if (!socket.connected) { reject(new Error("offline")); return; }
        socket.timeout(timeoutMs || 8000).emit(event, payload, (err, resp) => {
          if (err) reject(err);
          else resolve(resp || { ok: false, error: { code: "no_answer" } });
        });
      });
    };
    return hub;
  };

  // ---- ids, time, DOM -------------------------------------------------------------------

  // crypto.randomUUID needs a secure context; tablets on plain-HTTP Wi-Fi get the fallback
  RL.uuid = function () {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      try { return window.crypto.randomUUID(); } catch (e) { /* insecure context */ }
    }
    const b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  };

  RL.now = () => Date.now();
  RL.epochMs = () => performance.timeOrigin + performance.now();
  RL.metrics = { submits: [], boards: {} };

  RL.parseTime = function (iso) {
    if (!iso) return null;
    // the server writes UTC; naive stamps (SQLite) are UTC too
    const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(iso);
    const ms = Date.parse(hasZone ? iso : iso + "Z");
    return Number.isNaN(ms) ? null : ms;
  };
  const pad = (n) => String(n).padStart(2, "0");
  RL.clock = function (ms, withSeconds) {
    if (ms === null || ms === undefined) return "—";
    const d = new Date(ms);
    const s = pad(d.getHours()) + ":" + pad(d.getMinutes());
    return withSeconds === false ? s : s + ":" + pad(d.getSeconds());
  };
  RL.dateTime = function (ms) {
    if (ms === null || ms === undefined) return "—";
    const d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  };
  // 75 -> "1:15", 3725 -> "1:02:05", negative -> "-0:30"
  RL.duration = function (seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
    const neg = seconds < 0;
    let s = Math.round(Math.abs(seconds));
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    const out = h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
    return neg ? "-" + out : out;
  };
  RL.distance = function (m) {
    if (m === null || m === undefined) return "—";
    return m >= 1000 ? (m / 1000).toFixed(1) + " km" : Math.round(m) + " m";
  };

  // el("div", {class: "x", dataset: {id: 1}, onclick: fn}, "text", child, ...)
  RL.el = function (tag, attrs) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "dataset") Object.assign(node.dataset, v);
        else if (k === "text") node.textContent = v;
        else if (k.startsWith("on") && typeof v === "function") {
          node.addEventListener(k.slice(2), v);
        } else if (v === true) node.setAttribute(k, "");
        else node.setAttribute(k, v);
      }
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) c.forEach((x) => x && node.append(x));
      else node.append(c instanceof Node ? c : String(c));
    }
    return node;
  };
  RL.$ = (sel, root) => (root || document).querySelector(sel);
  RL.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  RL.toast = function (text, kind) {
    let box = document.getElementById("toasts");
    if (!box) {
      box = RL.el("div", { id: "toasts", "aria-live": "assertive" });
      document.body.append(box);
    }
    const item = RL.el("div", { class: "toast " + (kind || "info"), role: "status" }, text);
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 9000 : 5000);
  };

  // a modal yes/no with the page's own <dialog id="confirm">
  RL.confirm = function (text, yesLabel) {
    const dlg = document.getElementById("confirm");
    if (!dlg || typeof dlg.showModal !== "function") return Promise.resolve(window.confirm(text));
    RL.$(".confirm-text", dlg).textContent = text;
    const yes = RL.$(".confirm-yes", dlg);
    yes.textContent = yesLabel || RL.t("common.confirm");
    return new Promise((resolve) => {
      dlg.returnValue = "";
      dlg.addEventListener("close", () => resolve(dlg.returnValue === "yes"), { once: true });
      dlg.showModal();
      yes.focus();
    });
  };

  // names that exist in both languages (enterprises, stations)
  RL.localName = function (obj) {
    if (!obj) return "";
    if (RL.lang === "en") return obj.alt_name || obj.name || "";
    return obj.name || obj.alt_name || "";
  };
})();

// ---- ticking cells: durations and deadlines refresh every second without re-rendering ----
(function () {
  "use strict";
  const RL = window.RL;
  const listeners = [];
  RL.onTick = (fn) => listeners.push(fn);
  // [data-since=ms]: time since; [data-until=ms]: time left (class "past" after);
  // [data-overdue-at=ms]: class "overdue" once that moment has passed
  RL.tick = function (root) {
    const now = Date.now();
    const scope = root || document;
    scope.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = RL.duration((now - Number(el.dataset.since)) / 1000);
    });
    scope.querySelectorAll("[data-until]").forEach((el) => {
      const left = (Number(el.dataset.until) - now) / 1000;
      el.textContent = (el.dataset.prefix || "") + RL.duration(left);
      el.classList.toggle("past", left < 0);
    });
    scope.querySelectorAll("[data-overdue-at]").forEach((el) => {
      el.classList.toggle("overdue", now >= Number(el.dataset.overdueAt));
    });
    listeners.forEach((fn) => { try { fn(now); } catch (e) { console.error(e); } });
  };
  RL.startTicker = function () {
    RL.tick();
    setInterval(() => RL.tick(), 1000);
  };
})();
