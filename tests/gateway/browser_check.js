// Drives Debian's Chromium (playwright-core, no downloaded browser) against a
// running gateway: the /docs page, one "Try it out" call, and an EventSource
// that must receive a live change. Prints one JSON object with what it saw.
//
//   node tests/gateway/browser_check.js BASE_URL TOKEN ACCOUNT SCREENSHOT
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const [baseUrl, token, account, screenshot] = process.argv.slice(2);

async function docs(page, out) {
  await page.goto(`${baseUrl}/docs`);
  await page.waitForSelector(".swagger-ui .opblock-tag", { timeout: 30000 });
  out.title = await page.title();
  out.tags = await page.$$eval(".opblock-tag", (els) =>
    els.map((e) => e.getAttribute("data-tag")));
  // Authorize with the bearer token, as a person would.
  await page.click(".auth-wrapper .authorize");
  await page.fill(".auth-container input", token);
  await page.click(".auth-btn-wrapper .authorize");
  await page.click(".auth-btn-wrapper .btn-done");
  // Try it out: CalendarService.ListTimeZones with ?query=Berlin.
  const op = "#operations-CalendarService-CalendarService_ListTimeZones";
  await page.click(`${op} .opblock-summary`);
  await page.click(`${op} .try-out__btn`);
  await page.fill(`${op} tr[data-param-name="query"] input`, "Berlin");
  await page.click(`${op} .execute`);
  const status = `${op} .live-responses-table .response .response-col_status`;
  await page.waitForSelector(status, { timeout: 20000 });
  out.tryItOutStatus = (await page.textContent(status)).trim();
  out.tryItOutBody = await page.textContent(`${op} .live-responses-table .microlight`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
}

async function eventSource(page, out) {
  out.sse = await page.evaluate(async ({ account, token }) => {
    const url = `/v1/${account}/activities:stream?startPosition=START_POSITION_NOW` +
      `&resourceTypes=RESOURCE_TYPE_CALENDAR&access_token=${encodeURIComponent(token)}`;
    const source = new EventSource(url);
    const opened = new Promise((resolve, reject) => {
      source.onopen = resolve;
      source.onerror = () => reject(new Error("EventSource failed"));
    });
    const received = new Promise((resolve) => {
      source.onmessage = (event) => {
        const data = JSON.parse(event.data);
        if (data.activity) resolve({ id: event.lastEventId, data });
      };
    });
    const timeout = (ms) => new Promise((_, reject) =>
      setTimeout(() => reject(new Error("timed out")), ms));
    await Promise.race([opened, timeout(10000)]);
    // The change, made after the stream is open: it must arrive live.
    const created = await fetch(`/v1/${account}/calendars`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ displayName: "Live from the browser" }),
    });
    const event = await Promise.race([received, timeout(15000)]);
    source.close();
    return { createStatus: created.status, ...event };
  }, { account, token });
}

(async () => {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gw-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  const out = {};
  try {
    const page = await context.newPage();
    page.on("console", (msg) => { (out.console = out.console || []).push(msg.text()); });
    await docs(page, out);
    await eventSource(page, out);
  } catch (err) {
    out.error = String(err && err.stack || err);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + "\n");
})();
