// releng-o-tron's page: what a token holder can do to a build (waive, revoke a waiver,
// promote/hold/release, rerun when the server has it), each with a reason, through the
// token-guarded API. The token stays in this tab (sessionStorage), sent as a bearer token.
"use strict";

(function () {
  const TOKEN_KEY = "relengotron.token";
  const USER_KEY = "relengotron.username";
  const OVERRIDES = [
    ["promote", "Promote", "let it through to rawhide whatever the tests say"],
    ["hold", "Hold", "keep it in rawhide-pending"],
    ["release", "Release", "drop an earlier promote/hold override: the policies decide again"],
  ];

  // The outcome of the last action stays shown when the panel is drawn again (the page
  // redraws it when the log moves, which the action itself makes happen).
  let last = null;

  function stored(key) {
    try {
      return window.sessionStorage.getItem(key) || "";
    } catch (_) {
      return "";
    }
  }

  function store(key, value) {
    try {
      window.sessionStorage.setItem(key, value);
    } catch (_) {
      /* private mode: typed again next time */
    }
  }

  // Requirements a waiver can answer (unsatisfied) and waivers that can be revoked.
  const RERUNNABLE = ["test-result-failed", "test-result-errored"];

  function requirementsOf(build, stateOf) {
    const d = build.decision || {};
    const waivable = (d.unsatisfied_requirements || []).filter((r) => r.testcase);
    const waived = [...(d.satisfied_requirements || []), ...(d.unsatisfied_requirements || [])].filter(
      (r) => r.testcase && stateOf(r) === "waived",
    );
    return { waivable, waived };
  }

  function render(container, build, info, h) {
    const { el, fill, request, stateOf, reload } = h;
    if (!info.writes) {
      fill(container, el("p", { class: "muted small read-only" }, "Read-only: this server has no API token configured, so nothing can be changed here."));
      return;
    }
    const nvr = build.nvr;
    const token = el("input", { type: "password", id: "act-token", value: stored(TOKEN_KEY), placeholder: "API token", autocomplete: "off", "aria-label": "API token" });
    const user = el("input", { type: "text", id: "act-user", value: stored(USER_KEY), placeholder: "your FAS name", "aria-label": "your name" });
    token.addEventListener("change", () => store(TOKEN_KEY, token.value.trim()));
    user.addEventListener("change", () => store(USER_KEY, user.value.trim()));
    const form = el("div", { class: "act-form", id: "act-form", hidden: true });
    const result = el("div", { class: "act-result", id: "act-result", role: "status" });
    function outcome(kind, text) {
      last = { nvr, kind, text };
      fill(result, el("div", { class: kind, role: kind === "error" ? "alert" : null }, text));
    }
    if (last && last.nvr === nvr) outcome(last.kind, last.text);

    // One action: ask for the reason, then send it.
    function ask(label, describe, send) {
      const reasonBox = el("textarea", { id: "act-reason", rows: "2", placeholder: "Why? (recorded with the action)", required: true });
      const confirm = el("button", { type: "button", id: "act-confirm", class: "primary", disabled: true }, label);
      const cancel = el("button", { type: "button", class: "link", id: "act-cancel" }, "Cancel");
      reasonBox.addEventListener("input", () => {
        confirm.disabled = !reasonBox.value.trim();
      });
      cancel.addEventListener("click", () => {
        form.hidden = true;
        fill(form);
      });
      confirm.addEventListener("click", async () => {
        const why = reasonBox.value.trim();
        if (!why) return;
        if (!token.value.trim() || !user.value.trim()) {
          outcome("error", "Give the API token and your name first.");
          return;
        }
        store(TOKEN_KEY, token.value.trim());
        store(USER_KEY, user.value.trim());
        confirm.disabled = true;
        fill(result, el("div", { class: "muted sending" }, `${label}: sending…`));
        try {
          const response = await send(why, user.value.trim(), token.value.trim());
          let out = {};
          try {
            out = await response.json();
          } catch (_) {
            /* no body */
          }
          form.hidden = true;
          fill(form);
          outcome("ok", `${label}: recorded (HTTP ${response.status})` + (out.verdict ? `, verdict now ${out.verdict}` : ""));
          reload();
        } catch (err) {
          confirm.disabled = false;
          const status = err.status ? `HTTP ${err.status}: ` : "";
          outcome("error", `${label} failed: ${status}${err.reason || err.message}`);
        }
      });
      form.hidden = false;
      fill(form, el("div", { class: "act-what" }, describe), reasonBox, el("div", { class: "act-buttons" }, confirm, " ", cancel));
      reasonBox.focus();
    }

    function post(url, body, bearer) {
      return request(url, "application/json", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${bearer}` },
        body: JSON.stringify(body),
      });
    }

    const overrides = OVERRIDES.map(([action, label, what]) =>
      el(
        "button",
        {
          type: "button",
          class: `act act-${action}`,
          "data-action": action,
          title: what,
          onclick: () =>
            ask(label, `${label} ${nvr}: ${what}.`, (why, username, bearer) =>
              post(`/api/v1/builds/${encodeURIComponent(nvr)}/${action}`, { reason: why, username }, bearer),
            ),
        },
        label,
      ),
    );

    const { waivable, waived } = requirementsOf(build, stateOf);
    function waiverButton(req, waive) {
      const label = waive ? "Waive" : "Revoke waiver";
      return el(
        "button",
        {
          type: "button",
          class: `act act-${waive ? "waive" : "revoke"}`,
          "data-action": waive ? "waive" : "revoke",
          "data-testcase": req.testcase,
          onclick: () =>
            ask(label, `${label}: ${req.testcase} for ${req.subject_identifier || nvr}.`, (why, username, bearer) =>
              post(
                "/api/v1/waivers",
                {
                  subject_type: req.subject_type || "koji_build",
                  subject_identifier: req.subject_identifier || nvr,
                  testcase: req.testcase,
                  scenario: req.scenario || null,
                  waived: waive,
                  comment: why,
                  username,
                },
                bearer,
              ),
            ),
        },
        label,
      );
    }
    // Rerun, offered before waiving: for a failed or errored test, when the server has
    // the rerun endpoint (POST /api/v1/builds/{nvr}/rerun: testcase, scenario, reason).
    function rerunButton(req) {
      if (!info.rerun || !RERUNNABLE.includes(req.type)) return null;
      return el(
        "button",
        {
          type: "button",
          class: "act act-rerun",
          "data-action": "rerun",
          "data-testcase": req.testcase,
          title: "ask CI to run this test again",
          onclick: () =>
            ask("Rerun", `Rerun ${req.testcase} of ${nvr}.`, (why, username, bearer) =>
              post(
                info.rerun.replace("{nvr}", encodeURIComponent(nvr)),
                { testcase: req.testcase, scenario: req.scenario || null, reason: why, username },
                bearer,
              ),
            ),
        },
        "Rerun",
      );
    }
    const waivers = [
      ...waivable.map((r) =>
        el("li", {}, rerunButton(r), rerunButton(r) ? " " : null, waiverButton(r, true), " ", el("code", {}, r.testcase)),
      ),
      ...waived.map((r) => el("li", {}, waiverButton(r, false), " ", el("code", {}, r.testcase))),
    ];

    fill(
      container,
      el(
        "div",
        { class: "act-panel" },
        el("h3", {}, "Actions"),
        el("div", { class: "act-creds" }, el("label", {}, "Token ", token), el("label", {}, "Name ", user)),
        el("div", { class: "act-buttons" }, overrides),
        waivers.length ? el("ul", { class: "act-waivers" }, waivers) : null,
        form,
        result,
      ),
    );
  }

  window.RelengActions = { render };
})();
