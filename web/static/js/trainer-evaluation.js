// The AQ/T 9009 evaluation report of one drill, in the standard's five sections; prints to PDF.
(function () {
  "use strict";
  const { api, download, el, when, t } = window.Trainer;
  const drillId = Number(document.body.dataset.drillId);

  function dl(box, rows) {
    box.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", { text: v })]));
  }
  const list = (xs) => (xs && xs.length ? xs.join("、") : t("none"));
  const named = (prefix, v) => (v ? t(prefix + v) : t("none"));

  async function show() {
    const err = document.getElementById("report-error");
    err.textContent = "";
    let r;
    try {
      r = await api("GET", "/drills/" + drillId + "/evaluation");
    } catch (e) {
      err.textContent = e.message;
      return;
    }
    const b = r.basic_situation;
    dl(document.getElementById("basic"), [
      ["drill_title", b.title || t("none")], ["drill_type", named("drill_type.", b.drill_type)],
      ["scope", named("scope.", b.scope)], ["phase", named("phase.", b.phase)],
      ["enterprise", b.enterprise || t("none")], ["scenario", b.scenario || t("none")],
      ["started", when(b.started_at)], ["ended", when(b.ended_at)],
      ["objectives", list(b.objectives)], ["participants", list(b.participants)],
      ["evaluators", list(b.evaluators)], ["safety_plan", b.safety_plan || t("none")],
    ]);
    const p = r.evaluation_process;
    document.getElementById("msel-rows").replaceChildren(...p.msel.map((m) => el("tr", {},
      el("td", { text: m.at_s }), el("td", { text: m.inject }), el("td", { text: m.player }),
      el("td", { text: m.expected_action }))));
    document.getElementById("obs-rows").replaceChildren(...p.observations.map((o) => el("tr", {},
      el("td", { text: when(o.observed_at) }), el("td", { text: o.evaluator }),
      el("td", { text: t("area." + o.area) }), el("td", { text: t("rating." + o.rating) }),
      el("td", { text: o.note }))));
    document.getElementById("area-rows").replaceChildren(...r.analysis.areas.map((a) => el("tr", {},
      el("td", { text: t("area." + a.area) }), el("td", { text: a.counts.met }),
      el("td", { text: a.counts.partly_met }), el("td", { text: a.counts.not_met }),
      el("td", { text: t("rating." + a.conclusion) }))));
    const score = r.analysis.timing_score;
    document.getElementById("timing-score").textContent = score === null || score === undefined ? t("none") : score;
    const s = r.improvement_suggestions;
    document.getElementById("items").replaceChildren(...s.items.map((i) => el("li", {},
      i.text + " · " + (i.owner || t("none")) + " · " + (i.due || t("none")) + " · " + t("item_status." + i.status))));
    document.getElementById("shortfalls").replaceChildren(...s.shortfalls.map((o) => el("li", {},
      t("area." + o.area) + " · " + t("rating." + o.rating) + (o.note ? " · " + o.note : ""))));
    const c = r.conclusion;
    dl(document.getElementById("conclusion"), [
      ["result", t("rating." + c.result)],
      ["timing_score", c.timing_score === null || c.timing_score === undefined ? t("none") : String(c.timing_score)],
      ["areas_not_evaluated", c.areas_not_evaluated.length ? c.areas_not_evaluated.map((a) => t("area." + a)).join("、") : t("none")],
      ["open_items", String(c.open_items)],
    ]);
  }

  function start() {
    document.getElementById("print").addEventListener("click", () => window.print());
    document.getElementById("export-csv").addEventListener("click", () =>
      download("/drills/" + drillId + "/evaluation.csv", "drill-" + drillId + "-evaluation.csv"));
    show();
    document.addEventListener("trainer:lang", show);
  }

  window.Trainer.initLogin(start);
})();
