// The filing record (备案登记表) the county issues for a filed plan version; prints on A4.
(function () {
  "use strict";
  const RL = window.RL;
  const el = RL.el;
  const t = (k, v) => RL.t(k, v);
  const main = document.querySelector("main[data-plan-id]");
  const auth = RL.requireAuth(["duty_officer", "admin", "trainer"]);
  if (!auth) return;
  RL.bindLangButton(document.getElementById("lang-switch"));
  const who = document.getElementById("user-name");
  if (who) who.textContent = auth.username || "";

  async function show() {
    const box = document.getElementById("filing-record");
    let r;
    try {
      r = await RL.api("GET", "/plans/" + main.dataset.planId + "/versions/" +
        main.dataset.version + "/filing-record");
    } catch (e) {
      box.replaceChildren(el("p", { class: "error", role: "alert" }, RL.errorText(e)));
      return;
    }
    const review = r.review ? r.review.panel.join("、") + " · " + r.review.held_on + " · " +
      t("filing." + r.review.conclusion) : "—";
    const rows = [
      ["filing.no", r.filing_no], ["filing.enterprise", r.enterprise],
      ["filing.credit_code", r.credit_code], ["filing.address", r.address],
      ["filing.plan", r.title], ["filing.version", "v" + r.version],
      ["filing.issued", (r.issued_by || "") + " / " + (r.issued_on || "")],
      ["filing.review", review],
      ["filing.parts", t("filing.parts_text", { special: r.parts.special_plans,
        onsite: r.parts.onsite_plans, scenarios: r.parts.scenarios })],
      ["filing.due", r.filing_due],
      ["filing.filed", r.filed_on + " / " + r.filed_by + " · " +
        (r.filed_late ? t("filing.late") : t("filing.on_time"))],
      ["filing.next_review", r.next_review],
    ];
    box.replaceChildren(el("h1", null, t("filing.title")),
      el("table", { class: "pl-table filing-table" }, el("tbody", null, rows.map(([k, v]) =>
        el("tr", null, el("th", { scope: "row" }, t(k)), el("td", null, v || "—"))))));
  }

  document.getElementById("print-record").addEventListener("click", () => window.print());
  RL.ready.then(show);
})();
