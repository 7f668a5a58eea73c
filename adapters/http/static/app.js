// releng-o-tron's page: fills index.html from the JSON API. No framework, no build step.
"use strict";

(function () {
  const API = "/api/v1";
  const TIMEOUT_MS = 20000;
  const PENDING_GATES = ["candidate", "held", "waived"];
  const VERDICT_LABELS = {
    promote: "promote",
    waived: "waived",
    hold: "hold",
    quarantine: "quarantine",
  };
  const TYPE_STATES = {
    "test-result-passed": "passed",
    "test-result-missing": "pending",
    "test-result-failed": "failed",
    "test-result-errored": "errored",
    "test-result-waived": "waived",
    signed: "passed",
    unsigned: "unsigned",
    "batch-recheck-pending": "pending",
  };

  // ------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function fill(container, ...children) {
    container.replaceChildren(...children.flat(Infinity).filter((c) => c));
  }

  // "2026-11-20T09:41:19+00:00" -> "2026-11-20 09:41:19 UTC"
  function utc(value) {
    if (!value) return "—";
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) return String(value);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "").replace(/Z$/, "") + " UTC";
  }

  function timeEl(value) {
    return el("time", { datetime: value || null, class: "when" }, utc(value));
  }

  async function request(url, accept) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    let response;
    try {
      response = await fetch(url, {
        headers: { Accept: accept || "application/json" },
        signal: controller.signal,
      });
    } catch (err) {
      const why = err.name === "AbortError" ? `no answer in ${TIMEOUT_MS / 1000} s` : err.message;
      throw new Error(`${url}: ${why}`);
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      let message = response.statusText;
      try {
        const body = await response.json();
        const m = body.message ?? body.detail;
        if (m) message = typeof m === "string" ? m : JSON.stringify(m);
      } catch (_) {
        /* not JSON: keep the status text */
      }
      const error = new Error(`${url}: HTTP ${response.status}${message ? " — " + message : ""}`);
      error.status = response.status;
      error.reason = message;
      throw error;
    }
    return response;
  }

  async function getJSON(url) {
    return (await request(url)).json();
  }

  function errorBox(what, err) {
    return el("div", { class: "error", role: "alert" }, el("strong", {}, what + ": "), err.message);
  }

  function empty(text) {
    return el("p", { class: "empty" }, text);
  }

  function verdictBadge(verdict) {
    if (!verdict) return el("span", { class: "badge verdict-none" }, "no decision");
    const known = VERDICT_LABELS[verdict];
    return el(
      "span",
      { class: `badge verdict verdict-${known ? verdict : "other"}`, title: `verdict: ${verdict}` },
      known || verdict,
    );
  }

  function stateOf(req) {
    return req.state || TYPE_STATES[req.type] || (req.type || "unknown").replace(/^test-result-/, "");
  }

  function stateBadge(state) {
    return el("span", { class: `badge state state-${state}`, title: `state: ${state}` }, state);
  }

  function nvrLink(nvr) {
    return el(
      "a",
      {
        href: `#build=${encodeURIComponent(nvr)}`,
        class: "nvr",
        "data-nvr": nvr,
        title: "Show this build's history",
      },
      nvr,
    );
  }

  function requirementItem(req) {
    const state = stateOf(req);
    const where = [];
    if (req.scenario) where.push(`scenario ${req.scenario}`);
    if (req.subject_identifier && req.subject_type && req.subject_type !== "koji_build") {
      where.push(`${req.subject_type} ${req.subject_identifier}`);
    }
    return el(
      "li",
      { class: `req req-${state}`, "data-state": state },
      stateBadge(state),
      " ",
      el("code", { class: "testcase" }, req.testcase || req.type || "?"),
      where.length ? el("span", { class: "muted" }, ` (${where.join(", ")})`) : null,
      req.detail ? el("div", { class: "req-detail" }, req.detail) : null,
    );
  }

  function requirements(reqs, label) {
    if (!reqs || !reqs.length) return null;
    return el(
      "div",
      { class: "reqs" },
      label ? el("div", { class: "reqs-label" }, label) : null,
      el("ul", { class: "reqs-list" }, reqs.map(requirementItem)),
    );
  }

  function reason(decision, summary) {
    const d = decision || {};
    return el(
      "div",
      { class: "reason" },
      el("div", { class: "summary" }, summary || d.summary || "—"),
      requirements(d.unsatisfied_requirements, "Unsatisfied requirements"),
    );
  }

  function table(headers, rows, cls) {
    return el(
      "table",
      { class: cls || "" },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows),
    );
  }

  // ------------------------------------------------------------ sections

  function buildTable(builds, emptyText) {
    if (!builds.length) return empty(emptyText);
    const rows = builds.map((b) =>
      el(
        "tr",
        { "data-nvr": b.nvr },
        el(
          "td",
          { class: "build-cell" },
          nvrLink(b.nvr),
          el("div", { class: "muted small" }, b.owner ? `owner ${b.owner}` : "", b.tags && b.tags.length ? ` · tags: ${b.tags.join(", ")}` : ""),
        ),
        el("td", {}, verdictBadge(b.verdict)),
        el("td", {}, reason(b.decision)),
        el("td", { class: "nowrap" }, timeEl(b.decided_at || b.updated_at)),
      ),
    );
    return table(["Build", "Verdict", "Why", "Decided"], rows, "builds");
  }

  // Several gates in one section: one request each, merged (a build has one gate).
  async function loadBuilds(gates, id, emptyText) {
    const body = byId(`${id}-body`);
    const count = byId(`${id}-count`);
    try {
      const answers = await Promise.all(
        gates.map((g) => getJSON(`${API}/builds?gate=${encodeURIComponent(g)}`)),
      );
      const builds = answers.flatMap((data) => data.builds || []);
      builds.sort((a, b) => a.nvr.localeCompare(b.nvr));
      count.textContent = String(builds.length);
      fill(body, buildTable(builds, emptyText));
    } catch (err) {
      count.textContent = "";
      fill(body, errorBox(`Could not load the ${gates.join("/")} builds`, err));
    }
  }

  function triggerText(trigger) {
    if (!trigger) return null;
    if (typeof trigger === "string") return trigger;
    return trigger.summary || trigger.kind || trigger.event || JSON.stringify(trigger);
  }

  function decisionTable(decisions) {
    if (!decisions.length) return empty("No decisions yet");
    const rows = decisions.map((d) => {
      const trigger = triggerText(d.trigger);
      return el(
        "tr",
        { "data-nvr": d.nvr },
        el("td", { class: "nowrap" }, timeEl(d.at)),
        el("td", { class: "build-cell" }, nvrLink(d.nvr), d.context ? el("div", { class: "muted small" }, d.context) : null),
        el(
          "td",
          { class: "nowrap" },
          d.previous ? [verdictBadge(d.previous), el("span", { class: "arrow" }, " → ")] : null,
          verdictBadge(d.verdict),
        ),
        el(
          "td",
          {},
          reason(d.decision, d.summary),
          trigger ? el("div", { class: "muted small" }, `trigger: ${trigger}`) : null,
        ),
      );
    });
    return table(["When", "Build", "Verdict", "Reason"], rows, "decisions");
  }

  async function loadDecisions() {
    const body = byId("decisions-body");
    try {
      const data = await getJSON(`${API}/decisions?limit=20`);
      fill(body, decisionTable(data.decisions || []));
    } catch (err) {
      fill(body, errorBox("Could not load the decisions", err));
    }
  }

  async function loadGraph() {
    const body = byId("graph-body");
    const artifact = byId("graph-artifact").value;
    const url = `${API}/graph.svg` + (artifact ? `?artifact=${encodeURIComponent(artifact)}` : "");
    try {
      const text = await (await request(url, "image/svg+xml")).text();
      const doc = new DOMParser().parseFromString(text, "image/svg+xml");
      const svg = doc.documentElement;
      if (!svg || svg.nodeName.toLowerCase() !== "svg" || doc.querySelector("parsererror")) {
        throw new Error(`${url}: not an SVG drawing`);
      }
      const node = document.importNode(svg, true);
      node.querySelectorAll("script").forEach((s) => s.remove());
      node.setAttribute("role", "img");
      node.setAttribute("aria-label", "artifact dependency graph");
      fill(body, node);
    } catch (err) {
      fill(
        body,
        el(
          "div",
          { class: "error", role: "alert" },
          el("strong", {}, "Graph unavailable: "),
          err.reason || err.message,
        ),
      );
    }
  }

  async function loadArtifacts() {
    const select = byId("graph-artifact");
    try {
      const data = await getJSON(`${API}/artifacts`);
      const chosen = select.value;
      const names = (data.artifacts || []).map((a) => a.name).sort();
      select.replaceChildren(
        el("option", { value: "" }, "all artifacts"),
        ...names.map((n) => el("option", { value: n, selected: n === chosen }, n)),
      );
      select.title = "";
    } catch (err) {
      select.title = `artifact list unavailable: ${err.message}`;
    }
  }

  // ------------------------------------------------------------ build detail

  function historyTable(history) {
    if (!history.length) return empty("No events recorded for this build");
    const rows = history.map((h) =>
      el(
        "tr",
        {},
        el("td", { class: "nowrap" }, timeEl(h.at)),
        el("td", {}, el("code", {}, h.kind || h.event || "?")),
        el("td", {}, h.summary || ""),
      ),
    );
    return table(["When", "Event", "What happened"], rows, "history");
  }

  function actionsTable(actions) {
    if (!actions.length) return empty("No koji moves or messages requested");
    const rows = actions.map((a) => {
      const p = a.params || {};
      const what = p.from_tag && p.to_tag ? `${p.from_tag} → ${p.to_tag}` : p.topic || p.kind || "";
      return el(
        "tr",
        {},
        el("td", { class: "nowrap" }, timeEl(a.requested_at)),
        el("td", {}, el("code", {}, a.kind || "?"), what ? el("div", { class: "small" }, what) : null),
        el("td", {}, a.reason || ""),
        el(
          "td",
          {},
          el("span", { class: `badge outcome outcome-${a.outcome || "pending"}` }, a.outcome || "pending"),
          a.detail ? el("div", { class: "muted small" }, a.detail) : null,
          a.done_at ? el("div", { class: "muted small" }, utc(a.done_at)) : null,
        ),
      );
    });
    return table(["Requested", "Action", "Reason", "Outcome"], rows, "actions");
  }

  function buildSummary(b) {
    const d = b.decision || {};
    const gate = b.gate || "none";
    const koji = [b.state || "—", b.koji_id ? ` (build ${b.koji_id})` : ""].join("");
    const facts = [
      ["Gate", el("span", { class: `badge gate gate-${gate}` }, gate)],
      ["Latest verdict", [verdictBadge(b.verdict), " ", el("span", { class: "muted" }, utc(b.decided_at))]],
      ["Owner", b.owner || "—"],
      ["Tags", b.tags && b.tags.length ? b.tags.join(", ") : "—"],
      ["Koji build", koji],
      b.change ? ["Dist-git change", el("code", {}, b.change)] : null,
      ["First seen", utc(b.first_seen)],
    ].filter((f) => f);
    return el(
      "div",
      { class: "build-summary" },
      el("dl", { class: "facts" }, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      reason(d),
      d.satisfied_requirements && d.satisfied_requirements.length
        ? el(
            "details",
            {},
            el("summary", {}, `Satisfied requirements (${d.satisfied_requirements.length})`),
            requirements(d.satisfied_requirements.map((r) => ({ state: stateOf(r), ...r }))),
          )
        : null,
    );
  }

  async function showBuild(nvr) {
    const panel = byId("build-detail");
    const body = byId("detail-body");
    byId("detail-nvr").textContent = nvr;
    panel.hidden = false;
    fill(body, el("p", { class: "muted" }, "Loading…"));
    panel.scrollIntoView({ block: "start" });
    try {
      const data = await getJSON(`${API}/builds/${encodeURIComponent(nvr)}`);
      if (byId("detail-nvr").textContent !== nvr) return; // another build was clicked since
      const build = data.build || data; // {"build": {...}, "history": ...} or flat
      const decisions = [...(data.decisions || [])];
      decisions.sort((a, b) => (b.position ?? 0) - (a.position ?? 0)); // newest first
      fill(
        body,
        buildSummary(build),
        el("h3", {}, "History"),
        historyTable(data.history || []),
        el("h3", {}, "Koji moves and messages"),
        actionsTable(data.actions || []),
        el("h3", {}, "Decisions"),
        decisionTable(decisions),
      );
    } catch (err) {
      const what = err.status === 404 ? "Unknown build" : `Could not load build ${nvr}`;
      fill(body, errorBox(what, err));
    }
  }

  function buildFromHash() {
    const m = /^#build=(.+)$/.exec(window.location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }

  function onHash() {
    const nvr = buildFromHash();
    if (nvr) showBuild(nvr);
    else byId("build-detail").hidden = true;
  }

  // ------------------------------------------------------------ page

  async function loadAll() {
    const stamp = byId("loaded-at");
    stamp.textContent = "Loading…";
    document.body.dataset.loaded = "false";
    await Promise.allSettled([
      // still in rawhide-pending: decided to promote but not moved yet (candidate),
      // waiting for results (held), or promoted by a waiver but not moved yet (waived)
      loadBuilds(PENDING_GATES, "pending", "No builds pending"),
      loadBuilds(["quarantined"], "quarantined", "No builds quarantined"),
      loadDecisions(),
      loadArtifacts().then(loadGraph),
    ]);
    stamp.textContent = `Updated ${utc(new Date().toISOString())}`;
    document.body.dataset.loaded = "true";
  }

  document.addEventListener("DOMContentLoaded", () => {
    byId("refresh").addEventListener("click", loadAll);
    byId("graph-artifact").addEventListener("change", loadGraph);
    byId("detail-close").addEventListener("click", () => {
      history.pushState(null, "", window.location.pathname + window.location.search);
      byId("build-detail").hidden = true;
    });
    window.addEventListener("hashchange", onHash);
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a.nvr");
      // the same build again: the hash does not change, so show it here
      if (link && buildFromHash() === link.dataset.nvr) {
        event.preventDefault();
        showBuild(link.dataset.nvr);
      }
    });
    loadAll();
    onHash();
  });
})();
