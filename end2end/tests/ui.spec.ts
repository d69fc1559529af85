import { test, expect, type Page } from "@playwright/test";
import { bodies, expectJoined, joinFromLobby, joinOn, log, say } from "./people";

// The pleasant parts of the chat, one test per feature a person can see.

/** Posts `texts` to `room` straight over a WebSocket opened in `page`. */
async function seed(page: Page, room: string, nick: string, texts: string[]) {
  await page.evaluate(
    async ({ room, nick, texts }) => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      await new Promise((resolve) => (ws.onopen = resolve));
      const session = "seed" + Math.random().toString(16).slice(2);
      let acked = 0;
      const done = new Promise<void>((resolve) => {
        ws.onmessage = (event) => {
          if (JSON.parse(event.data)[0] === "ack" && ++acked === texts.length) resolve();
        };
      });
      ws.send(JSON.stringify({ type: "join", room, nick, session }));
      texts.forEach((body, i) => ws.send(JSON.stringify({ type: "send", room, client_id: `${session}-${i}`, body })));
      await done;
      ws.send(JSON.stringify({ type: "leave", room }));
      ws.close();
    },
    { room, nick, texts },
  );
}

function sidebar(page: Page) {
  return page.getByRole("navigation", { name: "Joined rooms" });
}

test("the sidebar keeps joined rooms across reloads, counts unread and leaves rooms", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "alpha");
  await sidebar(sana).getByRole("textbox", { name: "Open or create" }).fill("beta");
  await sidebar(sana).getByRole("button", { name: "Go" }).click();
  await expect(sana).toHaveURL(/\/r\/beta$/);
  await expectJoined(sana);
  await expect(sidebar(sana).getByRole("link", { name: /^#/ })).toHaveText(["#alpha", "#beta"]);
  await expect(sidebar(sana).getByRole("link", { name: "#beta" })).toHaveAttribute("aria-current", "page");

  // Messages in alpha while sana looks at beta raise alpha's count and the title.
  const usman = await joinFromLobby(browser, "usman", "alpha");
  await say(usman, "first for alpha");
  await say(usman, "second for alpha");
  await expect(sidebar(sana).getByRole("link", { name: "#alpha, 2 unread" })).toBeVisible();
  await expect(sana).toHaveTitle("(2) #beta · Chat");

  // The list survives a reload.
  await sana.reload();
  await expectJoined(sana);
  await expect(sidebar(sana).getByRole("link", { name: /^#/ })).toHaveText(["#alpha", "#beta"]);
  await say(usman, "third for alpha");
  await expect(sidebar(sana).getByRole("link", { name: "#alpha, 1 unread" })).toBeVisible();

  // Opening the room shows the messages and clears the count.
  await sidebar(sana).getByRole("link", { name: /^#alpha/ }).click();
  await expect(sana).toHaveURL(/\/r\/alpha$/);
  await expect(bodies(sana)).toHaveText(["first for alpha", "second for alpha", "third for alpha"]);
  await expect(sidebar(sana).getByRole("link", { name: "#alpha", exact: true })).toBeVisible();
  await expect(sana).toHaveTitle("#alpha · Chat");

  // Leaving a room drops it from the sidebar for good, and the others see it.
  await sidebar(sana).getByRole("button", { name: "Leave #beta" }).click();
  await expect(sidebar(sana).getByRole("link", { name: /^#/ })).toHaveText(["#alpha"]);
  await sana.reload();
  await expectJoined(sana);
  await expect(sidebar(sana).getByRole("link", { name: /^#/ })).toHaveText(["#alpha"]);
});

test("the others see who is typing, until the message is sent or typing stops", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "typing");
  const usman = await joinFromLobby(browser, "usman", "typing");
  const indicator = sana.getByText("usman is typing…");

  const box = usman.getByRole("textbox", { name: "Message" });
  await box.pressSequentially("hello the");
  await expect(indicator).toBeVisible();
  await expect(usman.getByText("usman is typing…")).toHaveCount(0);
  await box.pressSequentially("re");
  await box.press("Enter");
  await expect(bodies(sana)).toHaveText(["hello there"]);
  await expect(indicator).toHaveCount(0);

  // Typing that stops fades by itself after a few seconds.
  await box.pressSequentially("wait");
  await expect(indicator).toBeVisible();
  await expect(indicator).toHaveCount(0, { timeout: 15_000 });
});

test("the online list and its count follow people joining and leaving", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "presence");
  const online = sana.getByRole("list", { name: "Online" });
  const count = sana.locator(".online .count");
  await expect(count).toHaveText("1");
  // The assistant is listed where it answers (playwright.config.ts gives
  // the servers one), marked as a bot and not counted among the people.
  await expect(online.getByRole("listitem")).toHaveText(["assistant bot", "sana guest"]);

  const usman = await joinFromLobby(browser, "usman", "presence");
  await expect(count).toHaveText("2");
  await expect(online.getByRole("listitem")).toHaveText(["assistant bot", "sana guest", "usman guest"]);

  await sidebar(usman).getByRole("button", { name: "Leave #presence" }).click();
  await expect(count).toHaveText("1");
  await expect(online.getByRole("listitem")).toHaveText(["assistant bot", "sana guest"]);
  await expect(log(sana).getByText("usman left")).toBeVisible();
});

test("scrolling up loads older pages in place, and new messages wait behind a button", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "long");
  const texts = Array.from({ length: 120 }, (_, i) => `history ${i + 1}`);
  await seed(sana, "long", "seeder", texts);
  await sana.reload();
  await expectJoined(sana);
  const messages = bodies(sana);
  await expect(messages.last()).toHaveText("history 120");
  // The room page starts with the latest page only.
  const firstShown = (await messages.first().textContent())!;
  const shown = await messages.count();
  expect(shown).toBeLessThanOrEqual(50);
  await expect(log(sana).getByText("This is the start of #long.")).toHaveCount(0);

  // Scrolling to the top fetches the page before; what was in view stays put.
  const anchor = log(sana).locator(".body", { hasText: new RegExp(`^${firstShown}$`) });
  // Where the oldest shown message sits once scrolled to the top, before the
  // scroll event has had a chance to load anything.
  const before = await log(sana).evaluate((el, text) => {
    el.scrollTop = 0;
    const body = [...el.querySelectorAll(".message .body")].find((b) => b.textContent === text)!;
    return body.getBoundingClientRect().top;
  }, firstShown);
  await expect.poll(() => messages.count()).toBeGreaterThan(shown);
  await expect(messages.last()).toHaveText("history 120");
  const after = await anchor.boundingBox();
  expect(Math.abs(after!.y - before)).toBeLessThan(5);

  // Further up until the start of the room, marked as such.
  const start = log(sana).getByText("This is the start of #long.");
  await expect
    .poll(async () => {
      await log(sana).evaluate((el) => (el.scrollTop = 0));
      return start.count();
    })
    .toBe(1);
  await expect(start).toBeVisible();
  await expect(messages).toHaveCount(120);
  await expect(messages.first()).toHaveText("history 1");

  // Reading old messages: new ones do not pull the view down.
  await log(sana).evaluate((el) => (el.scrollTop = 0));
  await seed(sana, "long", "seeder", ["news 1", "news 2"]);
  const jump = sana.getByRole("button", { name: "2 new messages ↓" });
  await expect(jump).toBeVisible();
  await expect(log(sana).getByText("This is the start of #long.")).toBeInViewport();
  await jump.click();
  await expect(log(sana).getByText("news 2")).toBeInViewport();
  await expect(jump).toHaveCount(0);
});

test("emoji come from the picker at the cursor and from :shortcode: completion", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "emoji");
  const box = sana.getByRole("textbox", { name: "Message" });

  await box.pressSequentially("I am :smile");
  const suggestions = sana.getByRole("listbox", { name: "Emoji suggestions" });
  await expect(suggestions.getByRole("option").first()).toContainText("😄");
  await expect(suggestions.getByRole("option").first()).toContainText(":smile:");
  await box.press("Enter");
  await expect(box).toHaveValue("I am 😄");
  await expect(suggestions).toHaveCount(0);

  // The picker opens with the keyboard in its search box; Escape closes it.
  const picker = sana.getByRole("dialog", { name: "Emoji picker" });
  await sana.getByRole("button", { name: "Emoji", exact: true }).click();
  await expect(picker.getByRole("textbox", { name: "Search emoji" })).toBeFocused();
  await sana.keyboard.press("Escape");
  await expect(picker).toHaveCount(0);
  await expect(box).toBeFocused();

  // The picker inserts where the cursor is.
  await box.fill("ab");
  await box.evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(1, 1));
  await sana.getByRole("button", { name: "Emoji", exact: true }).click();
  await picker.getByRole("textbox", { name: "Search emoji" }).fill("tada");
  await picker.getByRole("button", { name: ":tada:" }).click();
  await expect(box).toHaveValue("a🎉b");
  await expect(picker).toHaveCount(0);
  await box.press("End");
  await box.press("Enter");
  await expect(bodies(sana)).toHaveText(["a🎉b"]);

  // A shortcode typed out in full becomes its emoji.
  await box.pressSequentially("party :tada:");
  await expect(box).toHaveValue("party 🎉");
});

// Stand-ins for the browser's notification, audio and visibility APIs, so the
// test can see what the page asked for.
const recorder = () => {
  const w = window as any;
  w.__asked = 0;
  w.__notes = [];
  w.__beeps = 0;
  w.__hidden = false;
  class FakeNotification {
    static permission = "default";
    static async requestPermission() {
      w.__asked++;
      FakeNotification.permission = "granted";
      return "granted";
    }
    constructor(title: string, options: { body?: string }) {
      w.__notes.push({ title, body: options?.body });
    }
  }
  w.Notification = FakeNotification;
  if (localStorage.getItem("chat.notify") === "on") FakeNotification.permission = "granted";
  class FakeAudioContext {
    currentTime = 0;
    destination = {};
    resume() { return Promise.resolve(); }
    createGain() { return { gain: { setValueAtTime() {}, set value(_: number) {} }, connect() {} }; }
    createOscillator() {
      return { frequency: { set value(_: number) {} }, connect() {}, start() { w.__beeps++; }, stop() {} };
    }
  }
  w.AudioContext = FakeAudioContext;
  Object.defineProperty(document, "visibilityState", { get: () => (w.__hidden ? "hidden" : "visible") });
  Object.defineProperty(document, "hidden", { get: () => w.__hidden });
};

test("a hidden tab notifies and chimes after the bell is turned on; mentions stand out", async ({ browser }) => {
  const context = await browser.newContext();
  await context.addInitScript(recorder);
  const sana = await context.newPage();
  await joinOn(sana, "sana", "alerts");
  const usman = await joinFromLobby(browser, "usman", "alerts");

  // Nothing is asked on load; a click on the bell asks once.
  const bell = sidebar(sana).getByRole("button", { name: "Notifications" });
  const sound = sidebar(sana).getByRole("button", { name: "Sound" });
  await expect(bell).toHaveAttribute("aria-pressed", "false");
  expect(await sana.evaluate(() => (window as any).__asked)).toBe(0);
  await bell.click();
  await expect(bell).toHaveAttribute("aria-pressed", "true");
  await sound.click();
  await expect(sound).toHaveAttribute("aria-pressed", "true");
  expect(await sana.evaluate(() => (window as any).__asked)).toBe(1);

  // While the tab is visible, no notification.
  await say(usman, "visible tab");
  await expect(bodies(sana).last()).toHaveText("visible tab");
  expect(await sana.evaluate(() => (window as any).__notes.length)).toBe(0);

  // Hidden: a notification and a chime per message; a mention says so.
  await sana.evaluate(() => ((window as any).__hidden = true));
  await say(usman, "are you there @sana? **urgent**");
  await expect.poll(() => sana.evaluate(() => (window as any).__notes)).toEqual([
    { title: "usman mentioned you in #alerts", body: "are you there @sana? urgent" },
  ]);
  expect(await sana.evaluate(() => (window as any).__beeps)).toBe(1);
  // Unseen in a background tab: the title counts it until the tab is back.
  await expect(sana).toHaveTitle("(1) #alerts · Chat");
  await sana.evaluate(() => {
    (window as any).__hidden = false;
    document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
  });
  await expect(sana).toHaveTitle("#alerts · Chat");

  // The mention is highlighted for sana only.
  await expect(log(sana).locator(".message.mention")).toHaveCount(1);
  await expect(log(sana).locator(".message.mention .body")).toHaveText("are you there @sana? urgent");
  await expect(log(usman).locator(".message.mention")).toHaveCount(0);

  // The toggles are remembered.
  await sana.reload();
  await expectJoined(sana);
  await expect(bell).toHaveAttribute("aria-pressed", "true");
  await expect(sound).toHaveAttribute("aria-pressed", "true");
  expect(await sana.evaluate(() => (window as any).__asked)).toBe(0);
});

test("messages are formatted from a parsed tree, grouped by author, under day separators", async ({ browser }, testInfo) => {
  const sana = await joinFromLobby(browser, "sana", "format");
  const usman = await joinFromLobby(browser, "usman", "format");
  await say(usman, "**bold** and _italic_ and `x < y` see https://example.com/a_b_(c).");
  await say(usman, "```rust\nfn main() {}\n```");
  await say(usman, "<b>not bold</b> <script>window.__pwned = 1</script>");
  await say(sana, "my turn");

  const first = log(sana).locator(".message").first();
  await expect(first.locator("strong")).toHaveText("bold");
  await expect(first.locator("em")).toHaveText("italic");
  await expect(first.locator("code")).toHaveText("x < y");
  const link = first.getByRole("link", { name: "https://example.com/a_b_(c)" });
  await expect(link).toHaveAttribute("href", "https://example.com/a_b_(c)");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer nofollow");
  await expect(link).toHaveAttribute("target", "_blank");
  await expect(log(sana).locator("pre code")).toHaveText("fn main() {}");
  await expect(log(sana).getByText("<b>not bold</b> <script>window.__pwned = 1</script>")).toBeVisible();
  await expect(log(sana).locator(".body b, .body script")).toHaveCount(0);
  expect(await sana.evaluate(() => (window as any).__pwned)).toBeUndefined();

  // usman's three messages form one group: his name shows once.
  await expect(log(sana).locator(".message:not(.grouped) .author")).toHaveText(["usman", "sana"]);
  // Grouped lines still name their author for screen readers.
  await expect(log(sana).locator(".message.grouped .author")).toHaveText(["usman", "usman"]);
  await expect(log(sana).locator(".message.grouped")).toHaveCount(2);

  // A day separator and relative times with the exact time on hover.
  await expect(log(sana).getByRole("separator")).toHaveText(["Today"]);
  const time = log(sana).locator(".message .meta time").first();
  await expect(time).toHaveText("just now");
  await expect(time).toHaveAttribute("title", /^\w+day \d{1,2} \w+ \d{4}, \d\d:\d\d:\d\d$/);
  await sana.screenshot({ path: testInfo.outputPath("desktop.png") });
});

test("at 360 px the sidebar folds behind a button; dark theme and keyboard work", async ({ browser }, testInfo) => {
  const usman = await joinFromLobby(browser, "usman", "mobile");
  await say(usman, "hello from a desktop");
  const sana = await joinFromLobby(browser, "sana", "mobile", { viewport: { width: 360, height: 740 }, colorScheme: "dark" });

  // Dark theme from prefers-color-scheme.
  const background = await sana.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = background.match(/\d+/g)!.map(Number);
  expect(r + g + b).toBeLessThan(150);

  // The sidebar hides behind "Rooms" and nothing spills sideways.
  const toggle = sana.getByRole("button", { name: "Rooms" });
  await expect(sidebar(sana)).toBeHidden();
  expect(await sana.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  await expect(sidebar(sana).getByRole("link", { name: "#mobile" })).toBeVisible();
  await toggle.click();
  await expect(sidebar(sana)).toBeHidden();

  // Keyboard only: tab into the composer, type, Enter sends; focus is visible.
  const box = sana.getByRole("textbox", { name: "Message" });
  await sana.locator("body").click({ position: { x: 180, y: 400 } });
  for (let i = 0; i < 30 && !(await box.evaluate((el) => el === document.activeElement)); i++) {
    await sana.keyboard.press("Tab");
  }
  await expect(box).toBeFocused();
  expect(await box.evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe("none");
  await sana.keyboard.type("hello from a phone");
  await sana.keyboard.press("Enter");
  await expect(bodies(usman)).toHaveText(["hello from a desktop", "hello from a phone"]);
  await expect(bodies(sana)).toHaveText(["hello from a desktop", "hello from a phone"]);
  await expect(log(sana)).toHaveAttribute("aria-live", "polite");
  await sana.screenshot({ path: testInfo.outputPath("mobile.png") });
});

test("links and the back button move between pages in place, without reloading", async ({ browser }) => {
  const rhea = await joinFromLobby(browser, "rhea", "gamma");
  await say(rhea, "said in gamma");
  await sidebar(rhea).getByRole("textbox", { name: "Open or create" }).fill("delta");
  await sidebar(rhea).getByRole("button", { name: "Go" }).click();
  await expect(rhea).toHaveURL(/\/r\/delta$/);
  await expectJoined(rhea);
  await say(rhea, "said in delta");
  // Anything the page holds survives a move within the app, and nothing is fetched again as a document.
  await rhea.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  const documents: string[] = [];
  rhea.on("request", (r) => r.resourceType() === "document" && documents.push(r.url()));
  const stayed = () => rhea.evaluate(() => (window as unknown as { stayed?: boolean }).stayed === true);

  await sidebar(rhea).getByRole("link", { name: /^#gamma/ }).click();
  await expect(rhea).toHaveURL(/\/r\/gamma$/);
  await expect(bodies(rhea)).toHaveText(["said in gamma"]);
  await rhea.goBack();
  await expect(rhea).toHaveURL(/\/r\/delta$/);
  await expect(bodies(rhea)).toHaveText(["said in delta"]);
  await rhea.goForward();
  await expect(rhea).toHaveURL(/\/r\/gamma$/);
  await expect(bodies(rhea)).toHaveText(["said in gamma"]);
  await sidebar(rhea).getByRole("link", { name: "All rooms" }).click();
  await expect(rhea).toHaveURL(/\/$/);
  await expect(rhea.getByRole("heading", { name: "Chat", level: 1 })).toBeVisible();
  await rhea.getByRole("list", { name: "Rooms" }).getByRole("link", { name: "#delta" }).click();
  await expect(rhea).toHaveURL(/\/r\/delta$/);
  await expect(bodies(rhea)).toHaveText(["said in delta"]);
  expect(await stayed()).toBe(true);
  expect(documents).toEqual([]);

  // A page opened afresh hydrates from the data in its document: no request for it.
  const fetched: string[] = [];
  // (The room's media pass is no page data: it is asked for after each join.)
  rhea.on("request", (r) => r.url().includes("/api/") && !r.url().includes("/api/media/pass") && fetched.push(r.url()));
  await rhea.goto("/r/delta");
  await expectJoined(rhea);
  await expect(bodies(rhea)).toHaveText(["said in delta"]);
  await rhea.goto("/");
  await expect(rhea.getByRole("list", { name: "Rooms" }).getByRole("link", { name: "#delta" })).toBeVisible();
  expect(fetched).toEqual([]);

  // An address that is no page says so, with a 404.
  const missing = await rhea.goto("/r/gamma/nowhere");
  expect(missing?.status()).toBe(404);
  await expect(rhea.getByText("Page not found.")).toBeVisible();
});

test("the bell, sound, emoji and attach buttons draw their icons, so they show without an emoji font", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "icons");
  for (const name of ["Notifications", "Sound", "Emoji", "Attach"]) {
    const button = sana.getByRole("button", { name, exact: true });
    // No character to draw (an emoji is an empty box without an emoji font).
    await expect(button).toHaveText("");
    await expect(button.locator("svg path")).toHaveCount(1);
    const drawn = await button.locator("svg").boundingBox();
    expect(drawn!.width, name).toBeGreaterThan(10);
  }
  // The sound toggle's icon follows its state.
  const sound = sana.getByRole("button", { name: "Sound", exact: true });
  const quiet = await sound.locator("svg path").getAttribute("d");
  await sound.click();
  await expect(sound).toHaveAttribute("aria-pressed", "true");
  await expect(sound.locator("svg path")).not.toHaveAttribute("d", quiet!);
});
