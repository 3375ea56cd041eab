// RustShare console: a client of /api/v1. DOM is built with textContent only (never innerHTML
// with data), so object names, key names and messages cannot inject markup.
"use strict";

const state = { session: null, tenants: [] };
const main = () => document.getElementById("main");

// ---- small DOM helpers ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the page's CSP, unlike style attributes
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let uid = 0;
// A labelled form control with a place for its error.
function field(label, control, hint) {
  const id = control.id || `f${++uid}`;
  control.id = id;
  const err = h("div", { class: "error", id: `${id}-err`, "aria-live": "polite" });
  control.setAttribute("aria-describedby", `${id}-err`);
  return h("div", { class: "field", "data-field": control.name || "" },
    h("label", { for: id }, label), control, hint ? h("div", { class: "hint" }, hint) : null, err);
}

function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 3500);
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0, v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${i ? v.toFixed(v < 10 ? 1 : 0) : v} ${u[i]}`;
}

function parseBytes(s) {
  const t = String(s).trim();
  if (!t) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(t);
  if (!m) throw new FieldError("quota", "write a size such as 500MiB, 10GiB or 1TB");
  const pow = "BKMGTP".indexOf((m[2] || "B").toUpperCase());
  const base = m[2] && m[3] && m[3].toLowerCase() === "ib" ? 1024 : (m[2] ? 1000 : 1);
  return Math.round(Number(m[1]) * base ** pow);
}

function fmtTime(s) {
  if (!s) return "—";
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}

class FieldError extends Error {
  constructor(field, message) { super(message); this.field = field; }
}

// ---- API ----

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const headers = { "accept": "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (!["GET", "HEAD"].includes(method) && state.session) headers["x-csrf-token"] = state.session.csrf_token;
  const r = await fetch(`/api/v1${path}`, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(r.status, e.code || "error", e.message || `request failed (${r.status})`);
    if (r.status === 401 && path !== "/session") { state.session = null; showLogin(err.message); }
    throw err;
  }
  return data;
}

// Shows an error next to the field it names, else at the top of the form.
function showError(form, err) {
  for (const f of form.querySelectorAll(".field")) {
    f.classList.remove("invalid");
    f.querySelector(".error").textContent = "";
    const c = f.querySelector("input,select,textarea");
    if (c) c.removeAttribute("aria-invalid");
  }
  let box = form.querySelector(".error-box");
  if (box) box.remove();
  if (!err) return;
  const msg = err.message || String(err);
  const fields = [...form.querySelectorAll(".field[data-field]")].filter((f) => f.dataset.field);
  const target = fields.find((f) => f.dataset.field === err.field)
    || fields.find((f) => (f.dataset.match || f.dataset.field).split(",").some((w) => w && msg.toLowerCase().includes(w)));
  if (target) {
    target.classList.add("invalid");
    target.querySelector(".error").textContent = msg;
    const c = target.querySelector("input,select,textarea");
    if (c) { c.setAttribute("aria-invalid", "true"); c.focus(); }
  } else {
    box = h("div", { class: "error-box", role: "alert" }, msg);
    form.prepend(box);
  }
}

// Runs `action` when the form is submitted; an error is shown next to the field it names.
function onSubmit(form, action) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(form, null);
    try { await action(); } catch (e) { showError(form, e); }
  });
}

// Which words of an API message point at which field: { name: "name,slug", ... }.
function matchFields(form, map) {
  for (const [field, words] of Object.entries(map)) {
    const f = form.querySelector(`[data-field="${field}"]`);
    if (f) f.dataset.match = words;
  }
}

function confirmDialog(title, text, okLabel) {
  const d = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel || "Confirm";
  d.returnValue = "cancel";
  d.showModal();
  return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true }));
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what} copied`);
  } catch (_) {
    toast("Copy is blocked here; select the text and copy it");
  }
}

// The secret of a new or rotated key, shown once; nothing keeps it after the dialog closes.
function showSecret(block) {
  const d = document.getElementById("secret");
  const fields = document.getElementById("secret-fields");
  const cmds = document.getElementById("secret-commands");
  fields.replaceChildren();
  cmds.replaceChildren();
  const view = block.fields ? block : {
    fields: [
      ["Endpoint", block.endpoint], ["Bucket", block.bucket], ["Prefix", block.prefix || "(whole space)"],
      ["Access Key", block.access_key_id], ["Secret Key", block.secret_access_key],
      ["Region", block.region], ["Path-style", "enabled"],
    ],
    copyable: ["Access Key", "Secret Key"],
    commands: [["aws-cli", block.commands.aws, "aws"], ["s3cmd", block.commands.s3cmd, "s3cmd"], ["rclone", block.commands.rclone, "rclone"]],
  };
  const copyable = view.copyable || [view.fields[0][0], view.secretField];
  for (const [k, v] of view.fields) {
    const dd = h("dd", {}, h("span", { class: "mono", "data-secret-field": k }, v));
    if (copyable.includes(k)) {
      dd.append(" ", h("button", { type: "button", class: "small secondary", onclick: () => copy(v, k) }, `Copy ${k.toLowerCase()}`));
    }
    fields.append(h("dt", {}, k), dd);
  }
  for (const [title, text, id] of view.commands) {
    cmds.append(h("div", { class: "cmd" },
      h("header", {}, h("h3", {}, title), h("button", { type: "button", class: "small secondary", onclick: () => copy(text, `${title} command`) }, "Copy")),
      h("pre", { "data-command": id || title }, text)));
  }
  d.showModal();
  return new Promise((resolve) => d.addEventListener("close", () => {
    fields.replaceChildren();
    cmds.replaceChildren();
    resolve();
  }, { once: true }));
}

// ---- session ----

function showLogin(message) {
  document.getElementById("top").hidden = true;
  const input = h("input", { type: "password", name: "token", autocomplete: "current-password", required: true });
  const form = h("form", { class: "card login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to RustShare"),
    h("p", { class: "muted" }, "Use an admin token: the operator token from ", h("code", {}, "data/admin-token"), ", or a tenant token."),
    field("Admin token", input),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Log in")));
  form.querySelector(".field").dataset.match = "token";
  onSubmit(form, async () => {
    state.session = await api("POST", "/session", { token: input.value });
    input.value = "";
    await enter();
  });
  main().replaceChildren(form);
  if (message) showError(form, new Error(message));
  input.focus();
}

async function enter() {
  const p = state.session.principal;
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent = p.tenant_id ? `${p.name} (tenant)` : `${p.name} (operator)`;
  try { state.tenants = (await api("GET", "/tenants")).tenants; } catch (_) { state.tenants = []; }
  if (!location.hash || location.hash === "#/login") location.hash = "#/spaces";
  else route();
}

async function logout() {
  try { await api("DELETE", "/session"); } catch (_) { /* already gone */ }
  state.session = null;
  location.hash = "#/login";
  showLogin();
}

// ---- pages ----

function page(title, ...content) {
  const m = main();
  m.replaceChildren(h("h1", {}, title), ...content);
  document.title = `${title} · RustShare`;
  m.focus();
}

// Public web access is what decides whether anyone can read without a key.
function visibilityBadge(s) {
  if (s.disabled_at) return h("span", { class: "badge bad" }, "disabled");
  if (s.public_web_access === "enabled") return h("span", { class: "badge warn", title: "anonymous downloads over HTTP are on" }, "public web");
  return h("span", { class: "badge", title: "S3 access with keys only" }, "private");
}

function usageBar(used, quota) {
  if (!quota) return h("span", { class: "muted" }, `${fmtBytes(used)} (no quota)`);
  const pct = Math.min(100, (used / quota) * 100);
  return h("div", {},
    h("div", { class: `bar${pct > 90 ? " high" : ""}`, role: "meter", "aria-valuemin": 0, "aria-valuemax": quota, "aria-valuenow": used, "aria-label": "usage against quota" },
      h("span", { style: `width:${pct.toFixed(1)}%` })),
    h("small", { class: "muted" }, `${fmtBytes(used)} of ${fmtBytes(quota)}`));
}

const SPACES_PAGE = 50;

function tenantLabel(id) {
  const t = state.tenants.find((x) => x.id === id);
  return t ? t.name : id;
}

async function spacesPage(query) {
  const q = new URLSearchParams(query || "");
  const offset = Number(q.get("offset") || 0);
  const params = new URLSearchParams({ limit: String(SPACES_PAGE), offset: String(offset) });
  if (q.get("tenant")) params.set("tenant", q.get("tenant"));
  if (q.get("purpose")) params.set("purpose", q.get("purpose"));
  const { spaces, total, next_offset: nextOffset } = await api("GET", `/spaces?${params}`);
  const p = state.session.principal;
  const rows = spaces.map((s) => h("tr", { "data-space": s.bucket },
    h("td", { "data-label": "Space" }, h("a", { href: `#/spaces/${encodeURIComponent(s.bucket)}` }, s.name), h("div", { class: "muted mono" }, s.bucket)),
    h("td", { "data-label": "Tenant" }, h("a", { href: `#/tenants/${encodeURIComponent(tenantLabel(s.tenant_id))}` }, tenantLabel(s.tenant_id))),
    h("td", { "data-label": "Purpose" }, s.purpose),
    h("td", { "data-label": "Visibility" }, visibilityBadge(s)),
    h("td", { "data-label": "Usage" }, usageBar(s.usage.bytes + (s.usage.multipart_bytes || 0) + (s.usage.published_bytes || 0), s.quota_bytes), h("small", { class: "muted" }, ` · ${s.usage.objects} objects`)),
    h("td", { "data-label": "Created" }, fmtTime(s.created_at)),
    h("td", { "data-label": "" }, s.disabled_at ? "" : h("button", {
      type: "button", class: "small danger", "aria-label": `Disable ${s.bucket}`,
      onclick: async () => {
        if (!await confirmDialog(`Disable ${s.bucket}?`, "Every S3 request to this space will be refused and its public web access stops. Objects are kept.", "Disable space")) return;
        try { await api("POST", `/spaces/${encodeURIComponent(s.id)}/disable`); toast(`${s.bucket} disabled`); route(); } catch (e) { toast(e.message); }
      },
    }, "Disable"))));
  const table = spaces.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "spaces" },
      h("thead", {}, h("tr", {}, ["Space", "Tenant", "Purpose", "Visibility", "Usage", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)))
    : h("p", { class: "muted" }, q.get("tenant") || q.get("purpose") ? "No spaces match." : "No spaces yet. Create one below.");
  const listHref = (o) => {
    const n = new URLSearchParams();
    for (const k of ["tenant", "purpose"]) if (q.get(k)) n.set(k, q.get(k));
    if (o) n.set("offset", String(o));
    return `#/spaces${n.toString() ? `?${n}` : ""}`;
  };
  const fTenant = h("select", { name: "tenant" }, h("option", { value: "" }, "every tenant"),
    state.tenants.map((t) => h("option", { value: t.name, selected: q.get("tenant") === t.name }, t.name)));
  const fPurpose = h("select", { name: "purpose" }, h("option", { value: "" }, "every purpose"),
    ["generic", "cdn", "artifacts", "packages", "registry"].map((x) => h("option", { value: x, selected: q.get("purpose") === x }, x)));
  const filterForm = h("form", { id: "spaces-filter", role: "search", "aria-label": "Filter spaces" },
    h("div", { class: "row" }, p.tenant_id ? null : field("Tenant", fTenant), field("Purpose", fPurpose), h("button", { type: "submit", class: "secondary" }, "Filter")));
  filterForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const n = new URLSearchParams();
    if (!p.tenant_id && fTenant.value) n.set("tenant", fTenant.value);
    if (fPurpose.value) n.set("purpose", fPurpose.value);
    location.hash = `#/spaces${n.toString() ? `?${n}` : ""}`;
  });
  const pager = h("nav", { class: "actions", "aria-label": "Pages of spaces", id: "spaces-pager" },
    h("span", { class: "muted", id: "spaces-count" }, total ? `${offset + 1}–${offset + spaces.length} of ${total}` : ""),
    offset > 0 ? h("a", { href: listHref(Math.max(0, offset - SPACES_PAGE)), class: "button secondary", rel: "prev" }, "Previous") : null,
    nextOffset ? h("a", { href: listHref(nextOffset), class: "button", rel: "next" }, "Next") : null);

  // Create form.
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const tenant = p.tenant_id ? null : h("select", { name: "tenant", required: true },
    state.tenants.map((t) => h("option", { value: t.name }, t.name)));
  const purpose = h("select", { name: "purpose" }, ["generic", "cdn", "artifacts", "packages", "registry"].map((x) => h("option", { value: x }, x)));
  const quota = h("input", { name: "quota", placeholder: "for example 10GiB", autocomplete: "off" });
  const where = h("code", {}, "");
  const tenantName = () => (tenant ? tenant.value : (state.tenants[0] && state.tenants[0].name) || "<tenant>");
  const preview = () => { where.textContent = `bucket rs-${tenantName()}-${name.value || "<name>"}, stored under object-spaces/<tenant id>/<space id>/`; };
  name.addEventListener("input", preview);
  if (tenant) tenant.addEventListener("change", preview);
  preview();
  const form = h("form", { class: "card", id: "create-space", "aria-labelledby": "cs-title" },
    h("h2", { id: "cs-title" }, "Create a space"),
    h("div", { class: "row" },
      field("Name", name, "lower-case letters, digits and dashes"),
      tenant ? field("Tenant", tenant) : null,
      field("Purpose", purpose),
      field("Quota", quota, "empty for no quota")),
    h("p", { class: "muted" }, "S3 clients see ", where),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create space")));
  matchFields(form, { name: "name,slug", quota: "quota", tenant: "tenant" });
  onSubmit(form, async () => {
    const body = { name: name.value.trim(), purpose: purpose.value, quota_bytes: parseBytes(quota.value) };
    if (tenant) body.tenant = tenant.value;
    const s = await api("POST", "/spaces", body);
    toast(`Space ${s.bucket} created`);
    location.hash = `#/spaces/${encodeURIComponent(s.bucket)}`;
  });

  let tenantForm = null;
  if (!p.tenant_id) {
    const tname = h("input", { name: "name", required: true, autocomplete: "off" });
    tenantForm = h("form", { class: "card", id: "create-tenant", "aria-labelledby": "ct-title" },
      h("h2", { id: "ct-title" }, "Create a tenant"),
      h("div", { class: "row" }, field("Tenant name", tname), h("button", { type: "submit" }, "Create tenant")));
    tenantForm.querySelector(".field").dataset.match = "name,tenant";
    onSubmit(tenantForm, async () => {
      await api("POST", "/tenants", { name: tname.value.trim() });
      state.tenants = (await api("GET", "/tenants")).tenants;
      toast(`Tenant ${tname.value} created`);
      route();
    });
  }
  page("Object Spaces", h("div", { class: "card" }, filterForm, table, pager), form, tenantForm);
}

// A tenant: its spaces (with their keys and usage), totals, and its quota ceiling (the sum of
// its spaces' quotas; unlimited when one of them is).
async function tenantPage(name) {
  const { spaces, total } = await api("GET", `/spaces?tenant=${encodeURIComponent(name)}&limit=200`);
  const t = state.tenants.find((x) => x.name === name || x.id === name);
  if (!t) throw new Error(`no tenant ${name}`);
  const keys = await Promise.all(spaces.map((s) => api("GET", `/spaces/${encodeURIComponent(s.id)}/keys`).then((r) => r.keys).catch(() => [])));
  const used = spaces.reduce((n, s) => n + s.usage.bytes + (s.usage.multipart_bytes || 0) + (s.usage.published_bytes || 0) + (s.usage.noncurrent_bytes || 0), 0);
  const unlimited = spaces.some((s) => s.quota_bytes === null || s.quota_bytes === undefined);
  const ceiling = unlimited ? null : spaces.reduce((n, s) => n + s.quota_bytes, 0);
  const now = new Date();
  const active = (k) => !k.revoked_at && !(k.expires_at && new Date(k.expires_at) < now);
  page(`Tenant ${t.name}`,
    h("p", {}, h("a", { href: "#/spaces" }, "← All spaces"), " · ", h("span", { class: "mono" }, t.id), " · created ", fmtTime(t.created_at)),
    h("section", { class: "card", "aria-labelledby": "tu-title", id: "tenant-usage" },
      h("h2", { id: "tu-title" }, "Usage"),
      usageBar(used, ceiling),
      h("dl", { class: "kv", style: "margin-top:8px" },
        h("dt", {}, "Spaces"), h("dd", { id: "tenant-spaces" }, String(total)),
        h("dt", {}, "Stored"), h("dd", { id: "tenant-bytes" }, fmtBytes(used)),
        h("dt", {}, "Quota ceiling"), h("dd", { id: "tenant-ceiling" }, ceiling === null ? "unlimited (a space has no quota)" : fmtBytes(ceiling)),
        h("dt", {}, "Active keys"), h("dd", { id: "tenant-keys" }, String(keys.flat().filter(active).length)))),
    h("section", { class: "card", "aria-labelledby": "ts-title" },
      h("h2", { id: "ts-title" }, "Spaces"),
      spaces.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "tenant-spaces-table" },
        h("thead", {}, h("tr", {}, ["Space", "Purpose", "Usage", "Quota", "Keys"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, spaces.map((s, i) => h("tr", { "data-space": s.bucket },
          h("td", { "data-label": "Space" }, h("a", { href: `#/spaces/${encodeURIComponent(s.bucket)}` }, s.name), h("div", { class: "muted mono" }, s.bucket)),
          h("td", { "data-label": "Purpose" }, s.purpose),
          h("td", { "data-label": "Usage" }, `${fmtBytes(s.usage.bytes)} in ${s.usage.objects} objects`),
          h("td", { "data-label": "Quota" }, s.quota_bytes === null || s.quota_bytes === undefined ? "none" : fmtBytes(s.quota_bytes)),
          h("td", { "data-label": "Keys" }, keys[i].length ? keys[i].map((k) => h("div", { class: "mono" }, `${k.name} (${k.mode}${active(k) ? "" : ", inactive"})`)) : "none"))))))
        : h("p", { class: "muted" }, "No spaces.")));
}

function barChart(samples, minutes) {
  const w = 600, hgt = 120;
  const now = Date.now();
  const start = now - minutes * 60000;
  const buckets = new Array(minutes).fill(0);
  for (const s of samples) {
    const i = Math.floor((new Date(s.minute).getTime() - start) / 60000);
    if (i >= 0 && i < minutes) buckets[i] += s.bytes_out;
  }
  const max = Math.max(1, ...buckets);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const total = buckets.reduce((a, b) => a + b, 0);
  svg.setAttribute("aria-label", `Bytes sent per minute over the last ${minutes} minutes: ${fmtBytes(total)} in all, peak ${fmtBytes(max === 1 && total === 0 ? 0 : max)} per minute`);
  const bw = w / minutes;
  buckets.forEach((v, i) => {
    if (!v) return;
    const r = document.createElementNS(ns, "rect");
    const bh = Math.max(1, (v / max) * (hgt - 4));
    r.setAttribute("x", (i * bw + 0.5).toFixed(1));
    r.setAttribute("y", (hgt - bh).toFixed(1));
    r.setAttribute("width", Math.max(1, bw - 1).toFixed(1));
    r.setAttribute("height", bh.toFixed(1));
    const t = document.createElementNS(ns, "title");
    t.textContent = `${new Date(start + i * 60000).toLocaleTimeString()}: ${fmtBytes(v)}`;
    r.append(t);
    svg.append(r);
  });
  return h("figure", { style: "margin:0" }, svg, h("figcaption", { class: "muted", id: "bandwidth-total" }, `Sent in the last ${minutes} minutes: ${fmtBytes(total)} (S3 downloads and CDN)`));
}

function keyStatus(k) {
  if (k.revoked_at) return h("span", { class: "badge bad" }, "revoked");
  if (k.expires_at && new Date(k.expires_at) < new Date()) return h("span", { class: "badge warn" }, "expired");
  return h("span", { class: "badge ok" }, "active");
}

async function spacePage(id) {
  const [v, traffic, lifecycle] = await Promise.all([
    api("GET", `/spaces/${encodeURIComponent(id)}`),
    api("GET", `/spaces/${encodeURIComponent(id)}/traffic?minutes=60`).catch(() => ({ samples: [] })),
    api("GET", `/spaces/${encodeURIComponent(id)}/lifecycle`).catch(() => ({ rules: null })),
  ]);
  const sid = encodeURIComponent(v.id);
  const pub = v.public;
  const enabled = v.public_web_access === "enabled";

  const s3card = h("section", { class: "card", "aria-labelledby": "s3-title", id: "s3-access" },
    h("h2", { id: "s3-title" }, "S3 API Access: authenticated endpoint"),
    h("p", { class: "muted" }, "Reachable from anywhere, but every request needs a key of this space."),
    h("dl", { class: "kv" },
      h("dt", {}, "Endpoint"), h("dd", { class: "mono" }, v.s3.endpoint),
      h("dt", {}, "Bucket"), h("dd", { class: "mono" }, v.s3.bucket),
      h("dt", {}, "Prefix"), h("dd", {}, "set per key (below)"),
      h("dt", {}, "Region"), h("dd", { class: "mono" }, v.s3.region),
      h("dt", {}, "Path-style"), h("dd", {}, "enabled")));

  const toggle = h("button", {
    type: "button", id: "public-toggle", class: enabled ? "danger" : "", "aria-pressed": enabled ? "true" : "false",
    onclick: async () => {
      if (enabled) {
        if (!await confirmDialog("Disable public web access?", `Anonymous downloads of ${v.bucket} stop with the next request.`, "Disable public access")) return;
        try { await api("DELETE", `/spaces/${sid}/public`); toast("Public web access disabled"); route(); } catch (e) { toast(e.message); }
      } else {
        if (!await confirmDialog("Enable public web access?", `Anyone on the internet will be able to download the published objects of ${v.bucket} without a key. S3 access stays authenticated.`, "Enable public access")) return;
        try { await api("PUT", `/spaces/${sid}/public`, {}); toast("Public web access enabled"); route(); } catch (e) { toast(e.message); }
      }
    },
  }, enabled ? "Disable public web access" : "Enable public web access");
  const pubcard = h("section", { class: "card", "aria-labelledby": "pub-title", id: "public-access" },
    h("h2", { id: "pub-title" }, "Public Web Access: ", h("span", { class: enabled ? "on" : "off", id: "public-state" }, enabled ? "enabled" : "disabled")),
    h("p", { class: "muted" }, enabled ? "Published objects can be downloaded anonymously over HTTP." : "Nothing in this space can be downloaded without a key."),
    enabled && pub ? h("p", {}, "Public URL: ", h("a", { href: pub.url, id: "public-url", class: "mono" }, pub.url)) : null,
    h("div", { class: "actions" }, toggle));

  const rulesForm = enabled && pub ? rulesEditor(v, pub.rules) : null;

  const u = v.usage;
  const usage = h("section", { class: "card", "aria-labelledby": "usage-title", id: "usage" },
    h("h2", { id: "usage-title" }, "Usage"),
    h("div", { class: "grid2" },
      h("div", {},
        usageBar(u.bytes + (u.multipart_bytes || 0) + (u.published_bytes || 0) + (u.noncurrent_bytes || 0), v.quota_bytes),
        h("dl", { class: "kv", style: "margin-top:8px" },
          h("dt", {}, "Objects"), h("dd", { id: "usage-objects" }, String(u.objects)),
          h("dt", {}, "Stored"), h("dd", { id: "usage-bytes" }, fmtBytes(u.bytes)),
          v.versioning && v.versioning !== "unversioned" ? [
            h("dt", {}, "Noncurrent versions"), h("dd", { id: "usage-noncurrent" }, `${fmtBytes(u.noncurrent_bytes || 0)} in ${u.noncurrent_objects || 0} versions`),
            h("dt", {}, "Delete markers"), h("dd", { id: "usage-markers" }, String(u.delete_markers || 0))] : null,
          h("dt", {}, "Uploads in progress"), h("dd", {}, fmtBytes(u.multipart_bytes || 0)),
          h("dt", {}, "Published packages"), h("dd", { id: "usage-published" }, fmtBytes(u.published_bytes || 0)),
          h("dt", {}, "CDN requests (this node, since start)"), h("dd", {}, `${v.cdn.requests} (${v.cdn.hits} hits, ${v.cdn.misses} misses)`))),
      h("div", {}, h("h3", {}, "Bandwidth, last hour"), barChart(traffic.samples, 60))));

  page(`Space ${v.name}`,
    h("p", {}, h("a", { href: "#/spaces" }, "← All spaces"), " · ", h("span", { class: "mono" }, v.bucket), " · ", v.purpose, " · ", visibilityBadge(v),
      " · ", h("a", { href: `#/spaces/${sid}/objects`, id: "browse-objects" }, "Browse objects")),
    h("div", { class: "grid2", style: "margin-bottom:16px" }, s3card, pubcard),
    rulesForm, usage, versionsSection(v), lockSection(v, enabled && pub ? pub.rules : null), lifecycleSection(v, lifecycle), keysSection(v));
}

// Object lock: the state, the write-once prefixes, and for each prefix the CDN caches as
// immutable but that can still be overwritten, one step that makes it write-once (versioning
// is enabled on the way, as object lock needs it). Not offered to packages and registry spaces,
// whose services remove what they wrote.
function lockSection(v, pubRules) {
  if (v.purpose === "packages" || v.purpose === "registry") return null;
  const sid = encodeURIComponent(v.id);
  const cur = v.object_lock || null;
  const wo = (cur && cur.write_once) || [];
  const period = (w) => (w.days ? `${w.days} days` : "ever");
  const describe = (w) => `${w.prefix}: cannot be overwritten or deleted for ${period(w)} after each write (${w.mode.toLowerCase()})`;
  const makeWriteOnce = async (prefix, days, mode) => {
    const text = `Objects under ${prefix} will be kept for ${days ? `${days} days` : "ever"} after each write: no overwrite, no delete${mode === "COMPLIANCE" ? ", by anyone, the operator included" : " (only the operator can lift it)"}. ${v.versioning === "enabled" ? "" : "Versioning will be enabled. "}Object lock cannot be turned off again.`;
    if (!await confirmDialog(`Make ${prefix} write-once?`, text, "Make write-once")) return;
    if (v.versioning !== "enabled") await api("PUT", `/spaces/${sid}/versioning`, { versioning: "enabled" });
    const rule = { prefix, mode };
    if (days) rule.days = days;
    const body = { write_once: wo.filter((w) => w.prefix !== prefix).concat([rule]) };
    if (cur && cur.default_retention) body.default_retention = cur.default_retention;
    await api("PUT", `/spaces/${sid}/object-lock`, body);
    toast(`${prefix} is write-once`);
    route();
  };
  const periodSelect = (name) => h("select", { name }, [["30", "30 days"], ["90", "90 days"], ["365", "1 year"], ["", "for ever"]]
    .map(([val, label]) => h("option", { value: val, selected: val === "90" }, label)));
  const modeSelect = (name) => h("select", { name }, [["GOVERNANCE", "governance (the operator can lift it)"], ["COMPLIANCE", "compliance (nobody can)"]]
    .map(([val, label]) => h("option", { value: val }, label)));
  const immutable = ((pubRules && pubRules.immutable_prefixes) || []).filter((p) => !wo.some((w) => w.prefix === p));
  const offers = immutable.map((p) => {
    const keep = periodSelect("period");
    const mode = modeSelect("mode");
    const form = h("form", { class: "write-once-offer", "data-prefix": p, "aria-label": `Make ${p} write-once` },
      h("p", {}, h("span", { class: "mono" }, p), " is cached as immutable by the CDN, but can still be overwritten or deleted."),
      h("div", { class: "row" }, field("Keep each object", keep), field("Mode", mode),
        h("button", { type: "submit", "aria-label": `Make ${p} write-once` }, "Make write-once")));
    onSubmit(form, () => makeWriteOnce(p, keep.value ? Number(keep.value) : null, mode.value));
    return form;
  });
  const prefix = h("input", { name: "prefix", autocomplete: "off", placeholder: "for example releases/" });
  const keep = periodSelect("period");
  const mode = modeSelect("mode");
  const add = h("form", { id: "write-once-form", "aria-labelledby": "wo-add-title" },
    h("h3", { id: "wo-add-title" }, "Add a write-once prefix"),
    h("div", { class: "row" }, field("Prefix", prefix), field("Keep each object", keep), field("Mode", mode)),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add write-once prefix")));
  matchFields(add, { prefix: "prefix", period: "days,period", mode: "mode" });
  onSubmit(add, async () => {
    const p = prefix.value.trim();
    if (!p) throw new Error("prefix: name the prefix that becomes write-once, for example releases/");
    await makeWriteOnce(p, keep.value ? Number(keep.value) : null, mode.value);
  });
  const d = cur && cur.default_retention;
  return h("section", { class: "card", "aria-labelledby": "lock-title", id: "object-lock" },
    h("h2", { id: "lock-title" }, "Object lock: ", h("span", { id: "lock-state", class: cur ? "on" : "off" }, cur ? "enabled" : "off")),
    d ? h("p", { id: "lock-default" }, `Every new version is kept ${d.days ? `${d.days} days` : `${d.years} years`} (${d.mode.toLowerCase()}).`) : null,
    wo.length ? h("ul", { id: "write-once-prefixes" }, wo.map((w) => h("li", { "data-prefix": w.prefix }, describe(w))))
      : h("p", { class: "muted", id: "write-once-prefixes" }, "No write-once prefixes: every key can be overwritten and deleted."),
    offers, add);
}

// Lifecycle rules: shown as a sentence each, edited as the API's JSON (the same document the
// CLI's --set takes), with the API's message at the field when a rule is refused.
function lifecycleSection(v, state) {
  const sid = encodeURIComponent(v.id);
  const rules = (state && state.rules) || [];
  const describe = (r) => {
    const what = [];
    if (r.expire_days) what.push(`objects expire after ${r.expire_days} days`);
    if (r.noncurrent_days) what.push(`noncurrent versions go ${r.noncurrent_days} days after they were replaced${r.keep_noncurrent ? ` (the newest ${r.keep_noncurrent} kept)` : ""}`);
    if (r.expired_delete_markers) what.push("lone delete markers go");
    if (r.abort_multipart_days) what.push(`uploads are aborted after ${r.abort_multipart_days} days`);
    return `${r.id}${r.enabled === false ? " (disabled)" : ""}: ${r.prefix ? `keys under ${r.prefix}` : "every key"}: ${what.join("; ")}`;
  };
  const text = h("textarea", { name: "rules", rows: 6, class: "mono" }, rules.length ? JSON.stringify(rules, null, 2) : "");
  const form = h("form", { id: "lifecycle-form", "aria-labelledby": "lc-edit-title" },
    h("h3", { id: "lc-edit-title" }, "Edit rules"),
    field("Rules (JSON)", text, 'for example [{"id": "ci", "prefix": "ci/", "expire_days": 30}]; empty removes them'),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save lifecycle rules")));
  matchFields(form, { rules: "rule,days,prefix,id,json" });
  onSubmit(form, async () => {
    const raw = text.value.trim();
    if (!raw) {
      await api("DELETE", `/spaces/${sid}/lifecycle`);
      toast("Lifecycle rules removed");
    } else {
      let parsed;
      try { parsed = JSON.parse(raw); } catch (e) { throw new Error(`rules: not valid JSON: ${e.message}`); }
      await api("PUT", `/spaces/${sid}/lifecycle`, { rules: Array.isArray(parsed) ? parsed : parsed.rules });
      toast("Lifecycle rules saved");
    }
    route();
  });
  return h("section", { class: "card", "aria-labelledby": "lc-title", id: "lifecycle" },
    h("h2", { id: "lc-title" }, "Lifecycle"),
    rules.length ? h("ul", { id: "lifecycle-rules" }, rules.map((r) => h("li", {}, describe(r)))) : h("p", { class: "muted", id: "lifecycle-rules" }, "Nothing expires."),
    form);
}

// Versioning: the state, with a button to change it, and (once enabled) the versions of a key
// or prefix with a restore button on each older version. Nothing about versions is shown in a
// space that never had them but the button to enable them.
function versionsSection(v) {
  const sid = encodeURIComponent(v.id);
  const state = v.versioning || "unversioned";
  const next = state === "enabled" ? "suspended" : "enabled";
  const toggle = v.purpose === "registry" ? h("p", { class: "muted" }, "Registry spaces stay unversioned: image blobs never change.") :
    h("button", {
      type: "button", id: "versioning-toggle", class: state === "enabled" ? "secondary" : "",
      onclick: async () => {
        const text = next === "enabled"
          ? `Every overwrite and delete in ${v.bucket} will keep the previous version (it counts against the quota). Versioning can later be suspended, not removed.`
          : `New writes to ${v.bucket} will replace the "null" version instead of keeping versions. Versions already kept stay.`;
        if (!await confirmDialog(next === "enabled" ? "Enable versioning?" : "Suspend versioning?", text, next === "enabled" ? "Enable versioning" : "Suspend versioning")) return;
        try { await api("PUT", `/spaces/${sid}/versioning`, { versioning: next }); toast(`Versioning ${next}`); route(); } catch (e) { toast(e.message); }
      },
    }, next === "enabled" ? "Enable versioning" : "Suspend versioning");
  const section = h("section", { class: "card", "aria-labelledby": "versions-title", id: "versions" },
    h("h2", { id: "versions-title" }, "Versioning: ", h("span", { id: "versioning-state", class: state === "enabled" ? "on" : "off" }, state)),
    h("div", { class: "actions" }, toggle));
  if (state === "unversioned") return section;
  const key = h("input", { name: "key", required: true, autocomplete: "off", placeholder: "for example releases/app.tar, or releases/" });
  const out = h("div", { id: "versions-result", "aria-live": "polite" });
  const form = h("form", { id: "find-versions", "aria-labelledby": "fv-title" },
    h("h3", { id: "fv-title" }, "Versions of an object"),
    h("div", { class: "row" }, field("Key or prefix", key)),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Show versions")));
  matchFields(form, { key: "key,prefix" });
  const show = async () => {
    const k = key.value.trim();
    const r = await api("GET", `/spaces/${sid}/versions?prefix=${encodeURIComponent(k)}&limit=200`);
    const list = k.endsWith("/") ? r.versions : r.versions.filter((x) => x.key === k);
    out.replaceChildren(list.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "versions-table" },
      h("thead", {}, h("tr", {}, ["Key", "Version", "Size", "Written", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, list.map((x) => h("tr", { "data-version": x.version_id },
        h("td", { "data-label": "Key", class: "mono" }, x.key),
        h("td", { "data-label": "Version", class: "mono" }, x.version_id, x.latest ? [" ", h("span", { class: "badge ok" }, "current")] : null),
        h("td", { "data-label": "Size" }, x.delete_marker ? h("span", { class: "badge warn" }, "deleted") : fmtBytes(x.size),
          x.lock && x.lock.retention ? [" ", h("span", { class: "badge", title: `kept until ${fmtTime(x.lock.retention.until)}` }, `locked (${x.lock.retention.mode.toLowerCase()})`)] : null,
          x.lock && x.lock.legal_hold ? [" ", h("span", { class: "badge warn" }, "legal hold")] : null),
        h("td", { "data-label": "Written" }, x.last_modified ? fmtTime(x.last_modified) : ""),
        h("td", { "data-label": "" }, x.latest || x.delete_marker ? "" : h("button", {
          type: "button", class: "small", "aria-label": `Restore version ${x.version_id} of ${x.key}`,
          onclick: async () => {
            if (!await confirmDialog("Restore this version?", `A copy of version ${x.version_id} becomes the current ${x.key}; the versions there now are kept.`, "Restore version")) return;
            try {
              const done = await api("POST", `/spaces/${sid}/objects/restore`, { key: x.key, version_id: x.version_id });
              toast(`Restored ${done.key}: now version ${done.version_id}`);
              await show();
            } catch (e) { toast(e.message); }
          },
        }, "Restore"))))))) : h("p", { class: "muted" }, `No versions of ${k}.`));
  };
  onSubmit(form, show);
  section.append(form, out);
  return section;
}

function lines(a) { return (a || []).join("\n"); }
function splitLines(s) { return s.split(/[\n,]/).map((x) => x.trim()).filter(Boolean); }

function rulesEditor(v, r) {
  const prefixes = h("textarea", { name: "prefixes" }, lines(r.prefixes.filter((p) => p !== "")));
  const cc = h("input", { name: "cache_control", value: r.cache_control });
  const imm = h("textarea", { name: "immutable_prefixes" }, lines(r.immutable_prefixes));
  const types = h("textarea", { name: "allowed_content_types" }, lines(r.allowed_content_types));
  const cors = h("textarea", { name: "cors_origins" }, lines(r.cors_origins));
  const listing = h("input", { type: "checkbox", name: "directory_listing", checked: r.directory_listing });
  const form = h("form", { class: "card", id: "rules", "aria-labelledby": "rules-title" },
    h("h2", { id: "rules-title" }, "Publication rules"),
    h("div", { class: "grid2" },
      field("Published prefixes", prefixes, "one per line; empty publishes the whole space"),
      field("Cache-Control", cc, "for example public, max-age=300"),
      field("Immutable prefixes", imm, "objects here never change: cached for a year"),
      field("Allowed content types", types, "exact or type/*; empty allows every type"),
      field("CORS allowed origins", cors, "for example https://app.example.com, or *"),
      h("div", { class: "field", "data-field": "directory_listing" }, h("label", {}, listing, " Directory listing (an HTML index of published prefixes)"), h("div", { class: "error" }))),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save rules")));
  const m = { prefixes: "prefix", cache_control: "cache", immutable_prefixes: "immutable", allowed_content_types: "content type", cors_origins: "cors,origin" };
  matchFields(form, m);
  onSubmit(form, async () => {
    const p = splitLines(prefixes.value);
    await api("PUT", `/spaces/${encodeURIComponent(v.id)}/public`, {
      prefixes: p.length ? p : [""],
      cache_control: cc.value.trim(),
      immutable_prefixes: splitLines(imm.value),
      allowed_content_types: splitLines(types.value),
      cors_origins: splitLines(cors.value),
      directory_listing: listing.checked,
    });
    toast("Rules saved");
    route();
  });
  return form;
}

function keysSection(v) {
  const sid = encodeURIComponent(v.id);
  const rows = v.keys.map((k) => h("tr", { "data-key": k.access_key_id },
    h("td", { "data-label": "Name" }, k.name),
    h("td", { "data-label": "Access key", class: "mono" }, k.access_key_id),
    h("td", { "data-label": "Mode" }, k.mode),
    h("td", { "data-label": "Prefix", class: "mono" }, k.allowed_prefix || "(whole space)"),
    h("td", { "data-label": "Expires" }, k.expires_at ? fmtTime(k.expires_at) : "never"),
    h("td", { "data-label": "Last used" }, k.last_used_at ? fmtTime(k.last_used_at) : "never"),
    h("td", { "data-label": "Status" }, keyStatus(k)),
    h("td", { "data-label": "" }, k.revoked_at ? "" : [
      h("button", {
        type: "button", class: "small secondary", "aria-label": `Rotate ${k.name}`,
        onclick: async () => {
          if (!await confirmDialog(`Rotate ${k.name}?`, "A new secret is made; the old one stops working at once. Clients must be given the new one.", "Rotate key")) return;
          try { await showSecret(await api("POST", `/keys/${encodeURIComponent(k.id)}/rotate`)); route(); } catch (e) { toast(e.message); }
        },
      }, "Rotate"), " ",
      h("button", {
        type: "button", class: "small danger", "aria-label": `Revoke ${k.name}`,
        onclick: async () => {
          if (!await confirmDialog(`Revoke ${k.name}?`, `${k.access_key_id} stops working with the next request. This cannot be undone.`, "Revoke key")) return;
          try { await api("POST", `/keys/${encodeURIComponent(k.id)}/revoke`); toast(`${k.name} revoked`); route(); } catch (e) { toast(e.message); }
        },
      }, "Revoke")])));
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const mode = h("select", { name: "mode" }, ["read-only", "write-only", "read-write", "read-write-delete", "publisher", "registry-backend", "tenant-wide"]
    .map((m) => h("option", { value: m, selected: m === "read-write" }, m)));
  const prefix = h("input", { name: "prefix", placeholder: "for example releases/", autocomplete: "off" });
  const expiry = h("input", { name: "expires", type: "date" });
  const form = h("form", { id: "create-key", "aria-labelledby": "ck-title" },
    h("h3", { id: "ck-title" }, "Create a key"),
    h("div", { class: "row" },
      field("Key name", name), field("Mode", mode),
      field("Prefix", prefix, "empty: the whole space; else ends with /"),
      field("Expires", expiry, "empty: never")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create key")));
  matchFields(form, { name: "name", prefix: "prefix", expires: "expir" });
  onSubmit(form, async () => {
    const body = { name: name.value.trim(), mode: mode.value, prefix: prefix.value.trim() };
    if (expiry.value) body.expires_at = new Date(`${expiry.value}T23:59:59Z`).toISOString().replace(/\.\d+Z$/, "Z");
    const block = await api("POST", `/spaces/${sid}/keys`, body);
    await showSecret(block);
    route();
  });
  return h("section", { class: "card", "aria-labelledby": "keys-title", id: "keys" },
    h("h2", { id: "keys-title" }, "Keys"),
    v.keys.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "keys-table" },
      h("thead", {}, h("tr", {}, ["Name", "Access key", "Mode", "Prefix", "Expires", "Last used", "Status", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))) : h("p", { class: "muted" }, "No keys yet."),
    form);
}

async function auditPage(params) {
  const { spaces } = await api("GET", "/spaces");
  const q = new URLSearchParams(params);
  const space = h("select", { name: "space" }, h("option", { value: "" }, "all spaces"),
    spaces.map((s) => h("option", { value: s.bucket, selected: q.get("space") === s.bucket }, s.bucket)));
  const key = h("input", { name: "identity", value: q.get("identity") || "", placeholder: "RS3…", autocomplete: "off" });
  const op = h("input", { name: "operation", value: q.get("operation") || "", placeholder: "for example PutObject", autocomplete: "off" });
  const since = h("input", { name: "since", type: "datetime-local", value: q.get("since_local") || "" });
  const until = h("input", { name: "until", type: "datetime-local", value: q.get("until_local") || "" });
  const form = h("form", { class: "card", id: "audit-filter", "aria-label": "Filter audit events" },
    h("div", { class: "row" }, field("Space", space), field("Access key", key), field("Operation", op), field("From", since), field("Until", until),
      h("button", { type: "submit" }, "Filter")));
  matchFields(form, { since: "since", until: "until" });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const n = new URLSearchParams();
    if (space.value) n.set("space", space.value);
    if (key.value.trim()) n.set("identity", key.value.trim());
    if (op.value.trim()) n.set("operation", op.value.trim());
    if (since.value) n.set("since_local", since.value);
    if (until.value) n.set("until_local", until.value);
    location.hash = `#/audit?${n}`;
  });
  const apiq = new URLSearchParams();
  for (const k of ["space", "identity", "operation", "before"]) if (q.get(k)) apiq.set(k, q.get(k));
  if (q.get("since_local")) apiq.set("since", new Date(q.get("since_local")).toISOString().replace(/\.\d+Z$/, "Z"));
  if (q.get("until_local")) apiq.set("until", new Date(q.get("until_local")).toISOString().replace(/\.\d+Z$/, "Z"));
  apiq.set("limit", "50");
  let data;
  try { data = await api("GET", `/audit?${apiq}`); } catch (e) { showError(form, e); page("Audit log", form); return; }
  const byId = Object.fromEntries(spaces.map((s) => [s.id, s.bucket]));
  const rows = data.events.map((e) => h("tr", {},
    h("td", { "data-label": "Time" }, fmtTime(e.timestamp)),
    h("td", { "data-label": "Space", class: "mono" }, byId[e.object_space_id] || e.object_space_id || "—"),
    h("td", { "data-label": "Actor" }, e.actor),
    h("td", { "data-label": "Operation" }, e.operation),
    h("td", { "data-label": "Key", class: "mono" }, e.object_key || ""),
    h("td", { "data-label": "Status" }, e.status),
    h("td", { "data-label": "Bytes", class: "num" }, e.bytes ? fmtBytes(e.bytes) : ""),
    h("td", { "data-label": "Source" }, e.source_ip || ""),
    h("td", { "data-label": "Detail", class: "mono" }, e.detail || "")));
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    q.get("before") ? h("a", { href: "#/audit?" + (() => { const n = new URLSearchParams(q); n.delete("before"); return n; })() }, "Newest") : null,
    data.next_before ? h("a", { href: "#/audit?" + (() => { const n = new URLSearchParams(q); n.set("before", data.next_before); return n; })(), id: "audit-older" }, "Older →") : null);
  page("Audit log", form, h("div", { class: "card" },
    data.events.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "audit" },
      h("thead", {}, h("tr", {}, ["Time", "Space", "Actor", "Operation", "Object", "Status", "Bytes", "Source", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))) : h("p", { class: "muted" }, "No events match."),
    pager));
}

async function reposPage() {
  const { repositories } = await api("GET", "/repos");
  page("Package repositories", h("div", { class: "card" },
    repositories.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "repos" },
      h("thead", {}, h("tr", {}, ["Repository", "Distributions", "Components", "Architectures", "Fingerprint"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, repositories.map((r) => h("tr", {},
        h("td", { "data-label": "Repository" }, h("a", { href: `#/repos/${encodeURIComponent(r.name)}` }, r.name)),
        h("td", { "data-label": "Distributions" }, r.config.distributions.map((d) => d.suite === d.codename ? d.suite : `${d.suite} (${d.codename})`).join(", ")),
        h("td", { "data-label": "Components" }, r.config.components.join(", ")),
        h("td", { "data-label": "Architectures" }, r.config.architectures.join(", ")),
        h("td", { "data-label": "Fingerprint", class: "mono" }, r.fingerprint))))))
      : h("p", { class: "muted" }, "No repositories. Create one with ", h("code", {}, "rustshare repo create <name> --space <packages space>"), ".")));
}

async function repoPage(name) {
  const n = encodeURIComponent(name);
  const [v, s] = await Promise.all([api("GET", `/repos/${n}`), api("GET", `/repos/${n}/snapshots`)]);
  const r = v.repository;
  const current = s.snapshots.find((x) => x.id === s.current_snapshot);
  const snaps = s.snapshots.map((x) => h("tr", { "data-snapshot": x.id },
    h("td", { "data-label": "Snapshot", class: "mono" }, x.id, x.id === s.current_snapshot ? h("span", { class: "badge ok", style: "margin-left:6px" }, "current") : null),
    h("td", { "data-label": "Created" }, fmtTime(x.created)),
    h("td", { "data-label": "Packages", class: "num" }, String(x.packages)),
    h("td", { "data-label": "Changes" }, (x.changes || []).slice(0, 5).join("; ") + ((x.changes || []).length > 5 ? " …" : "")),
    h("td", { "data-label": "" }, x.id === s.current_snapshot ? "" : h("button", {
      type: "button", class: "small secondary", "aria-label": `Roll back to ${x.id}`,
      onclick: async () => {
        if (!await confirmDialog(`Roll back ${r.name}?`, `The package set of snapshot ${x.id} is published again as a new, freshly signed snapshot.`, "Roll back")) return;
        try { await api("POST", `/repos/${n}/rollback`, { snapshot: x.id }); toast("Rolled back"); route(); } catch (e) { toast(e.message); }
      },
    }, "Roll back"))));
  page(`Repository ${r.name}`,
    h("p", {}, h("a", { href: "#/repos" }, "← All repositories")),
    h("div", { class: "grid2", style: "margin-bottom:16px" },
      h("section", { class: "card", "aria-labelledby": "ri-title" },
        h("h2", { id: "ri-title" }, "Repository"),
        h("dl", { class: "kv" },
          h("dt", {}, "URL"), h("dd", {}, h("a", { href: v.url, class: "mono" }, v.url)),
          h("dt", {}, "Distributions"), h("dd", {}, r.config.distributions.map((d) => `${d.suite} (${d.codename})`).join(", ")),
          h("dt", {}, "Components"), h("dd", {}, r.config.components.join(", ")),
          h("dt", {}, "Architectures"), h("dd", {}, r.config.architectures.join(", ")),
          h("dt", {}, "Packages"), h("dd", { id: "repo-packages" }, current ? String(current.packages) : "0"),
          h("dt", {}, "Key fingerprint"), h("dd", { class: "mono", id: "repo-fingerprint" }, r.fingerprint),
          ...(r.next_fingerprint ? [h("dt", {}, "Next key (signs too)"), h("dd", { class: "mono", id: "repo-next-fingerprint" }, r.next_fingerprint)] : []),
          h("dt", {}, "Retain"), h("dd", {}, `${r.config.retain} snapshots`))),
      h("section", { class: "card", "aria-labelledby": "apt-title" },
        h("h2", { id: "apt-title" }, "apt setup"),
        h("pre", {}, `sudo curl -fsSL ${v.key_url} -o /etc/apt/keyrings/${r.name}.gpg`),
        h("p", { class: "muted" }, `/etc/apt/sources.list.d/${r.name}.sources:`),
        h("pre", { id: "apt-sources" }, v.sources))),
    packagesCard(r, n),
    h("section", { class: "card", "aria-labelledby": "snap-title" },
      h("h2", { id: "snap-title" }, "Snapshots"),
      snaps.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "snapshots" },
        h("thead", {}, h("tr", {}, ["Snapshot", "Created", "Packages", "Changes", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, snaps))) : h("p", { class: "muted" }, "Nothing published yet.")));
}

// The packages of the current snapshot, filtered by distribution and a query the publisher
// parses (a name with * wildcards, optionally with a Debian version constraint).
function packagesCard(r, n) {
  const dist = h("select", { name: "dist" }, h("option", { value: "" }, "All"),
    ...r.config.distributions.map((d) => h("option", { value: d.suite }, d.suite)));
  const query = h("input", { name: "q", placeholder: "hello*, hello (>= 1.2)", autocomplete: "off" });
  const list = h("div", { id: "packages-list", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  const form = h("form", { id: "packages-filter", "aria-label": "Filter packages" },
    h("div", { class: "row" }, field("Distribution", dist), field("Package", query, "a name, * for any run of characters, optionally (>= 1.2)")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter")));
  matchFields(form, { q: "constraint,version,package name,query" });
  const load = async () => {
    const qs = new URLSearchParams();
    if (dist.value) qs.set("dist", dist.value);
    if (query.value.trim()) qs.set("q", query.value.trim());
    const { packages } = await api("GET", `/repos/${n}/packages${qs.toString() ? "?" + qs : ""}`);
    list.replaceChildren(packages.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "packages" },
      h("thead", {}, h("tr", {}, ["Distribution", "Component", "Package", "Version", "Architecture", "Size"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, packages.map((p) => h("tr", { "data-package": p.package },
        h("td", { "data-label": "Distribution" }, p.dist),
        h("td", { "data-label": "Component" }, p.component),
        h("td", { "data-label": "Package", class: "mono" }, p.package),
        h("td", { "data-label": "Version", class: "mono" }, p.version),
        h("td", { "data-label": "Architecture" }, p.architecture),
        h("td", { "data-label": "Size", class: "num" }, fmtBytes(p.size)))))))
      : h("p", { class: "muted" }, "No packages match."));
  };
  onSubmit(form, load);
  load().catch((e) => showError(form, e));
  return h("section", { class: "card", "aria-labelledby": "pk-title", style: "margin-bottom:16px" },
    h("h2", { id: "pk-title" }, "Packages"), form, list);
}

async function registriesPage() {
  const { namespaces } = await api("GET", "/registry/namespaces");
  const p = state.session.principal;
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const tenant = p.tenant_id ? null : h("select", { name: "tenant" }, state.tenants.map((t) => h("option", { value: t.name }, t.name)));
  const quota = h("input", { name: "quota", placeholder: "for example 50GiB", autocomplete: "off" });
  const form = h("form", { class: "card", id: "create-namespace", "aria-labelledby": "cn-title" },
    h("h2", { id: "cn-title" }, "Create a namespace"),
    h("div", { class: "row" }, field("Namespace", name), tenant ? field("Tenant", tenant) : null, field("Quota", quota, "empty for no quota")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create namespace")));
  matchFields(form, { name: "namespace,name", quota: "quota" });
  onSubmit(form, async () => {
    const body = { name: name.value.trim(), quota_bytes: parseBytes(quota.value) };
    if (tenant) body.tenant = tenant.value;
    await api("POST", "/registry/namespaces", body);
    location.hash = `#/registries/${encodeURIComponent(body.name)}`;
  });
  page("Registry namespaces", h("div", { class: "card" },
    namespaces.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "namespaces" },
      h("thead", {}, h("tr", {}, ["Namespace", "Pulls", "Retention", "Created"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, namespaces.map((n) => h("tr", { "data-namespace": n.name },
        h("td", { "data-label": "Namespace" }, h("a", { href: `#/registries/${encodeURIComponent(n.name)}` }, n.name)),
        h("td", { "data-label": "Pulls" }, n.public ? h("span", { class: "badge warn" }, "anonymous") : h("span", { class: "badge" }, "robots only")),
        h("td", { "data-label": "Retention" }, retentionText(n.retention)),
        h("td", { "data-label": "Created" }, fmtTime(n.created_at)))))))
      : h("p", { class: "muted" }, "No registry namespaces yet.")), form);
}

function retentionText(r) {
  const parts = [];
  if (r.keep_last) parts.push(`keep newest ${r.keep_last}`);
  if (r.max_age_days) parts.push(`delete after ${r.max_age_days} days`);
  if (r.protect && r.protect.length) parts.push(`protect ${r.protect.join(", ")}`);
  return parts.length ? parts.join("; ") : "keep every tag";
}

async function registryPage(nsName) {
  const n = encodeURIComponent(nsName);
  const v = await api("GET", `/registry/namespaces/${n}`);
  const ns = v.namespace;
  const rows = v.robots.map((r) => h("tr", { "data-robot": r.username },
    h("td", { "data-label": "Login", class: "mono" }, r.username),
    h("td", { "data-label": "Access" }, r.access),
    h("td", { "data-label": "Created" }, fmtTime(r.created_at)),
    h("td", { "data-label": "Status" }, r.revoked_at ? h("span", { class: "badge bad" }, "revoked") : h("span", { class: "badge ok" }, "active")),
    h("td", { "data-label": "" }, r.revoked_at ? "" : h("button", {
      type: "button", class: "small danger", "aria-label": `Revoke ${r.username}`,
      onclick: async () => {
        if (!await confirmDialog(`Revoke ${r.username}?`, "Its next login fails; tokens already issued expire within five minutes.", "Revoke robot")) return;
        try { await api("POST", `/registry/namespaces/${n}/robots/${encodeURIComponent(r.name)}/revoke`); route(); } catch (e) { toast(e.message); }
      },
    }, "Revoke"))));
  const rname = h("input", { name: "name", required: true, autocomplete: "off" });
  const access = h("select", { name: "access" }, h("option", { value: "pull" }, "pull"), h("option", { value: "push" }, "push (and pull)"));
  const form = h("form", { id: "create-robot", "aria-labelledby": "cr-title" },
    h("h3", { id: "cr-title" }, "Create a robot"),
    h("div", { class: "row" }, field("Robot name", rname), field("Access", access)),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create robot")));
  form.querySelector('[data-field="name"]').dataset.match = "robot,name";
  onSubmit(form, async () => {
    const r = await api("POST", `/registry/namespaces/${n}/robots`, { name: rname.value.trim(), access: access.value });
    await showRobotSecret(r);
    route();
  });
  const publicToggle = h("button", {
    type: "button", class: ns.public ? "danger" : "secondary", id: "namespace-public",
    onclick: async () => {
      const on = !ns.public;
      if (!await confirmDialog(on ? "Allow anonymous pulls?" : "Stop anonymous pulls?", on ? `Anyone will be able to pull images of ${ns.name} without credentials. Pushes still need a robot.` : `Pulls of ${ns.name} will need a robot from the next token request.`, on ? "Allow anonymous pulls" : "Stop anonymous pulls")) return;
      try { await api("PATCH", `/registry/namespaces/${n}`, { public: on }); route(); } catch (e) { toast(e.message); }
    },
  }, ns.public ? "Stop anonymous pulls" : "Allow anonymous pulls");
  page(`Namespace ${ns.name}`,
    h("p", {}, h("a", { href: "#/registries" }, "← All namespaces")),
    h("div", { class: "grid2", style: "margin-bottom:16px" },
      h("section", { class: "card", "aria-labelledby": "ns-title" },
        h("h2", { id: "ns-title" }, "Storage"),
        h("dl", { class: "kv" },
          h("dt", {}, "Space"), h("dd", { class: "mono" }, h("a", { href: `#/spaces/${encodeURIComponent(v.bucket)}` }, v.bucket)),
          h("dt", {}, "Usage"), h("dd", {}, usageBar(v.usage.bytes + (v.usage.multipart_bytes || 0) + (v.usage.published_bytes || 0), v.quota_bytes)),
          h("dt", {}, "Retention"), h("dd", { id: "namespace-retention" }, retentionText(ns.retention)))),
      h("section", { class: "card", "aria-labelledby": "pulls-title" },
        h("h2", { id: "pulls-title" }, "Anonymous pulls: ", ns.public ? "allowed" : "off"),
        h("p", { class: "muted" }, "Pushes always need a robot with push access."),
        h("div", { class: "actions" }, publicToggle))),
    h("section", { class: "card", "aria-labelledby": "robots-title" },
      h("h2", { id: "robots-title" }, "Robots"),
      rows.length ? h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "robots" },
        h("thead", {}, h("tr", {}, ["Login", "Access", "Created", "Status", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))) : h("p", { class: "muted" }, "No robots yet."),
      form));
}

// A robot's secret, shown once (the same dialog as S3 keys).
function showRobotSecret(r) {
  return showSecret({
    fields: [["Login", r.username], ["Secret", r.secret], ["Access", r.robot.access]],
    secretField: "Secret",
    commands: [["skopeo", `skopeo copy --dest-creds '${r.username}:${r.secret}' oci:./image:1.0 docker://<registry>/${r.robot.namespace}/app:1.0`],
      ["docker", `echo '${r.secret}' | docker login <registry> --username '${r.username}' --password-stdin`]],
  });
}

// ---- routing ----

async function route() {
  if (!state.session) { showLogin(); return; }
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  const parts = path.split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === parts[0]) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  try {
    if (parts[0] === "spaces" && parts[1] && parts[2] === "objects") await objectsPage(parts[1], query || "");
    else if (parts[0] === "spaces" && parts[1]) await spacePage(parts[1]);
    else if (parts[0] === "tenants" && parts[1]) await tenantPage(parts[1]);
    else if (parts[0] === "spaces" && !parts[1]) await spacesPage(query || "");
    else if (parts[0] === "audit") await auditPage(query || "");
    else if (parts[0] === "repos" && parts[1]) await repoPage(parts[1]);
    else if (parts[0] === "registries" && parts[1]) await registryPage(parts[1]);
    else if (parts[0] === "registries") await registriesPage();
    else if (parts[0] === "repos") await reposPage();
    else await spacesPage();
  } catch (e) {
    if (e.status === 401) return;
    page("Something went wrong", h("div", { class: "error-box", role: "alert" }, e.message), h("p", {}, h("a", { href: "#/spaces" }, "Back to spaces")));
  }
}

window.addEventListener("hashchange", route);
document.getElementById("logout").addEventListener("click", logout);
document.getElementById("secret-close").addEventListener("click", () => document.getElementById("secret").close());

(async () => {
  try {
    state.session = await api("GET", "/session");
    await enter();
  } catch (_) {
    showLogin();
  }
})();

// ---- object browser ----
// One folder at a time (the S3 face's listing through /objects, folded at /), sorted and
// filtered; uploads of files and folders (picker or drop), in 16 MiB parts above that size,
// with progress and a cancel; downloads; details with a share link and, in a versioned space,
// the versions; deletion of a selection or of whole folders, in batches with progress.

const PART_SIZE = 16 * 1024 * 1024;

function objectsHref(sid, prefix) {
  return `#/spaces/${sid}/objects${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ""}`;
}

function typeOf(key) {
  const name = key.split("/").pop();
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "file";
}

// Sends `body` with XHR (fetch cannot report upload progress); `holder.xhr` lets a cancel abort it.
function sendWithProgress(method, path, body, contentType, onProgress, holder) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    holder.xhr = x;
    x.open(method, `/api/v1${path}`);
    x.setRequestHeader("x-csrf-token", state.session.csrf_token);
    x.setRequestHeader("accept", "application/json");
    if (contentType) x.setRequestHeader("content-type", contentType);
    x.upload.onprogress = (e) => onProgress(e.loaded);
    x.onload = () => {
      let d = null;
      try { d = JSON.parse(x.responseText); } catch (_) { /* not JSON */ }
      if (x.status >= 200 && x.status < 300) resolve(d);
      else reject(new ApiError(x.status, (d && d.error && d.error.code) || "error", (d && d.error && d.error.message) || `upload failed (${x.status})`));
    };
    x.onerror = () => reject(new Error("the connection failed"));
    x.onabort = () => reject(new ApiError(0, "cancelled", "cancelled"));
    x.send(body);
  });
}

// Every file under dropped folders, with its path (DataTransfer entries).
async function droppedFiles(items) {
  const out = [];
  const walk = async (entry, path) => {
    if (entry.isFile) {
      const f = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file: f, path: path + f.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${path}${entry.name}/`);
      }
    }
  };
  for (const it of items) {
    const e = it.webkitGetAsEntry && it.webkitGetAsEntry();
    if (e) await walk(e, "");
  }
  return out;
}

async function objectsPage(id, query) {
  const q = new URLSearchParams(query);
  const prefix = q.get("prefix") || "";
  const v = await api("GET", `/spaces/${encodeURIComponent(id)}`);
  const sid = encodeURIComponent(v.id);
  const segs = prefix.split("/").filter(Boolean);
  const crumbs = h("nav", { class: "crumbs", id: "crumbs", "aria-label": "Folder" },
    segs.length ? h("a", { href: objectsHref(sid, "") }, v.bucket) : h("span", { "aria-current": "page" }, v.bucket),
    segs.map((s, i) => [" / ", i === segs.length - 1
      ? h("span", { "aria-current": "page" }, s)
      : h("a", { href: objectsHref(sid, `${segs.slice(0, i + 1).join("/")}/`) }, s)]).flat());

  let rows = { folders: [], objects: [] };
  let next = null;
  const sort = { by: "name", dir: 1 };
  const selected = new Set();
  const filter = h("input", { name: "filter", autocomplete: "off", placeholder: "name starts with…", type: "search" });
  const tbody = h("tbody", {});
  const status = h("p", { class: "muted", id: "objects-status", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "secondary", id: "load-more", hidden: true }, "Load more");
  const delBtn = h("button", { type: "button", class: "danger", id: "delete-selected", disabled: true }, "Delete selected");
  const details = h("section", { class: "card", id: "object-details", "aria-labelledby": "od-title", hidden: true });

  const name = (k) => k.slice(prefix.length);
  // A row's checkbox: a key, or a folder's prefix, in the selection the delete button acts on.
  const selectBox = (id, label) => h("input", { type: "checkbox", "aria-label": label, checked: selected.has(id),
    onchange: (e) => { if (e.target.checked) selected.add(id); else selected.delete(id); delBtn.disabled = !selected.size; } });
  const sortKey = (o) => (sort.by === "size" ? o.size : sort.by === "date" ? (o.last_modified || "") : o.key);
  const render = () => {
    const objs = [...rows.objects].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0) * sort.dir);
    const folders = [...rows.folders].sort((a, b) => (a.prefix < b.prefix ? -1 : 1) * (sort.by === "name" ? sort.dir : 1));
    tbody.replaceChildren(
      ...folders.map((f) => h("tr", { "data-prefix": f.prefix },
        h("td", { "data-label": "" }, selectBox(f.prefix, `Select folder ${name(f.prefix)}`)),
        h("td", { "data-label": "Name" }, h("a", { href: objectsHref(sid, f.prefix), class: "folder" }, name(f.prefix))),
        h("td", { "data-label": "Size" }, "—"), h("td", { "data-label": "Type" }, "folder"), h("td", { "data-label": "Modified" }, ""),
        h("td", { "data-label": "" }, ""))),
      ...objs.map((o) => h("tr", { "data-key": o.key },
        h("td", { "data-label": "" }, selectBox(o.key, `Select ${name(o.key)}`)),
        h("td", { "data-label": "Name", class: "mono" }, h("button", { type: "button", class: "link", onclick: () => showDetails(o.key) }, name(o.key))),
        h("td", { "data-label": "Size" }, fmtBytes(o.size)),
        h("td", { "data-label": "Type" }, typeOf(o.key)),
        h("td", { "data-label": "Modified" }, o.last_modified ? fmtTime(o.last_modified) : ""),
        h("td", { "data-label": "" }, h("a", { href: `/api/v1/spaces/${sid}/objects/download?key=${encodeURIComponent(o.key)}`, download: "", "aria-label": `Download ${name(o.key)}` }, "Download")))));
    const n = rows.folders.length + rows.objects.length;
    status.textContent = n ? `${rows.folders.length} folders, ${rows.objects.length} objects${next ? " (more below)" : ""}` : "Empty.";
  };
  const load = async (reset) => {
    const params = new URLSearchParams({ prefix: prefix + filter.value.trim(), limit: "200" });
    if (!reset && next) params.set("after", next);
    const r = await api("GET", `/spaces/${sid}/objects?${params}`);
    if (reset) { rows = { folders: [], objects: [] }; selected.clear(); delBtn.disabled = true; }
    rows.folders.push(...r.folders);
    rows.objects.push(...r.objects);
    next = r.truncated ? r.next_after : null;
    more.hidden = !next;
    render();
  };
  more.addEventListener("click", () => load(false).catch((e) => toast(e.message)));
  const filterForm = h("form", { id: "objects-filter", role: "search", "aria-label": "Filter objects" },
    h("div", { class: "row" }, field("Filter by name", filter), h("button", { type: "submit", class: "secondary" }, "Filter")));
  onSubmit(filterForm, () => load(true));
  const sortHeader = (label, by) => h("th", { scope: "col", "aria-sort": sort.by === by ? (sort.dir > 0 ? "ascending" : "descending") : "none" },
    h("button", { type: "button", class: "link", onclick: (e) => {
      sort.dir = sort.by === by ? -sort.dir : 1; sort.by = by; render();
      for (const th of e.target.closest("tr").children) th.setAttribute("aria-sort", "none");
      e.target.closest("th").setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
    } }, label));
  const table = h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "objects-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Select")), sortHeader("Name", "name"), sortHeader("Size", "size"),
      h("th", { scope: "col" }, "Type"), sortHeader("Modified", "date"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Download")))),
    tbody));

  // ---- uploads ----
  const fileInput = h("input", { type: "file", multiple: true, id: "upload-files", name: "files" });
  const folderInput = h("input", { type: "file", multiple: true, webkitdirectory: true, id: "upload-folder", name: "folder" });
  const progressList = h("ul", { id: "upload-progress", class: "plain" });
  const total = h("progress", { id: "upload-total", max: 1, value: 0, "aria-label": "Upload progress, all files" });
  const totalText = h("span", { id: "upload-total-text", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "secondary", id: "upload-cancel", hidden: true }, "Cancel upload");
  const uploadBox = h("div", { id: "upload-box", hidden: true }, h("div", {}, total, " ", totalText, " ", cancel), progressList);
  const drop = h("div", { class: "dropzone", id: "dropzone", tabindex: "-1" }, "Drop files or folders here");
  const uploadErr = h("div", { class: "error-box", role: "alert", id: "upload-error", hidden: true });
  const run = { cancelled: false, holder: {}, upload: null };

  const counted = () => { const u = v.usage; return u.bytes + (u.multipart_bytes || 0) + (u.published_bytes || 0) + (u.noncurrent_bytes || 0); };
  const uploadAll = async (items) => {
    uploadErr.hidden = true;
    if (!items.length) return;
    const bytes = items.reduce((s, it) => s + it.file.size, 0);
    if (v.quota_bytes !== null && v.quota_bytes !== undefined && counted() + bytes > v.quota_bytes) {
      uploadErr.textContent = `These ${items.length} files (${fmtBytes(bytes)}) would exceed the space's quota: ${fmtBytes(Math.max(0, v.quota_bytes - counted()))} free of ${fmtBytes(v.quota_bytes)}. Nothing was sent.`;
      uploadErr.hidden = false;
      return;
    }
    run.cancelled = false;
    progressList.replaceChildren();
    uploadBox.hidden = false;
    cancel.hidden = false;
    total.max = Math.max(bytes, 1);
    let done = 0;
    const bars = items.map((it) => {
      const bar = h("progress", { max: Math.max(it.file.size, 1), value: 0, "aria-label": `Upload progress of ${it.path}` });
      const note = h("span", {}, "waiting");
      progressList.append(h("li", { "data-path": it.path }, h("span", { class: "mono" }, it.path), " ", bar, " ", note));
      return { bar, note };
    });
    const show = (i, sent) => { bars[i].bar.value = sent; total.value = done + sent; totalText.textContent = `${fmtBytes(done + sent)} of ${fmtBytes(bytes)}`; };
    let failed = 0;
    for (const [i, it] of items.entries()) {
      if (run.cancelled) { bars[i].note.textContent = "cancelled"; continue; }
      const key = prefix + it.path;
      const kq = `key=${encodeURIComponent(key)}`;
      bars[i].note.textContent = "uploading";
      try {
        if (it.file.size <= PART_SIZE) {
          await sendWithProgress("PUT", `/spaces/${sid}/objects/upload?${kq}`, it.file, it.file.type || "application/octet-stream", (s) => show(i, s), run.holder);
        } else {
          const start = await api("POST", `/spaces/${sid}/objects/multipart?${kq}`);
          run.upload = { key, id: start.upload_id };
          const parts = [];
          for (let off = 0, n = 1; off < it.file.size; off += PART_SIZE, n++) {
            if (run.cancelled) throw new ApiError(0, "cancelled", "cancelled");
            const chunk = it.file.slice(off, off + PART_SIZE);
            parts.push(await sendWithProgress("PUT", `/spaces/${sid}/objects/multipart/${encodeURIComponent(start.upload_id)}/${n}?${kq}`, chunk, null, (s) => show(i, off + s), run.holder));
          }
          await api("POST", `/spaces/${sid}/objects/multipart/${encodeURIComponent(start.upload_id)}/complete?${kq}`, { parts });
          run.upload = null;
        }
        done += it.file.size;
        show(i, it.file.size);
        bars[i].note.textContent = "done";
      } catch (e) {
        if (run.upload) {
          await api("DELETE", `/spaces/${sid}/objects/multipart/${encodeURIComponent(run.upload.id)}?key=${encodeURIComponent(run.upload.key)}`).catch(() => {});
          run.upload = null;
        }
        failed++;
        bars[i].note.textContent = e.code === "cancelled" ? "cancelled" : `failed: ${e.message}`;
        if (e.code !== "cancelled") { uploadErr.textContent = `${it.path}: ${e.message}`; uploadErr.hidden = false; }
      }
    }
    cancel.hidden = true;
    const files = (n) => `${n} file${n === 1 ? "" : "s"}`;
    toast(run.cancelled ? "Upload cancelled" : failed ? `${items.length - failed} of ${files(items.length)} uploaded` : `${files(items.length)} uploaded`);
    v.usage = (await api("GET", `/spaces/${sid}`)).usage;
    await load(true);
  };
  cancel.addEventListener("click", () => { run.cancelled = true; if (run.holder.xhr) run.holder.xhr.abort(); });
  fileInput.addEventListener("change", () => { const f = [...fileInput.files].map((x) => ({ file: x, path: x.name })); fileInput.value = ""; uploadAll(f).catch((e) => toast(e.message)); });
  folderInput.addEventListener("change", () => { const f = [...folderInput.files].map((x) => ({ file: x, path: x.webkitRelativePath || x.name })); folderInput.value = ""; uploadAll(f).catch((e) => toast(e.message)); });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const items = await droppedFiles([...e.dataTransfer.items]);
    uploadAll(items.length ? items : [...e.dataTransfer.files].map((x) => ({ file: x, path: x.name }))).catch((err) => toast(err.message));
  });
  const uploadCard = h("section", { class: "card", id: "upload", "aria-labelledby": "up-title" },
    h("h2", { id: "up-title" }, `Upload to ${prefix || "the top folder"}`),
    h("div", { class: "row" }, field("Files", fileInput), field("A whole folder", folderInput)),
    drop, uploadErr, uploadBox);

  // ---- deletion ----
  delBtn.addEventListener("click", async () => {
    try {
      const keys = [...selected].filter((k) => !k.endsWith("/"));
      for (const f of [...selected].filter((k) => k.endsWith("/"))) {
        let after = null;
        for (;;) {
          const params = new URLSearchParams({ prefix: f, recursive: "true", limit: "1000" });
          if (after) params.set("after", after);
          const r = await api("GET", `/spaces/${sid}/objects?${params}`);
          keys.push(...r.objects.map((o) => o.key));
          if (!r.truncated) break;
          after = r.next_after;
        }
      }
      const count = `${keys.length} object${keys.length === 1 ? "" : "s"}`;
      if (!keys.length) { toast("Nothing to delete: the folders are empty"); return; }
      if (!await confirmDialog(`Delete ${count}?`, `${count} will be deleted from ${v.bucket}${v.versioning === "enabled" ? " (their versions are kept)" : ""}. This cannot be undone.`, `Delete ${count}`)) return;
      let deleted = 0;
      const fails = [];
      for (let i = 0; i < keys.length; i += 1000) {
        const r = await api("POST", `/spaces/${sid}/objects/delete`, { keys: keys.slice(i, i + 1000) });
        deleted += r.deleted;
        fails.push(...r.failed);
        status.textContent = `Deleted ${deleted} of ${keys.length}…`;
      }
      toast(fails.length ? `${deleted} deleted; ${fails.length} refused: ${fails[0].key}: ${fails[0].message}` : `${deleted} object${deleted === 1 ? "" : "s"} deleted`);
      v.usage = (await api("GET", `/spaces/${sid}`)).usage;
      await load(true);
      usageLine.textContent = usageText();
    } catch (e) { toast(e.message); }
  });

  // ---- details ----
  const showDetails = async (key) => {
    try {
      const o = await api("GET", `/spaces/${sid}/objects/info?key=${encodeURIComponent(key)}`);
      const life = h("select", { name: "lifetime" }, [["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"]].map(([s, l]) => h("option", { value: s }, l)));
      const linkOut = h("div", { id: "share-result", "aria-live": "polite" });
      const shareForm = h("form", { id: "share-form", "aria-labelledby": "sh-title" },
        h("h3", { id: "sh-title" }, "Share link"),
        h("div", { class: "row" }, field("Valid for", life), h("button", { type: "submit" }, "Create share link")), linkOut);
      onSubmit(shareForm, async () => {
        const r = await api("POST", `/spaces/${sid}/objects/share`, { key, expires_in_seconds: Number(life.value) });
        const url = h("input", { id: "share-url", readonly: true, value: r.url, class: "mono", "aria-label": "Share link" });
        linkOut.replaceChildren(h("div", { class: "row" }, url, h("button", { type: "button", class: "secondary", onclick: () => copy(r.url, "Share link") }, "Copy link")),
          h("p", { class: "muted" }, `Works without a login until ${fmtTime(r.expires_at)}. Signed by key ${r.signed_by}: revoking it ends every share link of this space.`));
      });
      const meta = Object.entries(o.metadata || {});
      const versions = h("div", { id: "object-versions" });
      if (v.versioning && v.versioning !== "unversioned") {
        const r = await api("GET", `/spaces/${sid}/versions?prefix=${encodeURIComponent(key)}&limit=100`);
        const list = r.versions.filter((x) => x.key === key);
        versions.append(h("h3", {}, "Versions"), h("ul", {}, list.map((x) => h("li", { "data-version": x.version_id },
          h("span", { class: "mono" }, x.version_id), " ", x.delete_marker ? "(delete marker)" : fmtBytes(x.size), " ", x.last_modified ? fmtTime(x.last_modified) : "",
          x.latest ? [" ", h("span", { class: "badge ok" }, "current")] : x.delete_marker ? null : [" ", h("button", { type: "button", class: "small", onclick: async () => {
            try { await api("POST", `/spaces/${sid}/objects/restore`, { key, version_id: x.version_id }); toast("Version restored"); await showDetails(key); await load(true); } catch (e) { toast(e.message); }
          } }, "Restore")]))));
      }
      details.replaceChildren(
        h("h2", { id: "od-title" }, "Object ", h("span", { class: "mono" }, key)),
        h("dl", { class: "kv" },
          h("dt", {}, "Size"), h("dd", { id: "od-size" }, `${fmtBytes(o.size)} (${o.size} bytes)`),
          h("dt", {}, "ETag"), h("dd", { class: "mono" }, o.etag || "—"),
          h("dt", {}, "Type"), h("dd", {}, o.content_type || "—"),
          h("dt", {}, "Modified"), h("dd", {}, fmtTime(o.last_modified)),
          h("dt", {}, "Cache-Control"), h("dd", {}, o.cache_control || "(the space's rules)"),
          o.version_id ? [h("dt", {}, "Version"), h("dd", { class: "mono" }, o.version_id)] : null,
          meta.length ? [h("dt", {}, "Metadata"), h("dd", {}, meta.map(([k2, v2]) => h("div", { class: "mono" }, `${k2}: ${v2}`)))] : null,
          h("dt", {}, "Public URL"), h("dd", {}, o.public_url
            ? [h("a", { href: o.public_url, class: "mono", id: "od-public" }, o.public_url), " ", h("button", { type: "button", class: "small secondary", onclick: () => copy(o.public_url, "Public URL") }, "Copy")]
            : "not published")),
        h("div", { class: "actions" },
          h("a", { class: "button", href: `/api/v1/spaces/${sid}/objects/download?key=${encodeURIComponent(key)}`, download: "" }, "Download"),
          h("button", { type: "button", class: "danger", onclick: async () => {
            if (!await confirmDialog("Delete 1 object?", `${key} will be deleted from ${v.bucket}.`, "Delete 1 object")) return;
            try { await api("POST", `/spaces/${sid}/objects/delete`, { keys: [key] }); toast(`${key} deleted`); details.hidden = true; await load(true); } catch (e) { toast(e.message); }
          } }, "Delete")),
        shareForm, versions);
      details.hidden = false;
      details.scrollIntoView({ block: "nearest" });
    } catch (e) { toast(e.message); }
  };

  const usageText = () => `${fmtBytes(v.usage.bytes)} in ${v.usage.objects} objects${v.quota_bytes ? ` (quota ${fmtBytes(v.quota_bytes)})` : ""}`;
  const usageLine = h("span", { id: "objects-usage" }, usageText());
  page(`Objects in ${v.name}`,
    h("p", {}, h("a", { href: `#/spaces/${sid}` }, `← Space ${v.name}`), " · ", usageLine),
    crumbs,
    uploadCard,
    h("section", { class: "card", "aria-labelledby": "ol-title", id: "objects" },
      h("h2", { id: "ol-title" }, prefix || "Top folder"),
      filterForm, status, table, h("div", { class: "actions" }, more, delBtn)),
    details);
  await load(true);
}
