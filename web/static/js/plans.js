// Emergency plan pages: the list, a plan read like the document, the upload form with
// problems beside their lines, and the printable pocket cards. Data comes from /api/v1.
(function () {
  "use strict";
  const RL = window.RL;
  const el = RL.el;
  const main = document.querySelector("main[data-page]");
  const page = main.dataset.page;
  const VIEWERS = ["duty_officer", "admin", "trainer"];
  const STATUS_CLASS = { green: "cov-green", amber: "cov-amber", red: "cov-red" };

  const auth = RL.requireAuth(VIEWERS);
  if (!auth) return;
  const isAdmin = auth.role === "admin";
  const mayUpload = auth.role === "admin" || auth.role === "duty_officer";
  RL.bindLangButton(document.getElementById("lang-switch"));
  const who = document.getElementById("user-name");
  if (who) who.textContent = auth.username || "";

  // ---- helpers ----------------------------------------------------------------------------

  const t = (key, vars) => RL.t(key, vars);
  const cap = (c) => RL.tOr("capability." + c, c);
  const kind = (k) => RL.tOr("kind." + k, k);
  const level = (l) => RL.tOr("plans.level." + l, l);
  // deadlines are whole minutes as a rule: "15 min" reads better than "15:00" (a clock time)
  const minutes = (s) => {
    if (s === null || s === undefined) return "—";
    return s % 60 === 0 ? t("coverage.minutes", { m: s / 60 }) : RL.duration(s);
  };
  const localTitle = (doc) => (RL.lang === "en" && doc.title_en) || doc.title;
  const scenarioName = (sc) => (RL.lang === "en" && sc.name_en) || sc.name;

  function statusChip(status) {
    if (!status) return el("span", { class: "cov-chip cov-none" }, t("plans.coverage.none"));
    return el("span", { class: "cov-chip " + STATUS_CLASS[status] },
      t("plans.coverage." + status));
  }

  // the API with a non-JSON body (plan files are sent as they were written)
  async function sendFile(path, text, contentType) {
    const a = RL.auth.get();
    const headers = { Accept: "application/json", "Content-Type": contentType };
    if (a && a.token) headers.Authorization = "Bearer " + a.token;
    let resp;
    try {
      resp = await fetch("/api/v1" + path, { method: "POST", headers, body: text,
        cache: "no-store", credentials: "same-origin" });
    } catch (e) {
      throw new RL.ApiError(0, "network", t("error.network"), null);
    }
    let payload = null;
    try { payload = await resp.json(); } catch (e) { payload = null; }
    if (resp.status === 401) { RL.auth.clear(); RL.toLogin(); }
    return { status: resp.status, ok: resp.ok, body: payload };
  }

  // exports need the token, so they are fetched and saved rather than linked
  async function download(path, filename) {
    const a = RL.auth.get();
    const resp = await fetch("/api/v1" + path, {
      headers: a && a.token ? { Authorization: "Bearer " + a.token } : {},
      credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) { RL.toast(t("plans.export_failed"), "error"); return; }
    const url = URL.createObjectURL(await resp.blob());
    const link = el("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  }

  async function coverageByEnterprise() {
    try {
      const cov = await RL.api("GET", "/coverage");
      const out = {};
      cov.enterprises.forEach((e) => { out[e.enterprise_id] = e; });
      return out;
    } catch (e) {
      return {};
    }
  }

  function enterpriseName(e) { return e ? RL.localName(e) : t("plans.county_default"); }

  // ---- /plans -------------------------------------------------------------------------------

  // what the county must chase: filings due, revision flags, enterprises that owe a drill
  async function obligations() {
    if (!mayUpload) return;
    const [filing, drills] = await Promise.all([RL.api("GET", "/plans/filing-status"),
      RL.api("GET", "/drill-obligations")]);
    const none = () => el("li", { class: "hint" }, t("plans.ob.none"));
    const fill = (id, rows) => RL.$(id).replaceChildren(...(rows.length ? rows : [none()]));
    fill("#ob-filing", filing.awaiting_filing.map((r) => el("li",
      { class: r.overdue ? "overdue" : "" }, el("a", { href: "/plans/" + r.enterprise_id },
        r.enterprise_name), " · v" + r.version + " · ", r.overdue
        ? t("plans.ob.filing_overdue", { on: r.filing_due })
        : t("plans.ob.filing_due", { on: r.filing_due, n: r.working_days_left }))));
    fill("#ob-flags", filing.flagged_for_revision.map((f) => el("li", null,
      el("a", { href: "/plans/" + f.enterprise_id }, f.enterprise_name), " · ",
      t("plans.ob.trigger." + f.trigger), " · ", f.reason)));
    fill("#ob-drills", drills.enterprises.filter((r) => r.overdue).map((r) => el("li",
      { class: "overdue" }, r.enterprise_name, " · ", r.never ? t("plans.ob.never_drilled")
        : t("plans.ob.drill_overdue", { last: r.last_drill_on, n: r.days_overdue }))));
    RL.$("#obligations").hidden = false;
  }

  async function listPage() {
    obligations().catch((e) => RL.toast(RL.errorText(e), "error"));
    const [plans, overdue, cover] = await Promise.all([
      RL.api("GET", "/plans"), RL.api("GET", "/plans/overdue"), coverageByEnterprise()]);
    const body = RL.$("#plans-table tbody");
    body.replaceChildren();
    const counts = { green: 0, amber: 0, red: 0, none: 0 };
    plans.forEach((p) => {
      const e = p.enterprise;
      const id = e ? e.id : "default";
      const c = e ? cover[e.id] : null;
      if (e) counts[(c && c.status) || "none"] += 1;
      const cur = p.current;
      const review = cur && cur.next_review
        ? el("span", { class: cur.review_overdue ? "tag overdue" : "" },
          cur.next_review + (cur.review_overdue ? " · " + t("plans.review_overdue") : ""))
        : "—";
      body.append(el("tr", { class: cur && cur.review_overdue ? "pl-row-overdue" : "" },
        el("td", null, el("a", { href: "/plans/" + id }, enterpriseName(e)),
          e ? el("div", { class: "hint" }, e.park || "", " ", e.credit_code) : null),
        el("td", null, e && e.max_grade ? t("enterprise.grade", { n: e.max_grade }) : "—"),
        el("td", null, cur ? t("enterprise.plan_version", { v: cur.version }) : el("span",
          { class: "tag warn" }, t("enterprise.no_plan")),
        cur ? el("div", { class: "hint" }, t("plans.scenario_count", { n: p.scenarios })) : null),
        el("td", null, p.drafts.length ? p.drafts.map((v) => el("span", { class: "tag" },
          "v" + v)) : "—"),
        el("td", null, review),
        el("td", null, e ? statusChip(c && c.status) : "—",
          c && c.bottleneck && c.status !== "green"
            ? el("div", { class: "hint" }, t("plans.bottleneck", { cap: cap(c.bottleneck) }))
            : null),
        el("td", { class: "pl-actions" },
          el("a", { class: "btn small", href: "/plans/" + id }, t("plans.open")),
          mayUpload && (e || isAdmin) ? el("a", { class: "btn small",
            href: "/plans/" + id + "/upload" }, t("plans.upload")) : null,
          e && cur && p.pocket_cards ? el("a", { class: "btn small",
            href: "/plans/" + id + "/cards" }, t("plans.cards")) : null)));
    });
    const chips = ["green", "amber", "red", "none"].map((s) =>
      el("span", { class: "cov-chip " + (STATUS_CLASS[s] || "cov-none") },
        t("plans.coverage." + s) + " " + counts[s]));
    RL.$("#counts").replaceChildren(...chips);
    if (overdue.length) {
      const banner = RL.$("#overdue-banner");
      banner.textContent = t("plans.overdue_banner", { n: overdue.length,
        names: overdue.map((o) => enterpriseName(o.enterprise)).join("、") });
      banner.hidden = false;
    }
  }

  // ---- /plans/<id> --------------------------------------------------------------------------

  function dl(pairs) {
    return el("dl", { class: "pl-dl" }, pairs.filter((p) => p[1] !== null && p[1] !== undefined
      && p[1] !== "").map(([k, v]) => [el("dt", null, k), el("dd", null, v)]).flat());
  }

  function forcesTable(forces, coverage) {
    const reqs = coverage ? coverage.requirements : [];
    return el("table", { class: "pl-table compact" },
      el("thead", null, el("tr", null, el("th", null, t("plans.capability")),
        el("th", null, t("plans.count")), el("th", null, t("plans.deadline")),
        coverage ? el("th", null, t("plans.cover_from_stations")) : null)),
      el("tbody", null, forces.map((f, i) => {
        const r = reqs[i];
        return el("tr", null, el("td", null, cap(f.capability)), el("td", null, "× " + f.count),
          el("td", null, minutes(f.deadline_s)),
          coverage ? el("td", { class: r && r.on_time ? "" : "pl-miss" }, r
            ? t("plans.covered_n", { covered: r.covered, count: r.count,
              eta: minutes(r.worst_eta_s) }) + (r.callsigns.length ? " · " +
              r.callsigns.join(" ") : "") : "—") : null);
      })));
  }

  function scenarioSection(sc, idx, cov) {
    const trig = sc.trigger || {};
    const trigText = [
      trig.kinds && trig.kinds.length ? trig.kinds.map(kind).join("、") : t("plans.any_kind"),
      trig.chemicals && trig.chemicals.length ? trig.chemicals.join(", ") : t("plans.any_chemical"),
      t("plans.min_severity", { n: trig.min_severity || 1 }),
    ].join(" · ");
    const tasks = (sc.tasks || []).slice().sort((a, b) => a.order - b.order);
    return el("section", { class: "pl-scenario", id: "scenario-" + sc.id },
      el("h3", null, (idx + 1) + ". " + scenarioName(sc), " ",
        el("span", { class: "tag" }, t("plans.level_n", { level: level(sc.response_level) })),
        sc.general ? el("span", { class: "tag muted" }, t("plans.general")) : null,
        cov ? statusChip(cov.status) : null),
      dl([[t("plans.scenario_id"), sc.id], [t("plans.trigger"), trigText],
        [t("plans.isolation"), sc.isolation ? t("plans.isolation_m", sc.isolation)
          : t("plans.isolation_default")],
        [t("plans.assembly_points"), (sc.assembly_points || []).join("、") || null],
        [t("plans.notify"), (sc.notify || []).join("、") || null]]),
      el("h4", null, t("plans.required_forces")), forcesTable(sc.required_forces, cov),
      sc.escalation && sc.escalation.length ? [el("h4", null, t("plans.escalation")),
        el("ul", null, sc.escalation.map((s) => el("li", null,
          t("plans.escalate_to", { level: level(s.level) }), " ",
          [s.min_severity ? t("plans.if_severity", { n: s.min_severity }) : null,
            s.min_casualties !== null && s.min_casualties !== undefined
              ? t("plans.if_casualties", { n: s.min_casualties }) : null]
            .filter(Boolean).join(t("plans.or")),
          s.extra_forces.length ? ": + " + s.extra_forces.map((f) => cap(f.capability) + " × " +
            f.count + " (" + minutes(f.deadline_s) + ")").join(", ") : "")))] : null,
      tasks.length ? [el("h4", null, t("plans.tasks")), el("ol", { class: "pl-tasks" },
        tasks.map((k) => el("li", null, el("strong", null, k.title), " ",
          el("span", { class: "tag" }, cap(k.capability)), " ",
          el("span", { class: "hint" }, t("plans.due_after", { t: minutes(k.deadline_s) })),
          k.details ? el("div", { class: "hint" }, k.details) : null)))] : null);
  }

  // GB/T 29639-2020 parts; a plan without them reads as its scenarios only, marked incomplete
  const items = (xs) => el("ul", null, (xs || []).map((x) => el("li", null, x)));
  const duties = (ds) => el("ul", null, (ds || []).map((d) =>
    el("li", null, el("strong", null, d.role), "：", d.duties.join("；"))));

  function comprehensiveSection(doc) {
    const c = doc.comprehensive;
    if (!c) {
      return doc.enterprise ? el("section", { class: "pl-incomplete", role: "note" },
        "⚠ " + t("plans.gbt.incomplete")) : null;
    }
    const r = c.response, s = c.support, o = c.organisation;
    return el("section", { class: "pl-gbt" }, el("h2", null, t("plans.gbt.comprehensive")),
      dl([[t("plans.gbt.scope"), c.scope]]),
      el("h3", null, t("plans.gbt.grading")), items(c.response_grading),
      el("h3", null, t("plans.gbt.organisation")),
      dl([[t("plans.gbt.commander"), o.commander], [t("plans.gbt.deputy"), o.deputy]]),
      duties(o.groups),
      el("h3", null, t("plans.gbt.reporting", { min: c.information_reporting.time_limit_min })),
      items(c.information_reporting.internal.concat(c.information_reporting.external)),
      el("h3", null, t("plans.gbt.warning")), items(c.warning.sources.concat(
        [c.warning.release], c.warning.actions)),
      el("h3", null, t("plans.gbt.response_start")), items(r.start),
      el("h3", null, t("plans.gbt.disposal")), items(r.disposal),
      el("h3", null, t("plans.gbt.support_in")), items(r.support),
      el("h3", null, t("plans.gbt.termination")), items(r.termination),
      el("h3", null, t("plans.gbt.after_action")), items(c.after_action),
      el("h3", null, t("plans.gbt.support")), items(s.communications.concat(
        s.teams, s.supplies, s.other || [])));
  }

  function specialPlansSection(doc) {
    if (!doc.special_plans || !doc.special_plans.length) return null;
    return el("section", { class: "pl-gbt" }, el("h2", null, t("plans.gbt.special")),
      doc.special_plans.map((sp) => el("div", { class: "pl-card-inline" },
        el("h3", null, sp.name), el("p", null, sp.scope), duties(sp.organisation),
        el("h4", null, t("plans.gbt.response_start")), items(sp.response_start),
        el("h4", null, t("plans.gbt.measures")), items(sp.measures))));
  }

  function onsitePlansSection(doc) {
    if (!doc.onsite_plans || !doc.onsite_plans.length) return null;
    return el("section", { class: "pl-gbt" }, el("h2", null, t("plans.gbt.onsite")),
      doc.onsite_plans.map((op) => el("div", { class: "pl-card-inline" },
        el("h3", null, op.post), el("h4", null, t("plans.gbt.risks")), items(op.risks),
        duties(op.duties), el("h4", null, t("plans.gbt.disposal")), items(op.disposal),
        el("h4", null, t("plans.gbt.cautions")), items(op.cautions))));
  }

  function annexesSection(doc) {
    const a = doc.annexes;
    if (!a) return null;
    return el("section", { class: "pl-gbt" }, el("h2", null, t("plans.gbt.annexes")),
      dl([[t("plans.gbt.summary"), a.enterprise_summary]]),
      items(a.risk_assessment.concat(a.resource_list, a.drawings, a.agreements || [])));
  }

  function pocketCardsSection(doc) {
    if (!doc.pocket_cards || !doc.pocket_cards.length) return null;
    return el("section", null, el("h2", null, t("plans.pocket_cards")),
      doc.pocket_cards.map((c) => el("div", { class: "pl-card-inline" },
        el("h4", null, c.post), el("ol", null, c.steps.map((s) => el("li", null, s))),
        el("div", null, t("card.call"), " ", c.call.map((x) => x.name + " " + x.phone)
          .join("；")),
        el("div", null, t("card.escape"), " ", c.escape_route),
        el("div", null, t("card.assembly"), " ", c.assembly_point))));
  }

  function versionsSection(plan, shown, onChange) {
    return el("section", { class: "no-print" }, el("h2", null, t("plans.versions")),
      el("table", { class: "pl-table compact" }, el("tbody", null, plan.versions.map((v) =>
        el("tr", { class: v.version === shown ? "pl-row-current" : "" },
          el("td", null, el("a", { href: "?version=" + v.version }, "v" + v.version)),
          el("td", null, el("span", { class: "tag " + (v.status === "approved" ? "" : "muted") },
            t("plans.status." + v.status))),
          el("td", null, v.title),
          el("td", { class: "hint" }, v.approved_by ? t("plans.approved_by_on",
            { who: v.approved_by, on: v.approved_on }) : t("plans.created_by",
            { who: v.created_by })),
          el("td", { class: "pl-actions" },
            el("button", { type: "button", class: "btn small", onclick: () => download(
              "/plans/" + plan.plan_id + "/versions/" + v.version + "/export",
              "plan-" + plan.plan_id + "-v" + v.version + "." + v.source_format) },
            t("plans.export", { fmt: v.source_format.toUpperCase() })),
            ...lifecycleActions(plan, v, onChange)))))));
  }

  // the Measures' lifecycle: the enterprise reviews and its principal issues (recorded by
  // the county's staff), the county files; the county's own default plan is approved by it
  async function step(path, body, done) {
    try {
      await RL.api("POST", path, body);
      RL.toast(done, "ok");
      return true;
    } catch (e) { RL.toast(RL.errorText(e), "error"); return false; }
  }

  function lifecycleActions(plan, v, onChange) {
    const base = "/plans/" + plan.plan_id + "/versions/" + v.version;
    const today = new Date().toISOString().slice(0, 10);
    const out = [];
    if (plan.county_default) {
      if (isAdmin && v.status === "draft") out.push(el("button", { type: "button",
        class: "btn small primary", onclick: async () => {
          if (!(await RL.confirm(t("plans.confirm_approve", { v: v.version })))) return;
          if (await step(base + "/approve", undefined, t("plans.approved_toast", { v: v.version })))
            onChange();
        } }, t("plans.approve")));
      return out;
    }
    if (!mayUpload) return out;
    if (v.status === "draft") {
      if (!v.review || v.review.conclusion !== "passed") out.push(el("button", { type: "button",
        class: "btn small", dataset: { action: "review" }, onclick: async () => {
          const panel = window.prompt(t("plans.lifecycle.panel_prompt"), "");
          if (!panel) return;
          if (await step(base + "/review", { held_on: today, conclusion: "passed",
            panel: panel.split(/[,，、]/).map((x) => x.trim()).filter(Boolean) },
          t("plans.lifecycle.reviewed"))) onChange();
        } }, t("plans.lifecycle.review")));
      else out.push(el("button", { type: "button", class: "btn small primary",
        dataset: { action: "issue" }, onclick: async () => {
          const who = window.prompt(t("plans.lifecycle.principal_prompt"), "");
          if (!who) return;
          if (await step(base + "/issue", { principal: who, issued_on: today },
            t("plans.lifecycle.issued"))) onChange();
        } }, t("plans.lifecycle.issue")));
    }
    if (v.status === "approved" && !v.filed_on) out.push(el("button", { type: "button",
      class: "btn small primary", dataset: { action: "file" }, onclick: async () => {
        if (await step(base + "/file", {}, t("plans.lifecycle.filed"))) onChange();
      } }, t("plans.lifecycle.file") + (v.filing_due
      ? " · " + t("plans.lifecycle.due", { on: v.filing_due }) : "")));
    if (v.filed_on) out.push(el("a", { class: "btn small", href: "/plans/" + plan.plan_id +
      "/versions/" + v.version + "/filing-record" }, t("plans.lifecycle.record", { no: v.filing_no })));
    return out;
  }

  async function planPage() {
    const id = main.dataset.enterpriseId;
    const isDefault = id === "default";
    const wanted = Number(new URLSearchParams(location.search).get("version")) || null;
    RL.$("#upload-link").href = "/plans/" + id + "/upload";
    RL.$("#upload-link").hidden = !mayUpload || (isDefault && !isAdmin);
    RL.$("#print-plan").addEventListener("click", () => window.print());
    const box = RL.$("#plan-doc");
    let plan;
    try {
      plan = await RL.api("GET", isDefault ? "/plans/county-default" : "/enterprises/" + id +
        "/plan");
    } catch (e) {
      box.replaceChildren(el("p", { class: "empty" }, e.status === 404 ? t("enterprise.no_plan")
        : RL.errorText(e)));
      return;
    }
    let shown = plan.current;
    if (wanted && wanted !== plan.current_version) {
      shown = await RL.api("GET", "/plans/" + plan.plan_id + "/versions/" + wanted);
    }
    const cover = isDefault ? {} : await coverageByEnterprise();
    const ecov = cover[plan.enterprise_id];
    const covFor = (scId) => (ecov && shown && shown.version === ecov.version
      ? ecov.scenarios.find((s) => s.scenario_id === scId) : null);
    const e = plan.enterprise;
    const parts = [];
    if (!shown) {
      parts.push(el("h1", null, enterpriseName(e)),
        el("p", { class: "tag warn" }, t("plans.none_in_force")));
    } else {
      const doc = shown.document;
      document.title = localTitle(doc);
      RL.$("#cards-link").href = "/plans/" + id + "/cards";
      RL.$("#cards-link").hidden = isDefault || !doc.pocket_cards.length ||
        shown.version !== plan.current_version;
      parts.push(
        el("header", { class: "pl-doc-head" },
          el("div", { class: "hint" }, enterpriseName(e), e ? " · " + e.credit_code : ""),
          el("h1", null, localTitle(doc)),
          el("div", null, el("span", { class: "tag " + (shown.status === "approved" ? "" : "warn") },
            t("plans.status." + shown.status)), " ", t("plans.version_n", { v: shown.version }),
          shown.approved_by ? " · " + t("plans.approved_by_on", { who: shown.approved_by,
            on: shown.approved_on }) : "",
          shown.next_review ? el("span", { class: shown.review_overdue ? "tag overdue" : "" },
            " · " + t("plans.next_review", { d: shown.next_review }) +
            (shown.review_overdue ? " · " + t("plans.review_overdue") : "")) : null,
          ecov && ecov.status ? [" · ", statusChip(ecov.status)] : null)),
        e ? el("section", null, el("h2", null, t("plans.enterprise")), dl([
          [t("plans.address"), e.address], [t("plans.park"), e.park],
          [t("plans.on_duty_phone"), e.contacts && e.contacts.on_duty_phone],
          [t("plans.safety_manager"), e.contacts && e.contacts.safety_manager
            ? e.contacts.safety_manager.name + " " + e.contacts.safety_manager.phone : null],
          [t("plans.max_grade"), e.max_grade ? t("enterprise.grade", { n: e.max_grade }) : null],
        ])) : null,
        comprehensiveSection(doc),
        el("section", null, el("h2", null, t("plans.scenarios")),
          doc.scenarios.map((sc, i) => scenarioSection(sc, i, covFor(sc.id)))),
        specialPlansSection(doc),
        onsitePlansSection(doc),
        pocketCardsSection(doc),
        annexesSection(doc),
        doc.contacts.length ? el("section", null, el("h2", null, t("plans.contacts")),
          el("table", { class: "pl-table compact" }, el("tbody", null, doc.contacts.map((c) =>
            el("tr", null, el("td", null, c.name), el("td", null, c.role),
              el("td", { class: "pl-phone" }, c.phone)))))) : null,
        doc.assembly_points.length ? el("section", null, el("h2", null,
          t("plans.assembly_points")), el("ul", null, doc.assembly_points.map((p) =>
          el("li", null, p.name, " ", el("span", { class: "hint" },
            p.lat.toFixed(5) + ", " + p.lon.toFixed(5)))))) : null,
        ecov && ecov.station_out.length ? el("section", null,
          el("h2", null, t("plans.station_out")), el("ul", null, ecov.station_out.map((s) =>
            el("li", null, t("plans.station_out_line", { station: s.station,
              scenario: s.scenario_id, from: t("plans.coverage." + s.from),
              to: t("plans.coverage." + s.to), cap: cap(s.bottleneck) }))))) : null);
    }
    parts.push(versionsSection(plan, shown && shown.version, () => planPage()));
    box.replaceChildren(...parts.flat().filter(Boolean));
  }

  // ---- /plans/<id>/upload --------------------------------------------------------------------

  function showProblems(text, problems) {
    const section = RL.$("#problems");
    const byLine = {};
    const unplaced = [];
    problems.forEach((p) => {
      if (p.line) (byLine[p.line] = byLine[p.line] || []).push(p);
      else unplaced.push(p);
    });
    RL.$("#problems-title").textContent = t("plans.problems_n", { n: problems.length });
    RL.$("#problems-unplaced").replaceChildren(...unplaced.map((p) =>
      el("li", { class: "pl-problem" }, el("code", null, p.path), " ", p.message)));
    const lines = text.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    const view = RL.$("#source-view");
    view.replaceChildren(...lines.map((line, i) => {
      const here = byLine[i + 1] || [];
      return el("li", { class: here.length ? "pl-bad-line" : "", id: "line-" + (i + 1) },
        el("code", null, line || " "),
        here.map((p) => el("div", { class: "pl-problem", role: "note" }, "⚠ ",
          el("code", null, p.path), " ", p.message)));
    }));
    section.hidden = false;
    const first = view.querySelector(".pl-bad-line");
    if (first) first.scrollIntoView({ block: "center" });
  }

  async function uploadPage() {
    const id = main.dataset.enterpriseId;
    const isDefault = id === "default";
    RL.$("#back-link").href = "/plans/" + id;
    if (!mayUpload || (isDefault && !isAdmin)) {
      RL.$("#upload-form").replaceChildren(el("p", { class: "form-error" },
        t("plans.upload_not_allowed")));
      return;
    }
    if (!isDefault) {
      try {
        const e = await RL.api("GET", "/enterprises/" + id);
        RL.$("#upload-title").textContent = t("plans.upload_for", { name: RL.localName(e) });
      } catch (err) { RL.toast(RL.errorText(err), "error"); }
    } else {
      RL.$("#upload-title").textContent = t("plans.upload_for", {
        name: t("plans.county_default") });
    }
    const fileInput = RL.$("#plan-file");
    const fmt = RL.$("#plan-format");
    const area = RL.$("#plan-text");
    fileInput.addEventListener("change", async () => {
      const f = fileInput.files[0];
      if (!f) return;
      area.value = await f.text();
      fmt.value = /\.json$/i.test(f.name) ? "json" : "yaml";
    });
    RL.$("#upload-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = area.value;
      const result = RL.$("#upload-result");
      result.replaceChildren();
      RL.$("#problems").hidden = true;
      const button = RL.$("#upload-submit");
      button.disabled = true;
      try {
        const path = isDefault ? "/plans/county-default/versions" : "/enterprises/" + id +
          "/plans";
        const resp = await sendFile(path, text, fmt.value === "json" ? "application/json"
          : "application/yaml");
        if (resp.ok) {
          const v = resp.body;
          result.append(el("p", { class: "pl-ok", role: "status" },
            t("plans.draft_saved", { v: v.version }), " ",
            el("a", { href: "/plans/" + id + "?version=" + v.version }, t("plans.open"))));
        } else if (resp.body && resp.body.problems) {
          showProblems(text, resp.body.problems);
        } else {
          const e = (resp.body && resp.body.error) || {};
          result.append(el("p", { class: "form-error" }, RL.errorText({ code: e.code,
            message: e.message })));
        }
      } catch (e) {
        result.append(el("p", { class: "form-error" }, RL.errorText(e)));
      } finally {
        button.disabled = false;
      }
    });
  }

  // ---- /plans/<id>/cards ---------------------------------------------------------------------

  async function cardsPage() {
    const id = main.dataset.enterpriseId;
    const only = main.dataset.index === "" ? null : Number(main.dataset.index);
    RL.$("#print-cards").addEventListener("click", () => window.print());
    const box = RL.$("#pocket-cards");
    let data;
    try {
      data = await RL.api("GET", "/enterprises/" + id + "/plan/cards");
    } catch (e) {
      box.replaceChildren(el("p", { class: "empty" }, RL.errorText(e)));
      return;
    }
    const cards = only === null ? data.cards : data.cards.filter((c) => c.index === only);
    if (!cards.length) {
      box.replaceChildren(el("p", { class: "empty" }, t("cards.none")));
      return;
    }
    const title = (RL.lang === "en" && data.title_en) || data.title;
    box.replaceChildren(...cards.map((c) => {
      const qr = el("div", { class: "pocket-qr", "aria-label": t("plans.qr_label") });
      // the SVG is generated on the server by the qrcode library from the card's own URL
      qr.innerHTML = c.qr_svg;
      return el("article", { class: "pocket-card" }, qr,
        el("h2", null, c.post),
        el("div", { class: "pocket-sub" }, RL.localName(data.enterprise), " · ", title,
          " · v" + data.version),
        el("h3", null, t("plans.card_steps")),
        el("ol", null, c.steps.map((s) => el("li", null, s))),
        el("h3", null, t("plans.card_call")),
        el("table", null, el("tbody", null, c.call.map((x) => el("tr", null,
          el("td", null, x.name), el("td", { class: "pl-phone" }, x.phone))))),
        c.onsite_plan ? el("h3", null, t("plans.gbt.onsite")) : null,
        c.onsite_plan ? el("ul", null, c.onsite_plan.disposal.map((s) => el("li", null, s))
          .concat(c.onsite_plan.cautions.map((s) => el("li", { class: "caution" }, "⚠ " + s))))
          : null,
        el("h3", null, t("plans.card_escape")), el("p", null, c.escape_route),
        el("h3", null, t("plans.card_assembly")), el("p", null, c.assembly_point,
          c.assembly_location ? el("span", { class: "hint" }, " (" +
            c.assembly_location.lat.toFixed(5) + ", " + c.assembly_location.lon.toFixed(5) + ")")
            : null));
    }));
  }

  const pages = { plans: listPage, plan: planPage, upload: uploadPage, cards: cardsPage };
  RL.ready.then(() => pages[page]()).catch((e) => RL.toast(RL.errorText(e), "error"));
})();
