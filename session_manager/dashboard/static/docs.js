// The processor's API reference for one session, rendered from its OpenAPI schema (read through
// the manager's proxy with the dashboard's login cookie). No Swagger UI: it would need a CDN.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];
const $ = (id) => document.getElementById(id);

function element(tag, text, className) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

function problem(message) {
  $("docs-problem").hidden = false;
  $("docs-problem").textContent = message;
}

function typeOf(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(" | ");
  if (schema.type === "array") return `${typeOf(schema.items)}[]`;
  return schema.type || "";
}

function operation(path, method, op) {
  const section = element("section", undefined, "card");
  const heading = element("h2");
  heading.append(element("code", method.toUpperCase()), " ", element("code", path));
  section.appendChild(heading);
  if (op.summary) section.appendChild(element("p", op.summary));
  if (op.description && op.description !== op.summary) {
    section.appendChild(element("p", op.description, "muted"));
  }
  const params = op.parameters || [];
  if (params.length) {
    const table = element("table");
    table.appendChild(element("caption", "Parameters", "visually-hidden"));
    const head = table.createTHead().insertRow();
    for (const name of ["Parameter", "In", "Type", "Required"]) {
      const th = element("th", name);
      th.scope = "col";
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const p of params) {
      const row = body.insertRow();
      row.insertCell().appendChild(element("code", p.name));
      row.insertCell().textContent = p.in;
      row.insertCell().textContent = typeOf(p.schema);
      row.insertCell().textContent = p.required ? "yes" : "no";
    }
    section.appendChild(table);
  }
  const content = (op.requestBody && op.requestBody.content) || {};
  for (const [type, media] of Object.entries(content)) {
    section.appendChild(element("p", `Body (${type}): ${typeOf(media.schema) || "any"}`));
  }
  const codes = Object.entries(op.responses || {}).map(([code, r]) => `${code} ${r.description || ""}`);
  if (codes.length) section.appendChild(element("p", `Answers: ${codes.join(" · ")}`, "muted"));
  return section;
}

async function start() {
  const session = new URLSearchParams(location.search).get("session") || "";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(session)) {
    problem("No session given: open this page from the dashboard's Docs link.");
    return;
  }
  const base = `/session/${encodeURIComponent(session)}`;
  $("schema-url").textContent = `${base}/openapi.json`;
  $("base-url").textContent = base;
  let response;
  try {
    response = await fetch(`${base}/openapi.json`, { cache: "no-store" });
  } catch (error) {
    problem("The session manager does not answer.");
    return;
  }
  if (response.status === 401) {
    problem("Log in on the dashboard first, then open this page again.");
    return;
  }
  if (!response.ok) {
    problem(`The schema could not be read (HTTP ${response.status}): is the session still there?`);
    return;
  }
  const schema = await response.json();
  $("title").textContent = `${schema.info.title} ${schema.info.version} — session ${session.slice(0, 12)}`;
  document.title = `${schema.info.title} — ${session.slice(0, 12)}`;
  const list = $("operations");
  for (const path of Object.keys(schema.paths).sort()) {
    for (const method of METHODS) {
      const op = schema.paths[path][method];
      if (op) list.appendChild(operation(path, method, op));
    }
  }
}

document.addEventListener("DOMContentLoaded", start);
