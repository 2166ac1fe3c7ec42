// The evaluator's form (AQ/T 9009): observations are saved on the device first, each with its
// own id, and sent when the hub answers; a resend after a lost answer is stored once.
(function () {
  "use strict";
  const { el, t, token } = window.Trainer;
  const drillId = Number(document.body.dataset.drillId);
  const KEY = "redline.eval." + drillId;
  const AREAS = ["information_reporting", "command_coordination", "disposal", "resources",
                 "cordon_evacuation", "public_information", "after_action"];
  const RATINGS = ["met", "partly_met", "not_met"];
  let area = AREAS[0], rating = RATINGS[0], sending = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function store(items) { localStorage.setItem(KEY, JSON.stringify(items)); }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function choices(box, values, prefix, get, set) {
    box.replaceChildren(...values.map((v) => el("button", {
      type: "button", class: "big choice-btn" + (get() === v ? " on" : ""), "data-value": v,
      "aria-pressed": get() === v ? "true" : "false", text: t(prefix + v),
      onclick: () => { set(v); render(); },
    })));
  }

  function render() {
    choices(document.getElementById("areas"), AREAS, "area.", () => area, (v) => { area = v; });
    choices(document.getElementById("ratings"), RATINGS, "rating.", () => rating, (v) => { rating = v; });
    const items = load();
    const line = (o) => el("li", { class: "obs " + o.state, "data-client-id": o.client_id },
      new Date(o.observed_at).toLocaleTimeString(window.TrainerI18n.lang) + " · ",
      t("area." + o.area) + " · " + t("rating." + o.rating) + (o.note ? " · " + o.note : ""),
      o.error ? el("span", { class: "error", text: " " + o.error }) : null);
    document.getElementById("queue").replaceChildren(...items.filter((o) => o.state !== "sent").map(line));
    document.getElementById("sent").replaceChildren(...items.filter((o) => o.state === "sent").map(line));
    const net = document.getElementById("net");
    net.textContent = navigator.onLine ? t("online") : t("offline");
    net.className = "pill " + (navigator.onLine ? "ok" : "bad");
  }

  async function flush() {
    if (sending) return;
    sending = true;
    try {
      for (const o of load()) {
        if (o.state !== "queued") continue;
        let resp;
        try {
          resp = await fetch("/api/v1/drills/" + drillId + "/observations", {
            method: "POST",
            headers: { "Content-Type": "application/json", Authorization: "Bearer " + token() },
            body: JSON.stringify({ client_id: o.client_id, area: o.area, rating: o.rating,
                                   note: o.note, observed_at: o.observed_at }),
          });
        } catch (e) {
          break; // no network: keep the queue, try again later
        }
        if (resp.status >= 500 || resp.status === 401) break;
        const items = load();
        const mine = items.find((x) => x.client_id === o.client_id);
        if (resp.ok) {
          mine.state = "sent";
        } else {
          const data = await resp.json().catch(() => ({}));
          mine.state = "failed";
          mine.error = data.error ? data.error.message : String(resp.status);
        }
        store(items);
      }
    } finally {
      sending = false;
      render();
    }
  }

  function start() {
    document.getElementById("obs-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const form = ev.target;
      const items = load();
      items.push({ client_id: newId(), area, rating, note: form.note.value.trim(),
                   observed_at: new Date().toISOString(), state: "queued" });
      store(items);
      form.note.value = "";
      render();
      flush();
    });
    window.addEventListener("online", () => { render(); flush(); });
    window.addEventListener("offline", render);
    document.addEventListener("trainer:lang", render);
    setInterval(flush, 5000);
    render();
    flush();
  }

  window.Trainer.initLogin(start);
})();
