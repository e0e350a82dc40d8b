// KATO dashboard: polls /dashboard/api/overview every two seconds (one page of sessions, the
// filters applied by the manager), listens to /events when the overview says the manager serves
// it (and for the event types it lists), and acts through the sessions API. No framework, no
// network beyond this origin.
"use strict";

const POLL_MS = 2000;
const WINDOW_S = 15 * 60;
const MAX_EVENTS = 100;
// Sent with every change: a page of another origin cannot add it without a CORS preflight.
const CHANGE_HEADERS = { "X-KATO-Dashboard": "1" };
const CHARTS = [
  { title: "Requests/s through the proxy", unit: "req/s", lines: [["requests_per_second", "requests/s"]] },
  { title: "Proxy latency", unit: "ms", lines: [["latency_p50_ms", "p50"], ["latency_p99_ms", "p99"]] },
  { title: "Spawn and wake durations", unit: "s", lines: [["spawn_seconds", "spawn"], ["wake_seconds", "wake"]] },
  { title: "Hibernations and wakes", unit: "/min", lines: [["hibernations_per_minute", "hibernations"], ["wakes_per_minute", "wakes"]] },
];
const COLORS = ["#0b5cad", "#c2410c"];
const SVG = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
const rows = new Map();
const seenEvents = new Set();
let pollTimer = null;
let events = null;
let deleting = null;
// The page of sessions shown: the cursor that reached it (null: the first) and the next one's.
let cursor = null;
let nextCursor = null;

function text(el, value) { if (el.textContent !== value) el.textContent = value; }

function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function number(value, unit) {
  if (value === null || value === undefined) return "–";
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

// -- login ------------------------------------------------------------------------------------
function showLogin(message) {
  stopPolling();
  closeEvents();
  $("board").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  text($("login-error"), message || "");
  text($("engine-badge"), "Logged out");
  $("engine-badge").className = "badge";
  $("api-key").focus();
}

function showBoard(canLogOut) {
  $("login").hidden = true;
  $("board").hidden = false;
  $("logout").hidden = !canLogOut;
  startPolling();
}

async function logIn(event) {
  event.preventDefault();
  const key = $("api-key").value;
  text($("login-error"), "");
  let response;
  try {
    response = await fetch("/dashboard/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ api_key: key }),
    });
  } catch (error) {
    text($("login-error"), "The manager does not answer.");
    return;
  }
  if (response.ok) {
    $("api-key").value = "";
    showBoard(true);
  } else {
    text($("login-error"), response.status === 401 ? "Wrong API key." : `Login failed (HTTP ${response.status}).`);
    $("api-key").select();
  }
}

async function logOut() {
  await fetch("/dashboard/logout", { method: "POST" });
  showLogin("Logged out.");
}

// -- polling ----------------------------------------------------------------------------------
function startPolling() {
  if (pollTimer === null) { poll(); }
}

function stopPolling() {
  if (pollTimer !== null) { clearTimeout(pollTimer); pollTimer = null; }
}

async function poll() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, POLL_MS);
  let response;
  try {
    response = await fetch(`/dashboard/api/overview?${overviewQuery()}`, { cache: "no-store" });
  } catch (error) {
    problem("The session manager does not answer; retrying every two seconds.");
    return;
  }
  if (response.status === 401) { showLogin("Your login has expired; enter the key again."); return; }
  if (!response.ok) { problem(`The session manager answered HTTP ${response.status}; retrying.`); return; }
  render(await response.json());
}

function overviewQuery() {
  const query = new URLSearchParams();
  const user = $("filter-user").value.trim();
  const status = $("filter-status").value;
  if (user) query.set("user", user);
  if (status) query.set("status", status);
  if (cursor !== null) query.set("cursor", cursor);
  return query.toString();
}

// A filter or the first page: from the start again.
function firstPage() {
  cursor = null;
  poll();
}

function nextPage() {
  if (nextCursor === null) return;
  cursor = nextCursor;
  poll();
}

function problem(message) {
  $("problem").hidden = !message;
  text($("problem"), message || "");
}

function render(data) {
  renderMachine(data.machine);
  renderSessions(data.sessions, data.now, data.total);
  nextCursor = data.next_cursor;
  $("next-page").disabled = nextCursor === null;
  $("first-page").disabled = cursor === null;
  renderCharts(data.series, data.now);
  if (data.events) { openEvents(data.event_types); }
}

function renderMachine(machine) {
  text($("running"), String(machine.running));
  text($("max-sessions"), String(machine.max_sessions));
  $("capacity").value = machine.max_sessions ? machine.running / machine.max_sessions : 0;
  text($("spawning"), String(machine.spawning));
  text($("pool-ready"), String(machine.pool.ready));
  text($("pool-desired"), String(machine.pool.desired));
  text($("pool-starting"), String(machine.pool.starting));
  const engine = machine.engine;
  const badge = $("engine-badge");
  if (engine.reachable === false) {
    text($("engine"), `unreachable (${engine.code || "no answer"})`);
    $("engine").className = "engine-down";
    text(badge, "Engine down");
    badge.className = "badge bad";
    problem("The container engine (Docker) does not answer. Sessions cannot be created, woken or " +
      "hibernated until it is back; their records are kept and nothing is lost. Check `docker info` " +
      "on the manager's host; this page keeps watching and recovers by itself.");
  } else {
    text($("engine"), engine.reachable ? "reachable" : "not checked yet");
    $("engine").className = "";
    text(badge, engine.reachable ? "Engine reachable" : "Checking engine…");
    badge.className = engine.reachable ? "badge ok" : "badge";
    problem("");
  }
}

// -- sessions ---------------------------------------------------------------------------------
function renderSessions(shown, now, total) {
  const body = $("sessions").tBodies[0];
  const keep = new Set(shown.map((s) => s.session_id));
  for (const [id, row] of rows) {
    if (!keep.has(id)) { row.tr.remove(); rows.delete(id); }
  }
  shown.forEach((session, index) => {
    const row = rows.get(session.session_id) || addRow(session);
    // Rows keep the API's order (creation) and are moved only when out of place: moving a
    // row would take the keyboard focus away from its buttons.
    if (body.children[index] !== row.tr) { body.insertBefore(row.tr, body.children[index] || null); }
    updateRow(row, session, now);
  });
  text($("session-count"), `(${shown.length} shown of ${total})`);
  $("no-sessions").hidden = shown.length > 0;
}

function addRow(session) {
  const tr = document.createElement("tr");
  tr.dataset.sessionId = session.session_id;
  const cells = {};
  for (const name of ["id", "user", "status", "age", "activity", "memory"]) {
    cells[name] = tr.insertCell();
  }
  const code = document.createElement("code");
  code.textContent = session.session_id.slice(0, 12);
  code.title = session.session_id;
  cells.id.appendChild(code);
  cells.statusBadge = document.createElement("span");
  cells.status.appendChild(cells.statusBadge);
  const actions = tr.insertCell();
  actions.className = "actions";
  const hibernate = button("Hibernate", `Hibernate session ${session.session_id} now`,
    () => hibernateNow(session.session_id));
  const remove = button("Delete", `Delete session ${session.session_id}`,
    () => confirmDelete(session.session_id));
  remove.className = "danger";
  const docs = document.createElement("a");
  docs.textContent = "Docs";
  docs.href = `/dashboard/docs?session=${encodeURIComponent(session.session_id)}`;
  docs.target = "_blank";
  docs.rel = "noopener";
  docs.setAttribute("aria-label", `Docs: processor API of session ${session.session_id} (new tab)`);
  actions.append(hibernate, remove, docs);
  const row = { tr, cells, hibernate };
  rows.set(session.session_id, row);
  return row;
}

function button(label, ariaLabel, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.setAttribute("aria-label", ariaLabel);
  b.addEventListener("click", onClick);
  return b;
}

function updateRow(row, session, now) {
  text(row.cells.user, session.user_id || "–");
  text(row.cells.statusBadge, session.status);
  row.cells.statusBadge.className = `status status-${session.status}`;
  text(row.cells.age, duration(now - session.created_at));
  text(row.cells.activity, `${duration(now - session.last_activity)} ago`);
  // A running session's first sample is taken as it starts; until then it is being measured.
  const measuring = session.memory_bytes === null && session.status === "running";
  text(row.cells.memory, measuring ? "measuring…" : bytes(session.memory_bytes));
  row.hibernate.disabled = session.status !== "running";
}

async function hibernateNow(id) {
  say(`Hibernating ${id.slice(0, 12)}…`);
  const response = await fetch(`/session/${encodeURIComponent(id)}/hibernate`,
    { method: "POST", headers: CHANGE_HEADERS });
  say(response.ok ? `Session ${id.slice(0, 12)} hibernated.` : await failure("Hibernate", response));
  poll();
}

function confirmDelete(id) {
  deleting = id;
  text($("confirm-id"), id);
  $("confirm-delete").returnValue = ""; // some browsers keep the last answer on Escape
  $("confirm-delete").showModal();
}

async function onConfirmClosed() {
  const id = deleting;
  deleting = null;
  if ($("confirm-delete").returnValue !== "delete" || id === null) { return; }
  say(`Deleting ${id.slice(0, 12)}…`);
  const response = await fetch(`/session/${encodeURIComponent(id)}`,
    { method: "DELETE", headers: CHANGE_HEADERS });
  say(response.ok ? `Session ${id.slice(0, 12)} deleted.` : await failure("Delete", response));
  poll();
  $("sessions-heading").focus();
}

async function failure(action, response) {
  try {
    const body = await response.json();
    return `${action} failed: ${body.error.message} (${body.error.code}).`;
  } catch (error) {
    return `${action} failed (HTTP ${response.status}).`;
  }
}

function say(message) { text($("action-status"), message); }

// -- charts (plain SVG) -----------------------------------------------------------------------
function buildCharts() {
  for (const chart of CHARTS) {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    const title = document.createElement("strong");
    title.textContent = chart.title;
    chart.latest = document.createElement("span");
    caption.append(title, " ", chart.latest);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 300 110");
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    chart.svg = svg;
    const legend = document.createElement("div");
    legend.className = "legend";
    chart.lines.forEach(([, label], i) => {
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLORS[i];
      item.append(swatch, label);
      legend.appendChild(item);
    });
    figure.append(caption, svg, legend);
    $("charts").appendChild(figure);
  }
}

function renderCharts(series, now) {
  for (const chart of CHARTS) { drawChart(chart, series, now); }
}

function drawChart(chart, series, now) {
  const svg = chart.svg;
  const [left, right, top, bottom] = [34, 296, 6, 96];
  let max = 0;
  for (const point of series) {
    for (const [key] of chart.lines) { if (point[key] !== null) max = Math.max(max, point[key]); }
  }
  max = niceCeiling(max);
  const x = (t) => left + ((t - (now - WINDOW_S)) / WINDOW_S) * (right - left);
  const y = (v) => bottom - (v / max) * (bottom - top);
  svg.replaceChildren();
  svg.appendChild(line(left, bottom, right, bottom, "axis"));
  svg.appendChild(line(left, top, left, bottom, "axis"));
  svg.appendChild(label(2, top + 8, shortNumber(max)));
  svg.appendChild(label(2, bottom, "0"));
  svg.appendChild(label(left, 108, "−15 min"));
  svg.appendChild(label(right - 18, 108, "now"));
  const latest = [];
  chart.lines.forEach(([key, name], i) => {
    let d = "";
    let joined = false;
    for (const point of series) {
      const value = point[key];
      if (value === null || point.time < now - WINDOW_S) { joined = false; continue; }
      d += `${joined ? "L" : "M"}${x(point.time).toFixed(1)},${y(value).toFixed(1)}`;
      joined = true;
      svg.appendChild(dot(x(point.time), y(value), COLORS[i])); // a lone point stays visible
    }
    if (d) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      path.setAttribute("fill", "none");
      path.setAttribute("stroke", COLORS[i]);
      path.setAttribute("stroke-width", "1.5");
      svg.appendChild(path);
    }
    const last = [...series].reverse().find((p) => p[key] !== null);
    latest.push(`${name} ${number(last ? last[key] : null, chart.unit)}`);
  });
  const summary = series.length ? `latest: ${latest.join(", ")}` : "collecting samples…";
  text(chart.latest, `— ${summary}`);
  svg.setAttribute("aria-label", `${chart.title}, last 15 minutes, ${summary}`);
}

function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) { if (step * power >= value) return step * power; }
  return 10 * power;
}

function shortNumber(value) { return value >= 1000 ? `${value / 1000}k` : String(value); }

function line(x1, y1, x2, y2, cls) {
  const el = document.createElementNS(SVG, "line");
  el.setAttribute("x1", x1); el.setAttribute("y1", y1);
  el.setAttribute("x2", x2); el.setAttribute("y2", y2);
  el.setAttribute("class", cls);
  return el;
}

function label(x, y, value) {
  const el = document.createElementNS(SVG, "text");
  el.setAttribute("x", x); el.setAttribute("y", y);
  el.textContent = value;
  return el;
}

function dot(cx, cy, color) {
  const el = document.createElementNS(SVG, "circle");
  el.setAttribute("cx", cx.toFixed(1)); el.setAttribute("cy", cy.toFixed(1));
  el.setAttribute("r", "1.5"); el.setAttribute("fill", color);
  return el;
}

// -- lifecycle events (only when the manager serves GET /events) --------------------------------
function openEvents(types) {
  if (events !== null) return;
  // Same origin: the login cookie goes with it (EventSource cannot send an Authorization header).
  events = new EventSource("/events");
  text($("events-state"), "Connecting to the event stream…");
  events.onopen = () => text($("events-state"), "Live: events appear here as they happen.");
  events.onerror = () => {
    if (events === null) return;
    text($("events-state"), events.readyState === EventSource.CLOSED
      ? "The event stream was refused; sessions above still update every two seconds."
      : "Reconnecting to the event stream…");
    if (events.readyState === EventSource.CLOSED) { events = null; }
  };
  const onEvent = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch (error) { return; }
    const key = event.id ?? message.lastEventId;
    if (key !== undefined && key !== "" && seenEvents.has(key)) return;
    seenEvents.add(key);
    addEvent(event, message.type);
    poll(); // an event means the table changed: show it now, not at the next tick
  };
  events.onmessage = onEvent;
  for (const type of types) { events.addEventListener(type, onEvent); }
}

function closeEvents() {
  if (events !== null) { events.close(); events = null; }
}

function addEvent(event, messageType) {
  const item = document.createElement("li");
  const when = document.createElement("time");
  const stamp = typeof event.time === "number" ? new Date(event.time * 1000) : new Date(event.time || Date.now());
  when.dateTime = stamp.toISOString();
  when.textContent = stamp.toLocaleTimeString();
  const type = event.type || messageType;
  const who = event.user_id ? ` user ${event.user_id}` : "";
  const session = event.session_id ? ` session ${String(event.session_id).slice(0, 12)}` : "";
  const status = event.status ? ` → ${event.status}` : "";
  item.append(when, `${type}${session}${who}${status}`);
  const list = $("events");
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) { list.lastElementChild.remove(); }
  if (seenEvents.size > 10 * MAX_EVENTS) { seenEvents.clear(); }
}

// -- start --------------------------------------------------------------------------------------
async function start() {
  buildCharts();
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  $("filter-user").addEventListener("input", firstPage);
  $("filter-status").addEventListener("change", firstPage);
  $("first-page").addEventListener("click", firstPage);
  $("next-page").addEventListener("click", nextPage);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("confirm-delete").addEventListener("close", onConfirmClosed);
  try {
    const auth = await (await fetch("/dashboard/api/auth", { cache: "no-store" })).json();
    if (auth.authenticated) { showBoard(auth.required); } else { showLogin(""); }
  } catch (error) {
    showLogin("The session manager does not answer; reload when it is back.");
  }
}

document.addEventListener("DOMContentLoaded", start);
