// Shared by the trainer pages: the bearer token, API calls, login, small formatters.
(function () {
  "use strict";
  const KEY = "redline.token";
  const t = (k) => window.TrainerI18n.t(k);

  // the shared login page (/login) keeps the session as JSON under redline.auth; a trainer
  // who logged in there must not meet a second login form on the console
  const RL_AUTH = "redline.auth";

  function sharedToken() {
    try {
      const a = JSON.parse(sessionStorage.getItem(RL_AUTH) || "null");
      if (!a || !a.token || (a.expires_at && a.expires_at < Date.now())) return null;
      return ["trainer", "admin"].includes(a.role) ? a.token : null;
    } catch (e) { return null; }
  }

  function token() {
    return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || sharedToken();
  }

  function forget() {
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
    sessionStorage.removeItem(RL_AUTH);
  }

  async function api(method, path, body) {
    const opts = { method, headers: { Authorization: "Bearer " + token() } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch("/api/v1" + path, opts);
    if (resp.status === 401) {
      forget();
      showLogin();
      throw new Error("unauthorized");
    }
    const isJson = (resp.headers.get("Content-Type") || "").includes("json");
    const data = isJson ? await resp.json() : await resp.text();
    if (!resp.ok) {
      const msg = data && data.error ? data.error.message + (data.error.field ? " (" + data.error.field + ")" : "") : resp.statusText;
      throw new Error(msg);
    }
    return data;
  }

  async function download(path, filename) {
    const resp = await fetch("/api/v1" + path, { headers: { Authorization: "Bearer " + token() } });
    if (!resp.ok) throw new Error(resp.statusText);
    const url = URL.createObjectURL(await resp.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  }

  function showLogin() {
    const box = document.getElementById("login");
    if (box) box.hidden = false;
    const main = document.getElementById("main");
    if (main) main.hidden = true;
  }

  // the strings arrive from the JSON catalogue first: nothing renders before they are here
  function initLogin(onReady) {
    window.TrainerI18n.ready.then(() => startLogin(onReady));
  }

  function startLogin(onReady) {
    const form = document.getElementById("login-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = document.getElementById("login-error");
      err.textContent = "";
      const resp = await fetch("/api/v1/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: form.username.value, password: form.password.value }),
      });
      const data = await resp.json();
      if (!resp.ok || !["trainer", "admin"].includes(data.role)) {
        err.textContent = t("login_failed") + (data.error ? ": " + data.error.message : "");
        return;
      }
      sessionStorage.setItem(KEY, data.token);
      document.getElementById("login").hidden = true;
      document.getElementById("main").hidden = false;
      onReady();
    });
    document.getElementById("logout").addEventListener("click", async () => {
      try { await api("POST", "/auth/logout"); } catch (e) { /* token already gone */ }
      forget();
      showLogin();
    });
    document.getElementById("lang").addEventListener("click", () => window.TrainerI18n.toggle());
    window.TrainerI18n.apply();
    if (token()) {
      document.getElementById("login").hidden = true;
      document.getElementById("main").hidden = false;
      onReady();
    } else {
      showLogin();
    }
  }

  function secs(v) {
    if (v === null || v === undefined) return t("none");
    const s = Math.round(v);
    const sign = s < 0 ? "-" : "";
    const a = Math.abs(s);
    const m = Math.floor(a / 60);
    return sign + (m ? m + ":" + String(a % 60).padStart(2, "0") : a + " s");
  }

  function when(iso) {
    if (!iso) return t("none");
    return new Date(iso).toLocaleString(window.TrainerI18n.lang);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  window.Trainer = { api, download, initLogin, secs, when, el, token, t };
})();
