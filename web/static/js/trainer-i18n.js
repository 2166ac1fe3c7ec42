// The trainer pages' strings come from the same JSON catalogues as every other script
// (web/static/i18n/<lang>.json, keys "trainer.*"); elements carry data-i18n="key".
(function () {
  "use strict";
  const LANGS = ["zh-CN", "en"];
  const STORE = "redline.lang";
  const COOKIE = "redline_lang";
  const PREFIX = "trainer.";
  const base = document.body.dataset.i18nBase || "/static/i18n/";
  let catalogue = {};

  function username() {
    try {
      const a = JSON.parse(sessionStorage.getItem("redline.auth") || "null");
      return a && a.username;
    } catch (e) { return null; }
  }

  function cookieLang() {
    const m = document.cookie.match(/(?:^|;\s*)redline_lang=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : null;
  }

  // the same preference the command room keeps: per user, then this browser, then the cookie
  function preferred() {
    const user = username();
    let want = null;
    try {
      want = (user && localStorage.getItem(STORE + ".user." + user)) || localStorage.getItem(STORE);
    } catch (e) { want = null; }
    want = want || cookieLang() ||
      (navigator.language && navigator.language.startsWith("en") ? "en" : "zh-CN");
    return LANGS.includes(want) ? want : "zh-CN";
  }

  let lang = preferred();

  async function load(which) {
    try {
      const r = await fetch(base + which + ".json", { credentials: "same-origin" });
      catalogue = r.ok ? await r.json() : {};
    } catch (e) {
      catalogue = {};
    }
    lang = which;
  }

  const missing = new Set();
  function t(key) {
    const v = catalogue[PREFIX + key];
    if (typeof v === "string") return v;
    missing.add(key);
    return key;
  }

  // server-made reasons (inject outcomes, release reasons) as [{code, params}]: rendered from
  // the shared "reason.<code>" keys; the server's English text when a code is unknown
  function reason(parts, fallback) {
    if (!parts || !parts.length) return fallback || "";
    const out = [];
    for (const p of parts) {
      const v = catalogue["reason." + p.code];
      if (typeof v !== "string") return fallback || "";
      const vars = Object.assign({}, p.params);
      for (const [name, prefix] of [["kind", "kind."], ["capability", "capability."],
        ["status", "unit_status."]]) {
        const named = typeof vars[name] === "string" && catalogue[prefix + vars[name]];
        if (typeof named === "string") vars[name] = named;
      }
      out.push(v.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined && vars[k] !== null
        ? String(vars[k]) : m)));
    }
    return out.join(catalogue["reason.separator"] || "; ");
  }

  // a shared catalogue entry (event types, unit and task statuses) or the raw value
  function named(prefix, value) {
    const v = catalogue[prefix + value];
    return typeof v === "string" ? v : value;
  }

  function apply(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    });
    document.documentElement.lang = lang;
  }

  function remember(which) {
    try {
      localStorage.setItem(STORE, which);
      const user = username();
      if (user) localStorage.setItem(STORE + ".user." + user, which);
    } catch (e) { /* private mode: the cookie still carries it */ }
    document.cookie = COOKIE + "=" + encodeURIComponent(which) +
      "; path=/; max-age=31536000; SameSite=Strict";
  }

  async function toggle() {
    const next = lang === "en" ? "zh-CN" : "en";
    remember(next);
    await load(next);
    apply();
    document.dispatchEvent(new CustomEvent("trainer:lang", { detail: lang }));
  }

  const ready = load(lang);
  window.TrainerI18n = { t, reason, named, apply, toggle, ready, missingKeys: () => Array.from(missing),
    get lang() { return lang; } };
})();
