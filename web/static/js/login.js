// The login form: keeps the token in sessionStorage and sends each role to its page.
(function () {
  "use strict";
  const RL = window.RL;
  const t = RL.t;
  const form = document.getElementById("login-form");
  const errorBox = document.getElementById("login-error");

  RL.bindLangButton(document.getElementById("lang-switch"));

  function safeNext(role) {
    const next = new URLSearchParams(location.search).get("next") || "";
    if (!next.startsWith("/") || next.startsWith("//") || next.startsWith("/login")) return null;
    const home = RL.homeFor(role);
    const path = next.split("?")[0];
    // a unit never lands in the command room and an officer never on a tablet page
    if (role === "unit" ? path !== "/unit" : path === "/unit") return home;
    return next;
  }

  function normaliseLang(value) {
    if (!value) return null;
    const v = String(value).toLowerCase().replace("_", "-");
    if (v.startsWith("zh")) return "zh-CN";
    if (v.startsWith("en")) return "en";
    return null;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorBox.hidden = true;
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) {
      errorBox.textContent = t("login.missing");
      errorBox.hidden = false;
      return;
    }
    const button = document.getElementById("login-submit");
    button.disabled = true;
    try {
      await RL.ready;
      const a = await RL.api("POST", "/auth/login", { username, password });
      RL.auth.set({
        token: a.token, role: a.role, unit_id: a.unit_id, username: a.username,
        region_id: a.region_id, expires_at: Date.now() + (a.expires_in || 43200) * 1000,
      });
      let lang = RL.preferredLang(a.username);
      if (!lang) {
        try {
          const me = await RL.api("GET", "/me");
          lang = normaliseLang(me.language);
        } catch (e) { lang = null; }
      }
      RL.rememberLang(lang || RL.lang, a.username);
      location.replace(safeNext(a.role) || RL.homeFor(a.role));
    } catch (err) {
      errorBox.textContent = err.status === 401 ? t("login.failed") : RL.errorText(err);
      errorBox.hidden = false;
      button.disabled = false;
      form.password.select();
    }
  });
})();
