// The report form of the command room, built for a duty officer on the phone: type part of
// an enterprise's name (or click the map), pick kind and severity, Enter dispatches.
(function () {
  "use strict";
  const RL = window.RL;
  const L = window.L;
  const t = RL.t;
  const el = RL.el;

  // compass points, English letters and Chinese names, to degrees the wind blows FROM
  const COMPASS = {
    N: 0, NNE: 22.5, NE: 45, ENE: 67.5, E: 90, ESE: 112.5, SE: 135, SSE: 157.5, S: 180,
    SSW: 202.5, SW: 225, WSW: 247.5, W: 270, WNW: 292.5, NW: 315, NNW: 337.5,
    "北": 0, "东北": 45, "东": 90, "东南": 135, "南": 180, "西南": 225, "西": 270, "西北": 315,
  };
  RL.parseWind = function (text) {
    const s = String(text || "").trim().toUpperCase().replace(/风$/, "");
    if (!s) return null;
    if (Object.prototype.hasOwnProperty.call(COMPASS, s)) return COMPASS[s];
    const n = Number(s.replace(/°$/, ""));
    if (Number.isFinite(n) && n >= 0 && n <= 360) return n % 360;
    return undefined; // not understood
  };

  function norm(s) { return String(s || "").toLowerCase().replace(/\s+/g, ""); }

  class ReportForm {
    constructor(S) {
      this.S = S;
      this.form = document.getElementById("report-form");
      this.input = document.getElementById("f-enterprise");
      this.list = document.getElementById("enterprise-options");
      this.placeBox = document.getElementById("f-place");
      this.placeText = document.getElementById("f-place-text");
      this.errorBox = document.getElementById("report-error");
      this.enterprises = [];
      this.matches = [];
      this.active = -1;
      this.target = null; // {enterprise} or {point: {lat, lon}}
      this.mine = new Set();
      this.submitting = false;
      this.bind();
    }

    setEnterprises(map) {
      this.enterprises = Array.from(map.values());
      const chems = new Set();
      this.enterprises.forEach((e) => (e.chemicals || []).forEach((c) => c && chems.add(c)));
      document.getElementById("chemical-options").replaceChildren(
        ...Array.from(chems).sort().map((c) => el("option", { value: c })));
    }

    isMine(id) { return this.mine.has(id); }

    bind() {
      const input = this.input;
      input.addEventListener("input", () => { this.clearTarget(false); this.search(); });
      input.addEventListener("focus", () => { if (input.value && !this.target) this.search(); });
      input.addEventListener("blur", () => setTimeout(() => this.closeList(), 150));
      input.addEventListener("keydown", (e) => this.onComboKey(e));
      document.getElementById("f-place-clear").addEventListener("click", () => {
        this.clearTarget(true);
        input.focus();
      });
      this.form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
      this.form.addEventListener("keydown", (e) => {
        if (e.key === "Escape") { e.preventDefault(); this.reset(); }
      });
      document.addEventListener("keydown", (e) => {
        if (e.key === "F2") { e.preventDefault(); this.reset(); input.focus(); }
      });
      document.getElementById("f-chemical").addEventListener("change", (e) => {
        e.target.value = e.target.value.trim().toUpperCase();
      });
    }

    // ---- the enterprise combobox ----------------------------------------------------------

    search() {
      const q = norm(this.input.value);
      if (!q) { this.closeList(); return; }
      this.matches = this.enterprises.filter((e) =>
        [e.name, e.alt_name, e.address, e.park, e.credit_code].some((v) => norm(v).includes(q)))
        .slice(0, 8);
      this.active = this.matches.length ? 0 : -1;
      this.drawList();
    }

    drawList() {
      const list = this.list;
      if (!this.matches.length) {
        list.replaceChildren(el("li", { class: "combo-empty" }, t("form.no_match")));
      } else {
        list.replaceChildren(...this.matches.map((e, i) => el("li", {
          id: "ent-opt-" + e.id, role: "option", class: i === this.active ? "active" : "",
          "aria-selected": i === this.active ? "true" : "false",
          onmousedown: (ev) => { ev.preventDefault(); this.pickEnterprise(e); },
        }, el("strong", {}, RL.localName(e)),
        el("span", { class: "combo-sub" }, [RL.lang === "en" ? e.name : e.alt_name,
          e.max_grade ? t("enterprise.major_hazard", { n: e.max_grade }) : null]
          .filter(Boolean).join(" · ")))));
      }
      list.hidden = false;
      this.input.setAttribute("aria-expanded", "true");
      if (this.active >= 0) {
        this.input.setAttribute("aria-activedescendant", "ent-opt-" + this.matches[this.active].id);
      }
    }

    closeList() {
      this.list.hidden = true;
      this.input.setAttribute("aria-expanded", "false");
      this.input.removeAttribute("aria-activedescendant");
    }

    onComboKey(e) {
      const open = !this.list.hidden && this.matches.length > 0;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        if (!open) { this.search(); e.preventDefault(); return; }
        e.preventDefault();
        const n = this.matches.length;
        this.active = (this.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        this.drawList();
      } else if ((e.key === "Enter" || e.key === "Tab") && open && this.active >= 0) {
        // Enter on an open list picks; the next Enter submits the form
        if (e.key === "Enter") e.preventDefault();
        this.pickEnterprise(this.matches[this.active]);
      } else if (e.key === "Escape" && open) {
        e.preventDefault();
        e.stopPropagation();
        this.closeList();
      }
    }

    pickEnterprise(e) {
      this.target = { enterprise: e };
      this.input.value = RL.localName(e);
      this.closeList();
      this.showPlace(t("form.place_enterprise", { name: RL.localName(e) }));
      this.chemChips(e);
      const chem = document.getElementById("f-chemical");
      if (!chem.value && (e.chemicals || []).length === 1) chem.value = e.chemicals[0];
      this.markOnMap([e.location.lat, e.location.lon]);
    }

    chemChips(e) {
      const box = document.getElementById("chem-chips");
      box.replaceChildren(...(e ? (e.chemicals || []) : []).filter(Boolean).map((c) =>
        el("button", { type: "button", class: "chip", tabindex: "-1",
          onclick: () => { document.getElementById("f-chemical").value = c; } }, c)));
    }

    // called by the map: an enterprise marker or any point
    offerEnterprise(e) {
      this.pickEnterprise(e);
      this.input.focus();
    }

    offerPoint(latlng) {
      const lat = Math.round(latlng.lat * 1e6) / 1e6;
      const lon = Math.round(latlng.lng * 1e6) / 1e6;
      this.target = { point: { lat, lon } };
      this.input.value = "";
      this.closeList();
      this.chemChips(null);
      this.showPlace(t("form.place_point", { lat: lat.toFixed(5), lon: lon.toFixed(5) }));
      this.markOnMap([lat, lon]);
      document.querySelector("#report-form input[name=kind]:checked").focus();
    }

    showPlace(text) {
      this.placeText.textContent = text;
      this.placeBox.hidden = false;
    }

    clearTarget(clearInput) {
      this.target = null;
      this.placeBox.hidden = true;
      if (clearInput) this.input.value = "";
      if (this.S.layers.report) this.S.layers.report.clearLayers();
    }

    markOnMap(latlng) {
      const g = this.S.layers.report;
      if (!g) return;
      g.clearLayers();
      L.circleMarker(latlng, { radius: 14, color: "#c92a2a", weight: 3, fill: false,
        dashArray: "4 4", interactive: false }).addTo(g);
    }

    reset() {
      this.pendingId = null;
      this.form.reset();
      this.clearTarget(true);
      this.chemChips(null);
      this.closeList();
      this.errorBox.hidden = true;
    }

    // ---- submit -----------------------------------------------------------------------------

    fail(message, fieldId) {
      this.errorBox.textContent = message;
      this.errorBox.hidden = false;
      if (fieldId) {
        const f = document.getElementById(fieldId);
        if (f) f.focus();
      }
    }

    payload() {
      const f = this.form;
      // typed a name but never picked: take the first match, the officer saw it highlighted
      if (!this.target && this.input.value.trim()) {
        this.search();
        if (this.matches.length) this.pickEnterprise(this.matches[0]);
      }
      if (!this.target) return { error: t("form.need_place"), field: "f-enterprise" };
      const body = {
        kind: f.querySelector("input[name=kind]:checked").value,
        severity: Number(f.querySelector("input[name=severity]:checked").value),
        // one id per report until it is answered: a retry after a timeout or an error the
        // hub committed anyway returns the first incident instead of dispatching twice
        client_id: this.pendingId || (this.pendingId = RL.uuid()),
      };
      if (this.target.enterprise) body.enterprise_id = this.target.enterprise.id;
      else body.location = this.target.point;
      const chem = f.chemical.value.trim().toUpperCase();
      if (chem) {
        if (!/^(UN|NA)\d{4}$/.test(chem)) return { error: t("form.bad_chemical"), field: "f-chemical" };
        body.chemical = chem;
      }
      if (f.spill.value) body.spill = f.spill.value;
      const cas = f.casualties.value === "" ? 0 : Number(f.casualties.value);
      if (!Number.isInteger(cas) || cas < 0) return { error: t("form.bad_casualties"), field: "f-casualties" };
      body.casualties = cas;
      const windText = f.wind.value;
      const from = RL.parseWind(windText);
      if (from === undefined) return { error: t("form.bad_wind"), field: "f-wind" };
      if (from !== null) {
        body.wind = { from_deg: from };
        const sp = f.wind_speed.value;
        if (sp !== "") body.wind.speed_ms = Number(sp);
      }
      const desc = f.description.value.trim();
      if (desc) body.description = desc;
      return { body };
    }

    // a report at an open incident: the officer attaches it there or confirms a new incident
    askDuplicate(body, candidates) {
      const el = RL.el;
      const resend = (extra) => { this.errorBox.hidden = true; this.pendingExtra = extra; this.submit(); };
      this.errorBox.replaceChildren(t("dup.found"), ...candidates.map((c) => el("button", {
        type: "button", class: "btn", onclick: () => resend({ attach_to: c.id }) },
      t("dup.attach", { id: c.id, distance: c.distance_m }))),
      el("button", { type: "button", class: "btn", onclick: () => resend({ confirm_new: true }) },
        t("dup.new")));
      this.errorBox.hidden = false;
    }

    async submit() {
      if (this.submitting) return;
      this.errorBox.hidden = true;
      const started = RL.epochMs();
      const p = this.payload();
      if (p.error) { this.fail(p.error, p.field); return; }
      if (this.pendingExtra) { Object.assign(p.body, this.pendingExtra); this.pendingExtra = null; }
      this.submitting = true;
      const button = document.getElementById("report-submit");
      button.disabled = true;
      button.classList.add("busy");
      const metric = { at: started, client_id: p.body.client_id, incident_id: null };
      RL.metrics.submits.push(metric);
      try {
        const view = await RL.api("POST", "/incidents", p.body);
        metric.incident_id = view.id;
        metric.answered = RL.epochMs();
        this.mine.add(view.id);
        this.S.upsertIncident(view);
        this.S.select(view.id, { fly: true });
        this.reset();
        RL.toast(t("toast.reported", { title: this.S.incidentTitle(view) }), "ok");
      } catch (err) {
        if (err.code === "possible_duplicate") { this.askDuplicate(p.body, err.detail.candidates); return; }
        const map = { enterprise_id: "f-enterprise", location: "f-enterprise", chemical: "f-chemical",
          casualties: "f-casualties", wind: "f-wind", severity: null, kind: null };
        const field = err.field ? String(err.field).split(".")[0] : null;
        this.fail(RL.errorText(err), field ? map[field] : null);
      } finally {
        this.submitting = false;
        button.disabled = false;
        button.classList.remove("busy");
      }
    }
  }

  RL.ReportForm = ReportForm;
})();
