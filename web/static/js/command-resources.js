// The incident's Resources tab: the nearest supplies, teams and experts, searchable; a request
// puts a task on the incident's board and logs it (command.resource_desk).
(function () {
  "use strict";
  const t = (k, v) => RL.t(k, v);
  const el = RL.el;
  const box = () => document.getElementById("resources");

  function selectedId() {
    const item = document.querySelector("#incident-list .incident-item.selected");
    return item ? Number(item.dataset.incidentId) : null;
  }

  function km(m) {
    if (m === null || m === undefined) return t("resources.no_position");
    return m < 1000 ? m + " m" : (m / 1000).toFixed(1) + " km";
  }

  async function request(incidentId, r) {
    const body = { type: r.type, id: r.id };
    if (r.type === "supply") {
      const raw = window.prompt(t("resources.how_many", { unit: r.unit, max: r.quantity }), "1");
      if (raw === null) return;
      body.quantity = Number(raw);
    }
    try {
      await RL.api("POST", "/incidents/" + incidentId + "/resource-requests", body);
      RL.toast(t("resources.requested", { name: r.name }), "ok");
    } catch (e) {
      RL.toast(RL.errorText ? RL.errorText(e) : e.message, "error");
    }
  }

  function row(incidentId, r) {
    const what = r.type === "supply"
      ? [t("resources.category." + r.category), r.name, r.quantity + " " + r.unit, r.depot].join(" · ")
      : r.type === "team"
        ? [t("resources.team." + r.kind), r.name, t("resources.members", { n: r.members }),
           (r.specialties || []).join("、")].join(" · ")
        : [t("resources.expert"), r.name, (r.specialties || []).join("、"), r.organisation].join(" · ");
    return el("li", { class: "resource " + r.type, dataset: { resourceId: r.type + ":" + r.id } },
      el("span", { class: "resource-dist" }, km(r.distance_m)),
      el("span", { class: "resource-what" }, what),
      el("span", { class: "resource-contact" }, (r.contact.name || "") + " " + (r.contact.phone || "")),
      incidentId ? el("button", { type: "button", class: "btn small",
        onclick: () => request(incidentId, r) }, t("resources.request")) : null);
  }

  function section(title, incidentId, rows) {
    return [el("h3", {}, title), rows.length
      ? el("ul", { class: "resource-list" }, ...rows.map((r) => row(incidentId, r)))
      : el("p", { class: "empty" }, t("resources.none"))];
  }

  async function show(q) {
    const id = selectedId();
    if (!id) return;
    try {
      if (q) {
        const near = await RL.api("GET", "/incidents/" + id + "/resources");
        const found = await RL.api("GET", "/resources?q=" + encodeURIComponent(q) +
          "&lat=" + near.lat + "&lon=" + near.lon + "&limit=30");
        box().replaceChildren(...section(t("resources.results"), id, found));
        return;
      }
      const r = await RL.api("GET", "/incidents/" + id + "/resources");
      box().replaceChildren(
        ...section(t("resources.supplies"), id, r.supplies),
        ...section(t("resources.teams"), id, r.teams),
        ...section(t("resources.experts"), id, r.experts));
    } catch (e) {
      box().replaceChildren(el("p", { class: "error" }, RL.errorText ? RL.errorText(e) : e.message));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const tab = document.getElementById("tab-btn-resources");
    if (!tab) return;
    tab.addEventListener("click", () => show(""));
    document.getElementById("resource-search").addEventListener("submit", (e) => {
      e.preventDefault();
      show(document.getElementById("resource-q").value.trim());
    });
  });
})();
