// Takes the README's screenshots (docs/desktop.png, docs/mobile.png) from a
// running chat with a fresh database; not part of the test suite:
//   ../target/release/server --addr 127.0.0.1:3950 --database-url sqlite:///tmp/shots.db --site-root ../target/site &
//   BASE=http://127.0.0.1:3950 OUT=../docs node screenshots.mjs
import { chromium } from "@playwright/test";
const base = process.env.BASE;
const out = process.env.OUT ?? ".";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
async function person(nick, room, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 760 }, ...opts });
  const page = await ctx.newPage();
  await page.goto(base + "/");
  await page.getByRole("textbox", { name: "Nickname" }).fill(nick);
  await page.getByRole("textbox", { name: "Room", exact: true }).fill(room);
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await page.getByRole("textbox", { name: "Message" }).waitFor();
  await page.waitForFunction(() => !document.querySelector("textarea").disabled);
  return page;
}
async function say(page, text) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await page.waitForTimeout(150);
}
async function go(page, room) {
  await page.getByRole("textbox", { name: "Open or create" }).fill(room);
  await page.getByRole("button", { name: "Go" }).click();
  await page.waitForURL(new RegExp(`/r/${room}$`));
  await page.waitForFunction(() => !document.querySelector("textarea").disabled);
}
const sadia = await person("sadia", "design");
await go(sadia, "random");
await go(sadia, "general");
const usman = await person("usman", "general");
const amira = await person("amira", "general");
await say(usman, "Morning all! Standup notes are in the **wiki**: https://example.com/wiki/standup");
await say(usman, "I'll be _10 min_ late to the review 🙏");
await say(amira, "@sadia can you look at `parse_body()` before the release?");
await say(amira, "```rust\nfn greet(name: &str) -> String {\n    format!(\"Hello, {name}!\")\n}\n```");
await say(sadia, "On it 👍");
await go(usman, "design");
await say(usman, "New logo drafts are up");
await say(usman, "Feedback welcome by Friday");
await go(amira, "random");
await say(amira, "Anyone up for lunch? 🍜");
await amira.goto(base + "/r/general");
await amira.getByRole("textbox", { name: "Message" }).pressSequentially("Thanks!");
await sadia.getByText("amira is typing…").waitFor();
await sadia.mouse.move(1270, 10);
await sadia.screenshot({ path: `${out}/desktop.png` });
const phone = await person("omar", "general", { viewport: { width: 360, height: 740 }, colorScheme: "dark", deviceScaleFactor: 2 });
await say(phone, "Joining from my phone 📱");
await phone.getByRole("textbox", { name: "Message" }).pressSequentially("see you :smi");
await phone.getByRole("listbox", { name: "Emoji suggestions" }).waitFor();
await phone.screenshot({ path: `${out}/mobile.png` });
await browser.close();
