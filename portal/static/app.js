// The developer portal: a small script over the same JSON API as any client. The API key
// lives in this closure only, never in storage, a cookie or the URL.
"use strict";
(function () {
  const body = document.body;
  const base = body.dataset.api || "";
  const keyHeader = body.dataset.keyHeader || "X-API-Key";
  const billing = body.dataset.billing === "true";
  let apiKey = "";

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  };
  const say = (msg) => { $("status").textContent = msg; };

  async function api(method, path, payload) {
    const headers = { Accept: "application/json, application/problem+json" };
    headers[keyHeader] = apiKey;
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const resp = await fetch(base + path, init);
    let data = null;
    if (resp.status !== 204) {
      try { data = await resp.json(); } catch (_) { data = null; }
    }
    if (resp.status === 401) {
      signOut("Your key is no longer accepted. Sign in with a valid key.");
      throw new Error("unauthenticated");
    }
    return { status: resp.status, data };
  }

  function problem(r) {
    const d = r.data || {};
    if (r.status === 429) return "Too many requests: " + (d.detail || "slow down") + ". Try again in a few seconds.";
    return (d.detail || d.title || ("HTTP " + r.status)) +
      (Array.isArray(d.errors) && d.errors.length ? ": " + d.errors.map((e) => e.value ?? e.message).join(", ") : "");
  }

  function signOut(msg) {
    apiKey = "";
    $("account").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    $("secret").hidden = true;
    $("secret-value").textContent = "";
    say(msg || "Signed out.");
    $("apikey").focus();
  }

  async function signIn(key) {
    apiKey = key;
    let r;
    try { r = await fetch(base + "/me/keys", { headers: { [keyHeader]: key, Accept: "application/json" }, cache: "no-store", credentials: "omit" }); }
    catch (_) { apiKey = ""; say("The API could not be reached."); return; }
    if (r.status !== 200) {
      apiKey = "";
      say(r.status === 429 ? "Too many attempts: wait a little and try again." : "That key was not accepted.");
      return;
    }
    $("signin").hidden = true;
    $("account").hidden = false;
    $("signout").hidden = false;
    say("Signed in.");
    renderKeys(await r.json());
    await Promise.all([loadPlan(), loadUsage()]);
  }

  async function loadKeys() {
    const r = await api("GET", "/me/keys");
    if (r.status === 200) renderKeys(r.data);
    else say(problem(r));
  }

  function renderKeys(data) {
    const tbody = $("keys").querySelector("tbody");
    tbody.replaceChildren();
    for (const k of data.keys) {
      const actions = el("td");
      if (k.status === "active") {
        const rotate = el("button", { type: "button", "aria-label": "Rotate " + k.hint, text: "Rotate" });
        rotate.addEventListener("click", () => rotateKey(k));
        const revoke = el("button", { type: "button", "aria-label": "Revoke " + k.hint, text: "Revoke", class: "danger" });
        revoke.addEventListener("click", () => revokeKey(k));
        actions.append(rotate, " ", revoke);
      }
      tbody.append(el("tr", { "data-key-id": k.id, "data-status": k.status },
        el("td", {}, el("code", { text: k.hint })),
        el("td", { text: k.scopes.join(" ") }),
        el("td", { text: k.status }),
        el("td", { text: new Date(k.created).toLocaleDateString() }),
        actions));
    }
    const choices = $("scope-choices");
    choices.replaceChildren();
    data.allowed_scopes.forEach((s, i) => {
      const id = "scope-" + i;
      choices.append(el("div", {},
        el("input", { type: "checkbox", id, name: "scope", value: s, checked: "" }),
        el("label", { for: id, text: " " + s })));
    });
  }

  function showSecret(key) {
    $("secret-value").textContent = key;
    $("secret").hidden = false;
    $("secret-value").focus();
  }

  async function createKey(ev) {
    ev.preventDefault();
    const scopes = [...document.querySelectorAll("#scope-choices input:checked")].map((c) => c.value);
    if (!scopes.length) { say("Choose at least one scope."); return; }
    const r = await api("POST", "/me/keys", { scopes });
    if (r.status !== 201) { say(problem(r)); return; }
    showSecret(r.data.key);
    say("Key created.");
    await loadKeys();
  }

  async function rotateKey(k) {
    const r = await api("POST", "/me/keys/" + encodeURIComponent(k.id) + "/rotate", { grace_seconds: 3600 });
    if (r.status !== 201) { say(problem(r)); return; }
    showSecret(r.data.key);
    say("Key rotated: the old one keeps working for an hour.");
    await loadKeys();
  }

  async function revokeKey(k) {
    if (!window.confirm("Revoke " + k.hint + "? Requests with it will be refused at once.")) return;
    const r = await api("DELETE", "/me/keys/" + encodeURIComponent(k.id));
    if (r.status !== 204) { say(problem(r)); return; }
    say("Key " + k.hint + " revoked.");
    await loadKeys();
  }

  async function loadPlan() {
    if (!billing) return;
    const [sub, plans] = await Promise.all([api("GET", "/me/subscription"), api("GET", "/me/plans")]);
    const names = {};
    if (plans.status === 200) for (const p of plans.data.plans) names[p.key] = p.name;
    $("plan").hidden = false;
    const text = sub.status === 200
      ? (names[sub.data.plan] || sub.data.plan) + " (" + sub.data.status + "), current period until " + new Date(sub.data.period_end).toLocaleDateString()
      : "No subscription: the default plan applies.";
    $("plan-current").textContent = text;
  }

  async function loadUsage() {
    const r = await api("GET", "/me/usage/days");
    const box = $("usage");
    box.replaceChildren();
    if (r.status !== 200) { box.append(el("p", { text: problem(r) })); return; }
    if (!r.data.meters.length) { box.append(el("p", { text: "No usage in the last 30 days." })); return; }
    for (const m of r.data.meters) box.append(chart(m, r.data.days));
  }

  // chart draws one meter's days as an SVG bar chart, with a title per bar and the total
  // in the label, so it reads without sight too.
  function chart(meter, days) {
    const ns = "http://www.w3.org/2000/svg";
    const values = days.map((d) => d.usage[meter] || 0);
    const total = values.reduce((a, b) => a + b, 0);
    const peak = Math.max(1, ...values);
    const w = 12, gap = 2, h = 80;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + days.length * (w + gap) + " " + h);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", meter + ": " + total + " in the last " + days.length + " days");
    svg.dataset.meter = meter;
    svg.dataset.total = String(total);
    days.forEach((d, i) => {
      const v = values[i];
      const bh = Math.round((v / peak) * (h - 2));
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", String(i * (w + gap)));
      rect.setAttribute("y", String(h - bh));
      rect.setAttribute("width", String(w));
      rect.setAttribute("height", String(Math.max(bh, v ? 1 : 0)));
      const title = document.createElementNS(ns, "title");
      title.textContent = d.date + ": " + v;
      rect.append(title);
      svg.append(rect);
    });
    return el("figure", { class: "chart" }, svg, el("figcaption", { text: meter + " — " + total + " in 30 days" }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("apikey");
      const key = input.value.trim();
      input.value = "";
      if (key) signIn(key);
    });
    $("create-form").addEventListener("submit", createKey);
    $("signout").addEventListener("click", () => signOut());
    $("secret-done").addEventListener("click", () => {
      $("secret").hidden = true;
      $("secret-value").textContent = "";
    });
    $("apikey").focus();
  });
})();
