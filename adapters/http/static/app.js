// releng-o-tron's page: fills index.html from the JSON API. No framework, no build step.
"use strict";

(function () {
  const API = "/api/v1";
  const PAGE = "/api/v1/page";
  const POLL_MS = 5000; // without EventSource: how often the log position is asked
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

  // GET (or, with init, anything else): the answer, or an Error naming the URL, the
  // status and the server's message.
  async function request(url, accept, init) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    let response;
    try {
      const headers = { Accept: accept || "application/json", ...((init && init.headers) || {}) };
      response = await fetch(url, { ...(init || {}), headers, signal: controller.signal });
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

  // A link out of the page (koji, dist-git, Bodhi, CI, the bus): a new tab, no referrer.
  function outLink(href, text, cls) {
    if (!href) return null;
    return el("a", { href, class: `out ${cls || ""}`, target: "_blank", rel: "noopener noreferrer" }, text);
  }

  function buildLinks(links) {
    if (!links) return null;
    const parts = [
      outLink(links.koji, "koji", "link-koji"),
      outLink(links.distgit, "dist-git", "link-distgit"),
      outLink(links.bodhi, "Bodhi", "link-bodhi"),
    ].filter((x) => x);
    if (!parts.length) return null;
    return el("span", { class: "links small" }, parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.round(seconds);
    if (s < 120) return `${s} s`;
    if (s < 7200) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${Math.round(s / 3600)} h`;
    return `${Math.round(s / 86400)} d`;
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

  // ------------------------------------------------------------ state and filters

  const state = {
    info: { links: {}, writes: false, rerun: null },
    builds: { pending: [], quarantined: [], promoted: [] },
    decisions: [],
    loaded: { pending: false, quarantined: false, promoted: false, decisions: false },
    artifacts: [],
    position: null,
  };
  const SECTIONS = {
    // still in rawhide-pending: decided to promote but not moved yet (candidate),
    // waiting for results (held), or promoted by a waiver but not moved yet (waived)
    pending: { gates: PENDING_GATES, empty: "No builds pending" },
    quarantined: { gates: ["quarantined"], empty: "No builds quarantined" },
    promoted: { gates: ["promoted"], empty: "No builds promoted", limit: 100 },
  };

  function packageOf(nvr) {
    const parts = String(nvr || "").split("-");
    return parts.length >= 3 ? parts.slice(0, -2).join("-") : String(nvr || "");
  }

  function filters() {
    return {
      package: byId("f-package").value.trim().toLowerCase(),
      owner: byId("f-owner").value.trim().toLowerCase(),
      tag: byId("f-tag").value.trim().toLowerCase(),
      state: byId("f-state").value,
    };
  }

  function filtering(f) {
    return Boolean(f.package || f.owner || f.tag || f.state);
  }

  function buildMatches(b, f) {
    if (!b) return !(f.owner || f.tag || f.state);
    if (f.package && !(b.package || packageOf(b.nvr)).toLowerCase().includes(f.package)) return false;
    if (f.owner && !(b.owner || "").toLowerCase().includes(f.owner)) return false;
    if (f.tag && !(b.tags || []).some((t) => t.toLowerCase().includes(f.tag))) return false;
    if (f.state === "move-pending") return Boolean(b.move_pending);
    if (f.state && b.gate !== f.state && b.verdict !== f.state) return false;
    return true;
  }

  function knownBuild(nvr) {
    for (const list of Object.values(state.builds)) {
      const found = list.find((b) => b.nvr === nvr);
      if (found) return found;
    }
    return null;
  }

  function decisionMatches(d, f) {
    if (f.package && !packageOf(d.nvr).toLowerCase().includes(f.package)) return false;
    const b = knownBuild(d.nvr);
    if (f.state && (d.verdict === f.state || (b && b.gate === f.state))) {
      return buildMatches(b, { ...f, state: "" });
    }
    return buildMatches(b, { ...f, package: "" });
  }

  function counted(id, shown, total) {
    byId(`${id}-count`).textContent = shown === total ? String(total) : `${shown} of ${total}`;
  }

  // ------------------------------------------------------------ sections

  function movePending(move) {
    if (!move) return null;
    return el(
      "span",
      {
        class: "badge move-pending",
        title: `koji move ${move.from_tag} → ${move.to_tag} requested ${utc(move.requested_at)}, not made yet`,
      },
      "move pending",
    );
  }

  function buildTable(builds, emptyText) {
    if (!builds.length) return empty(emptyText);
    const rows = builds.map((b) =>
      el(
        "tr",
        { "data-nvr": b.nvr, "data-gate": b.gate || "" },
        el(
          "td",
          { class: "build-cell" },
          nvrLink(b.nvr),
          " ",
          movePending(b.move_pending),
          el("div", { class: "muted small" }, b.owner ? `owner ${b.owner}` : "", b.tags && b.tags.length ? ` · tags: ${b.tags.join(", ")}` : ""),
          buildLinks(b.links),
        ),
        el("td", {}, verdictBadge(b.verdict)),
        el("td", {}, reason(b.decision)),
        el("td", { class: "nowrap" }, timeEl(b.decided_at || b.updated_at)),
      ),
    );
    return table(["Build", "Verdict", "Why", "Decided"], rows, "builds");
  }

  function renderBuilds(id) {
    if (!state.loaded[id]) return;
    const f = filters();
    const all = state.builds[id];
    const shown = all.filter((b) => buildMatches(b, f));
    counted(id, shown.length, all.length);
    const text = all.length && filtering(f) ? "No build matches the filter" : SECTIONS[id].empty;
    fill(byId(`${id}-body`), buildTable(shown, text));
  }

  async function loadBuilds(id) {
    const section = SECTIONS[id];
    const query = section.gates.map((g) => `gate=${encodeURIComponent(g)}`).join("&");
    try {
      const data = await getJSON(`${PAGE}/builds?${query}&limit=${section.limit || 200}`);
      state.builds[id] = data.builds || [];
      state.loaded[id] = true;
    } catch (err) {
      state.loaded[id] = false;
      byId(`${id}-count`).textContent = "";
      fill(byId(`${id}-body`), errorBox(`Could not load the ${section.gates.join("/")} builds`, err));
    }
  }

  function triggerCell(d) {
    const m = d.trigger_message;
    if (m && m.topic) {
      const topic = el("code", { class: "topic" }, m.topic);
      return el("div", { class: "muted small trigger" }, "after ", m.url ? outLink(m.url, topic, "link-message") : topic);
    }
    if (d.trigger) return el("div", { class: "muted small trigger" }, `after message ${d.trigger}`);
    return null;
  }

  function decisionTable(decisions, emptyText) {
    if (!decisions.length) return empty(emptyText || "No decisions yet");
    const rows = decisions.map((d) =>
      el(
        "tr",
        { "data-nvr": d.nvr, "data-changed": d.previous === d.verdict ? "false" : "true" },
        el("td", { class: "nowrap" }, timeEl(d.at)),
        el("td", { class: "build-cell" }, nvrLink(d.nvr), d.context ? el("div", { class: "muted small" }, d.context) : null),
        el(
          "td",
          { class: "nowrap" },
          d.previous ? [verdictBadge(d.previous), el("span", { class: "arrow" }, " → ")] : null,
          verdictBadge(d.verdict),
        ),
        el("td", {}, reason(d.decision, d.summary), triggerCell(d)),
      ),
    );
    return table(["When", "Build", "Verdict", "Reason"], rows, "decisions");
  }

  function renderDecisions() {
    if (!state.loaded.decisions) return;
    const f = filters();
    const shown = state.decisions.filter((d) => decisionMatches(d, f));
    counted("decisions", shown.length, state.decisions.length);
    const text = state.decisions.length && filtering(f) ? "No decision matches the filter" : "No decisions yet";
    fill(byId("decisions-body"), decisionTable(shown, text));
  }

  async function loadDecisions() {
    const all = byId("show-unchanged").checked ? "&all=true" : "";
    try {
      const data = await getJSON(`${PAGE}/decisions?limit=20${all}`);
      state.decisions = data.decisions || [];
      state.loaded.decisions = true;
    } catch (err) {
      state.loaded.decisions = false;
      byId("decisions-count").textContent = "";
      fill(byId("decisions-body"), errorBox("Could not load the decisions", err));
    }
  }

  function renderAll() {
    Object.keys(SECTIONS).forEach(renderBuilds);
    renderDecisions();
  }

  // ------------------------------------------------------------ operations

  function stat(label, value, cls) {
    return el("div", { class: `stat ${cls ? "stat-" + cls : ""}` }, el("div", { class: "stat-value" }, value), el("div", { class: "stat-label" }, label));
  }

  function composeBadge(s) {
    return el("span", { class: `badge compose compose-${s || "idle"}` }, s || "idle");
  }

  async function loadOperations() {
    const body = byId("operations-body");
    let ops;
    try {
      ops = await getJSON(`${API}/operations`);
    } catch (err) {
      fill(body, errorBox("Could not load the operations panel", err));
      return;
    }
    const o = ops.outbox || {};
    const lagging = Object.values(ops.followers || {}).some((f) => f.lag > 0);
    const stats = el(
      "div",
      { class: "stats" },
      stat("outbox pending", String(o.pending ?? "—"), o.pending ? "warn" : "ok"),
      stat("outbox failed", String(o.failed ?? "—"), o.failed ? "bad" : "ok"),
      stat("oldest pending", age(o.oldest_age_seconds), o.oldest_age_seconds > 3600 ? "warn" : ""),
      stat("koji moves pending", String((ops.moves_pending || []).length), (ops.moves_pending || []).length ? "warn" : "ok"),
      stat("log head", String(ops.head ?? "—"), lagging ? "warn" : "ok"),
    );
    const followers = Object.entries(ops.followers || {}).map(([name, f]) =>
      el("tr", { "data-follower": name }, el("td", {}, el("code", {}, name)), el("td", {}, String(f.position)), el("td", { class: f.lag ? "lag" : "" }, String(f.lag))),
    );
    const composes = state.artifacts.map((a) => {
      const c = a.last_compose || {};
      return el(
        "tr",
        { "data-artifact": a.name },
        el("td", {}, el("code", {}, a.name)),
        el("td", {}, composeBadge(a.state)),
        el("td", { class: "small" }, c.compose ? [el("code", {}, c.compose), " ", timeEl(c.updated_at || c.planned_at)] : "never composed"),
      );
    });
    fill(
      body,
      stats,
      el(
        "div",
        { class: "ops-grid" },
        el("div", {}, el("h3", {}, "Followers"), followers.length ? table(["Follower", "Position", "Lag"], followers, "followers") : empty("No followers")),
        el("div", {}, el("h3", {}, "Last compose per artifact"), composes.length ? table(["Artifact", "State", "Last compose"], composes, "composes") : empty("No artifacts defined")),
      ),
    );
  }

  // ------------------------------------------------------------ graph

  function markComposeStates(svg) {
    const states = new Map(state.artifacts.map((a) => [a.name, a.state || "idle"]));
    svg.querySelectorAll("g.node").forEach((node) => {
      const title = node.querySelector("title");
      const name = title ? title.textContent : null;
      if (!name || !states.has(name)) return;
      const s = states.get(name);
      node.classList.add("compose-node", `compose-${s}`);
      node.setAttribute("data-compose-state", s);
    });
    const seen = [...new Set(states.values())].sort();
    fill(byId("graph-legend"), seen.length ? ["Compose state: ", seen.map((s) => [composeBadge(s), " "])] : null);
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
      markComposeStates(node);
      fill(body, node);
    } catch (err) {
      fill(
        body,
        el("div", { class: "error", role: "alert" }, el("strong", {}, "Graph unavailable: "), err.reason || err.message),
      );
    }
  }

  async function loadArtifacts() {
    const select = byId("graph-artifact");
    try {
      const data = await getJSON(`${API}/artifacts`);
      state.artifacts = (data.artifacts || []).slice().sort((a, b) => a.name.localeCompare(b.name));
      const chosen = select.value;
      select.replaceChildren(
        el("option", { value: "" }, "all artifacts"),
        ...state.artifacts.map((a) => el("option", { value: a.name, selected: a.name === chosen }, a.name)),
      );
      select.title = "";
    } catch (err) {
      state.artifacts = [];
      select.title = `artifact list unavailable: ${err.message}`;
    }
  }

  // ------------------------------------------------------------ build detail

  function historyTable(history) {
    if (!history.length) return empty("No events recorded for this build");
    const rows = history.map((h) => {
      const data = h.data || {};
      return el(
        "tr",
        { "data-kind": h.kind || "" },
        el("td", { class: "nowrap" }, timeEl(h.at)),
        el("td", {}, el("code", {}, h.kind || h.event || "?")),
        el("td", {}, h.summary || "", data.ref_url ? [" ", outLink(data.ref_url, "CI run", "link-ci")] : null),
      );
    });
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

  function ciRuns(history) {
    const seen = new Map();
    for (const h of history) {
      const d = h.data || {};
      if (h.kind === "result" && d.ref_url) seen.set(d.testcase || d.ref_url, d);
    }
    return [...seen.values()];
  }

  function buildSummary(b, history, links) {
    const d = b.decision || {};
    const gate = b.gate || "none";
    const koji = [b.state || "—", b.koji_id ? ` (build ${b.koji_id})` : ""].join("");
    const runs = ciRuns(history);
    const facts = [
      ["Gate", [el("span", { class: `badge gate gate-${gate}` }, gate), " ", movePending(b.move_pending)]],
      ["Latest verdict", [verdictBadge(b.verdict), " ", el("span", { class: "muted" }, utc(b.decided_at))]],
      ["Owner", b.owner || "—"],
      ["Tags", b.tags && b.tags.length ? b.tags.join(", ") : "—"],
      ["Koji build", links.koji ? outLink(links.koji, koji, "link-koji") : koji],
      b.change ? ["Dist-git change", links.distgit ? outLink(links.distgit, el("code", {}, b.change), "link-distgit") : el("code", {}, b.change)] : null,
      runs.length ? ["CI runs", el("ul", { class: "runs" }, runs.map((r) => el("li", {}, outLink(r.ref_url, r.testcase || r.ref_url, "link-ci"), r.outcome ? ` (${r.outcome})` : "")))] : null,
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

  async function showBuild(nvr, quiet) {
    const panel = byId("build-detail");
    const body = byId("detail-body");
    byId("detail-nvr").textContent = nvr;
    panel.hidden = false;
    if (!quiet) {
      fill(body, el("p", { class: "muted" }, "Loading…"));
      fill(byId("detail-links"));
      panel.scrollIntoView({ block: "start" });
    }
    try {
      const [data, links, named] = await Promise.all([
        getJSON(`${API}/builds/${encodeURIComponent(nvr)}`),
        getJSON(`${PAGE}/links/${encodeURIComponent(nvr)}`).catch(() => ({ links: null })),
        // the same decisions with their trigger named (topic and link)
        getJSON(`${PAGE}/decisions?nvr=${encodeURIComponent(nvr)}&all=true&limit=50`).catch(() => null),
      ]);
      if (byId("detail-nvr").textContent !== nvr) return; // another build was clicked since
      if (quiet && busyInDetail()) return; // an action was opened meanwhile: not under it
      const build = data.build || data; // {"build": {...}, "history": ...} or flat
      const known = knownBuild(nvr);
      build.move_pending = known ? known.move_pending : null;
      const history = data.history || [];
      const decisions = [...((named && named.decisions) || data.decisions || [])];
      if (!named) decisions.sort((a, b) => (b.position ?? 0) - (a.position ?? 0)); // newest first
      fill(byId("detail-links"), buildLinks(links.links));
      const actions = el("div", { id: "detail-actions" });
      if (window.RelengActions) {
        window.RelengActions.render(actions, build, state.info, {
          el, fill, request, stateOf, reload: () => refresh(true),
        });
      }
      fill(
        body,
        buildSummary(build, history, links.links || {}),
        actions,
        el("h3", {}, "History"),
        historyTable(history),
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

  // ------------------------------------------------------------ loading and live updates

  // Someone is typing in the build's panel (a reason, the token): a live update must
  // not redraw it under their fingers; it is redrawn at the next update after that.
  function busyInDetail() {
    const form = document.getElementById("act-form");
    if (form && !form.hidden) return true;
    const active = document.activeElement;
    return Boolean(active && active !== document.body && byId("build-detail").contains(active) && active.matches("input, textarea, select"));
  }

  let loading = null;
  let again = false;

  // Everything again; ``quiet``: without emptying what is shown (live updates).
  async function refresh(quiet) {
    if (loading) {
      again = true;
      return loading;
    }
    document.body.dataset.loaded = quiet && document.body.dataset.loaded === "true" ? "true" : "false";
    const position = state.position;
    loading = (async () => {
      await Promise.allSettled([
        loadBuilds("pending"),
        loadBuilds("quarantined"),
        loadBuilds("promoted"),
        loadDecisions(),
        loadArtifacts().then(() => Promise.allSettled([loadGraph(), loadOperations()])),
      ]);
      renderAll();
      const open = buildFromHash();
      if (open && !byId("build-detail").hidden && quiet && !busyInDetail()) await showBuild(open, true);
      byId("loaded-at").textContent = `Updated ${utc(new Date().toISOString())}`;
      document.body.dataset.loaded = "true";
      if (position !== null) document.body.dataset.position = String(position);
    })();
    try {
      await loading;
    } finally {
      loading = null;
    }
    if (again) {
      again = false;
      await refresh(true);
    }
  }

  function setLive(s, text) {
    const dot = byId("live");
    dot.dataset.state = s;
    dot.textContent = text;
  }

  function moved(position) {
    if (position === null || position === undefined || position === state.position) return;
    const first = state.position === null;
    state.position = position;
    if (!first) refresh(true);
    else document.body.dataset.position = String(position);
  }

  function follow() {
    if (!window.EventSource) {
      setLive("polling", "Polling");
      const poll = async () => {
        try {
          moved((await getJSON("/api/v1.0/about")).position);
          setLive("polling", "Polling");
        } catch (_) {
          setLive("down", "Offline");
        }
      };
      poll();
      setInterval(poll, POLL_MS);
      return;
    }
    const source = new EventSource(`${API}/updates`);
    // Each stream ends after a few seconds and the browser reconnects at once: only a
    // reconnection that does not come back soon is shown as one.
    let down = null;
    source.addEventListener("open", () => {
      clearTimeout(down);
      setLive("live", "Live");
    });
    source.addEventListener("position", (event) => {
      clearTimeout(down);
      setLive("live", "Live");
      try {
        moved(JSON.parse(event.data).position);
      } catch (_) {
        /* a malformed event: wait for the next */
      }
    });
    source.addEventListener("problem", () => setLive("down", "Store unreadable"));
    source.addEventListener("error", () => {
      clearTimeout(down);
      down = setTimeout(() => setLive("down", "Reconnecting…"), 3000);
    });
  }

  async function loadInfo() {
    try {
      state.info = await getJSON(PAGE);
    } catch (_) {
      state.info = { links: {}, writes: false, rerun: null };
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    byId("graph-artifact").addEventListener("change", loadGraph);
    byId("show-unchanged").addEventListener("change", async () => {
      await loadDecisions();
      renderDecisions();
    });
    const form = byId("filters");
    form.addEventListener("input", renderAll);
    form.addEventListener("change", renderAll);
    form.addEventListener("submit", (event) => event.preventDefault());
    byId("f-clear").addEventListener("click", () => {
      form.reset();
      renderAll();
    });
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
    follow();
    await loadInfo();
    await refresh(false);
    onHash();
  });
})();
