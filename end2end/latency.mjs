// Send-to-shown latency in the browser: how long from pressing Enter in one
// person's page until the message shows in the other's, in an end-to-end
// encrypted direct message and in a plain room, with two signed-up accounts.
// A measurement run by hand against a running server with a fresh database,
// not part of the test suite (docs/PERFORMANCE.md, "End-to-end encryption"):
//   ../target/release/server --addr 127.0.0.1:3951 --database-url sqlite:///tmp/latency.db --site-root ../target/site --insecure-cookies &
//   BASE=http://127.0.0.1:3951 ROUNDS=100 node latency.mjs
import { chromium } from "@playwright/test";
const base = process.env.BASE;
const rounds = Number(process.env.ROUNDS ?? 100);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
const suffix = Date.now().toString(36);

async function account(name) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(base + "/signup");
  await page.getByRole("textbox", { name: "Username" }).fill(name);
  await page.getByLabel("Password", { exact: true }).fill("a long enough passphrase");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByText(`Signed in as ${name}`).first().waitFor();
  return page;
}

async function ready(page) {
  await page.waitForFunction(() => {
    const box = document.querySelector("textarea");
    return box && !box.disabled;
  });
}

// Enter in `from`, then the time until `to` shows the text (measured in
// `to`'s page by a MutationObserver, armed before the send).
async function once(from, to, text) {
  await to.evaluate((text) => {
    window.__seen = new Promise((resolve) => {
      const log = document.querySelector('[role="log"]');
      const observer = new MutationObserver(() => {
        const bodies = log.querySelectorAll(".message:not(.pending) .body");
        const last = bodies[bodies.length - 1];
        if (last && last.textContent.trim() === text) {
          observer.disconnect();
          resolve(performance.timeOrigin + performance.now());
        }
      });
      observer.observe(log, { childList: true, subtree: true, characterData: true });
    });
  }, text);
  const box = from.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  const sent = await from.evaluate(() => performance.timeOrigin + performance.now());
  await box.press("Enter");
  const seen = await to.evaluate(() => window.__seen);
  return seen - sent;
}

function summary(label, samples) {
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  console.log(`${label}: n=${samples.length} mean ${mean.toFixed(1)} ms, p50 ${at(0.5).toFixed(1)}, p95 ${at(0.95).toFixed(1)}, p99 ${at(0.99).toFixed(1)}`);
}

async function measure(label, a, b) {
  await ready(a);
  await ready(b);
  // Warm up: keys made, devices published, epochs agreed.
  for (let i = 0; i < 3; i++) {
    await once(a, b, `warm a ${i} ${label}`);
    await once(b, a, `warm b ${i} ${label}`);
  }
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    samples.push(await once(i % 2 ? b : a, i % 2 ? a : b, `${label} ${i}`));
  }
  summary(label, samples);
}

const a = await account(`lat${suffix}a`);
const b = await account(`lat${suffix}b`);
await a.goto(`${base}/r/plain-${suffix}`);
await b.goto(`${base}/r/plain-${suffix}`);
await measure("plain room", a, b);
await a.goto(`${base}/dm/lat${suffix}b`);
await a.waitForURL(/\/r\/~/);
await b.goto(a.url());
await measure("encrypted direct message", a, b);
await browser.close();
