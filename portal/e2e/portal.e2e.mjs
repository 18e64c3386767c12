// Drives the developer portal page in a real browser (Debian's Chromium) against the
// running example: sign in with the demo key, create a key (its secret shows once), revoke
// it (the API then refuses it with 401), and find the calls just made on the usage chart.
//
// Environment: BASE (the example's URL), KEY (the demo key), SCREENSHOT (a PNG path),
// CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const base = process.env.BASE;
const demoKey = process.env.KEY;
const screenshot = process.env.SCREENSHOT || "portal.png";
assert.ok(base && demoKey, "BASE and KEY are required");

const api = (path, key, init = {}) =>
  fetch(base + path, { ...init, headers: { "X-API-Key": key, ...(init.headers || {}) } });

// Calls to find on the chart afterwards. (Few: the example lets a consumer burst ten calls,
// and the page makes its own.)
const before = 2;
for (let i = 0; i < before; i++) assert.equal((await api("/v1/deliveries", demoKey)).status, 200);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const failures = [];
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => failures.push("page error: " + e.message));
  page.on("console", (m) => {
    // A 404 for /me/subscription is an answer (no subscription yet), not a failure.
    if (m.type() === "error" && !m.location().url.endsWith("/v1/me/subscription")) failures.push("console: " + m.text() + " " + m.location().url);
  });
  page.on("dialog", (d) => d.accept());

  const resp = await page.goto(base + "/portal/");
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()["content-security-policy"], /script-src 'self'/);

  // Sign in with the keyboard alone: the key field has focus, Enter submits.
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "apikey");
  await page.keyboard.type(demoKey);
  await page.keyboard.press("Enter");
  await page.locator("#account").waitFor({ state: "visible" });
  assert.equal(await page.locator("#apikey").inputValue(), "", "the key does not linger in the form");
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!storage.includes(demoKey.slice(-20)), "the key is kept in memory only");
  assert.ok(await page.locator("#keys tbody tr").count() >= 1);
  await page.locator("#plan-current").waitFor({ state: "visible" });

  // Create a key: the secret shows once.
  await page.getByRole("button", { name: "Create key" }).click();
  await page.locator("#secret").waitFor({ state: "visible" });
  const secret = (await page.locator("#secret-value").textContent()).trim();
  assert.match(secret, /^tg_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{36}$/);
  assert.equal((await api("/v1/deliveries", secret)).status, 200, "the new key works");
  await page.getByRole("button", { name: "I have saved it" }).click();
  assert.ok(!(await page.content()).includes(secret.slice(-30)), "and is gone from the page");

  // Revoke it from its row; the API refuses it from then on.
  const id = secret.split("_")[2];
  const row = page.locator(`#keys tr[data-key-id="${id}"]`);
  await row.getByRole("button", { name: /^Revoke / }).click();
  await page.locator("#status").filter({ hasText: "revoked" }).waitFor({ timeout: 10000 }).catch(async () => {
    throw new Error("revoking failed: " + (await page.locator("#status").textContent()));
  });
  await page.locator(`#keys tr[data-key-id="${id}"][data-status="revoked"]`).waitFor();
  assert.equal((await api("/v1/deliveries", secret)).status, 401, "a revoked key gets 401");

  // The usage chart shows today's calls.
  const chart = page.locator('#usage svg[data-meter="requests"]');
  await chart.waitFor();
  const total = Number(await chart.getAttribute("data-total"));
  assert.ok(total >= before, `the chart counts the calls just made (${total})`);

  await page.screenshot({ path: screenshot, fullPage: true });
  assert.deepEqual(failures, []);
  console.log(`portal e2e: ok (requests on the chart: ${total}; screenshot ${screenshot})`);
} finally {
  await browser.close();
}
