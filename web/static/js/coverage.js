// The cover page: can every approved plan scenario be carried out from the home stations?
// Draws drive-time isochrones per station, enterprises coloured green/amber/red, and shows
// what gets worse when one station is out of service.
(function () {
  "use strict";
  const RL = window.RL;
  const L = window.L;
  const el = RL.el;
  const t = (key, vars) => RL.t(key, vars);
  const cap = (c) => RL.tOr("capability." + c, c);
  const mins = (s) => (s % 60 === 0 ? t("coverage.minutes", { m: s / 60 }) : RL.duration(s));
  const COLORS = { green: "#2b8a3e", amber: "#e67700", red: "#c92a2a", none: "#868e96" };
  // lighter for longer drives, so the near areas read as "covered first"
  const ISO_COLORS = ["#1864ab", "#1c7ed6", "#4dabf7", "#a5d8ff", "#d0ebff", "#e7f5ff"];

  const auth = RL.requireAuth(["duty_officer", "admin", "trainer"]);
  if (!auth) return;
  RL.bindLangButton(document.getElementById("lang-switch"));
  const who = document.getElementById("user-name");
  if (who) who.textContent = auth.username || "";

  const S = { map: null, iso: null, sites: null, stations: [], report: null, markers: {} };

  function chip(status) {
    return el("span", { class: "cov-chip cov-" + (status || "none") },
      t("plans.coverage." + (status || "none")));
  }

  function stationName(id) {
    const s = S.stations.find((x) => x.id === id);
    return s ? RL.localName(s) : String(id);
  }

  async function drawIsochrones(minutesText) {
    let fc;
    try {
      fc = await RL.api("GET", "/coverage/isochrones?minutes=" + encodeURIComponent(minutesText));
    } catch (e) {
      RL.toast(RL.errorText(e), "error");
      return;
    }
    S.iso.clearLayers();
    const order = fc.minutes.slice().sort((a, b) => a - b);
    const color = (m) => ISO_COLORS[Math.min(order.indexOf(m), ISO_COLORS.length - 1)];
    // largest first, so the smaller areas sit on top
    fc.features.slice().sort((a, b) => b.properties.minutes - a.properties.minutes)
      .forEach((f) => {
        L.geoJSON(f, { style: { color: color(f.properties.minutes), weight: 1,
          fillColor: color(f.properties.minutes), fillOpacity: 0.12, interactive: false } })
          .addTo(S.iso);
      });
    RL.$("#iso-legend").replaceChildren(...order.map((m) => el("span", { class: "cov-legend-item" },
      el("i", { style: "background:" + color(m) }), t("coverage.minutes", { m }))));
  }

  function drawSites(effect) {
    S.sites.clearLayers();
    const worse = {};
    if (effect) effect.affects.forEach((a) => { worse[a.enterprise_id] = a.to; });
    S.report.enterprises.forEach((e) => {
      const status = worse[e.enterprise_id] && e.status !== "red" ? worse[e.enterprise_id]
        : e.status;
      const m = L.circleMarker([e.location.lat, e.location.lon], {
        radius: worse[e.enterprise_id] ? 11 : 8, color: "#fff", weight: 2,
        fillColor: COLORS[status || "none"], fillOpacity: 0.95 })
        .bindTooltip(RL.localName(e) + " · " + t("plans.coverage." + (status || "none")))
        .on("click", () => {
          const row = document.getElementById("cov-e-" + e.enterprise_id);
          if (row) { row.scrollIntoView({ block: "center" }); row.classList.add("flash"); }
        });
      m.addTo(S.sites);
    });
    S.stations.forEach((s) => {
      L.marker([s.lat, s.lon], { icon: L.divIcon({ className: "station-marker kind-" + s.kind +
        (effect && effect.station_id === s.id ? " out" : ""), html: "<span></span>",
      iconSize: [18, 18], iconAnchor: [9, 9] }) })
        .bindTooltip(RL.localName(s)).addTo(S.sites);
    });
  }

  function renderList() {
    const r = S.report;
    RL.$("#cov-counts").replaceChildren(...["green", "amber", "red", "none"].map((s) =>
      el("span", { class: "cov-chip cov-" + s }, t("plans.coverage." + s) + " " +
        (r.counts[s] || 0))));
    RL.$("#cov-list").replaceChildren(...r.enterprises.map((e) => el("details", {
      class: "cov-enterprise", id: "cov-e-" + e.enterprise_id, open: e.status === "red" },
    el("summary", null, chip(e.status), " ", el("a", { href: "/plans/" + e.enterprise_id },
      RL.localName(e)), e.bottleneck && e.status !== "green"
      ? el("span", { class: "hint" }, " · " + t("plans.bottleneck", { cap: cap(e.bottleneck) }))
      : null),
    e.scenarios.length ? el("table", { class: "pl-table compact" }, el("tbody", null,
      e.scenarios.map((sc) => el("tr", null,
        el("td", null, chip(sc.status)),
        el("td", null, (RL.lang === "en" && sc.name_en) || sc.name),
        el("td", null, sc.requirements.map((q) => el("div", { class: q.on_time ? "" : "pl-miss" },
          cap(q.capability) + " " + q.covered + "/" + q.count + " · ≤ " +
          mins(q.deadline_s) + (q.worst_eta_s !== null ? " · " +
          t("coverage.worst_eta", { t: RL.duration(q.worst_eta_s) }) : ""))))))))
      : el("p", { class: "empty" }, t("enterprise.no_plan")),
    e.station_out.length ? el("ul", { class: "hint" }, e.station_out.map((o) => el("li", null,
      t("plans.station_out_line", { station: stationName(o.station_id), scenario: o.scenario_id,
        from: t("plans.coverage." + o.from), to: t("plans.coverage." + o.to),
        cap: cap(o.bottleneck) })))) : null)));
  }

  function showStationOut(id) {
    const box = RL.$("#station-effect");
    if (!id) { box.replaceChildren(); drawSites(null); return; }
    const effect = S.report.station_out.find((s) => s.station_id === id);
    drawSites(effect || null);
    if (!effect || !effect.affects.length) {
      box.replaceChildren(el("p", { class: "pl-ok" }, t("coverage.no_change")));
      return;
    }
    box.replaceChildren(el("ul", null, effect.affects.map((a) => {
      const e = S.report.enterprises.find((x) => x.enterprise_id === a.enterprise_id);
      return el("li", null, RL.localName(e), " / ", a.scenario_id, ": ", chip(a.from), " → ",
        chip(a.to), a.bottleneck ? " (" + cap(a.bottleneck) + ")" : "");
    })));
  }

  async function start() {
    await RL.ready;
    S.map = await RL.createMap(RL.$("#cov-map"));
    S.iso = L.layerGroup().addTo(S.map);
    S.sites = L.layerGroup().addTo(S.map);
    const [report, stations] = await Promise.all([RL.api("GET", "/coverage"),
      RL.api("GET", "/stations")]);
    S.report = report;
    S.stations = stations;
    const select = RL.$("#station-out");
    stations.forEach((s) => select.append(el("option", { value: s.id }, RL.localName(s))));
    select.addEventListener("change", () => showStationOut(Number(select.value) || null));
    renderList();
    drawSites(null);
    await drawIsochrones(RL.$("#iso-minutes").value);
    RL.$("#iso-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      drawIsochrones(RL.$("#iso-minutes").value);
    });
  }

  start().catch((e) => RL.toast(RL.errorText(e), "error"));
})();
