import { expect, test, type Page } from "@playwright/test";
import { bodies, expectJoined, joinFromLobby, log } from "./people";

// What a person does before the page is interactive (a slow phone: the
// server-rendered page is there, the WebAssembly is not yet), and with no
// JavaScript at all.

/** Holds back the WebAssembly bundle until the returned function is called. */
async function holdBundle(page: Page): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\/pkg\/.*\.wasm$/, async (route) => {
    await released;
    await route.continue();
  });
  return release;
}

test("text typed into the composer before the page is interactive stays and is sent", async ({ browser }) => {
  const page = await (await browser.newContext()).newPage();
  // Remember a nickname first, as a returning person has.
  await page.goto("/");
  await page.evaluate(() => localStorage.setItem("chat.nick", "early"));
  const release = await holdBundle(page);
  await page.goto("/r/typing-early");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.pressSequentially("typed before hydration");
  release();
  await expectJoined(page);
  await expect(box).toHaveValue("typed before hydration");
  await box.press("Enter");
  await expect(box).toHaveValue("");
  await expect(bodies(page)).toHaveText(["typed before hydration"]);
});

test("joining from the lobby before the page is interactive keeps the nickname", async ({ browser }) => {
  const page = await (await browser.newContext()).newPage();
  const release = await holdBundle(page);
  await page.goto("/");
  await page.getByRole("textbox", { name: "Nickname" }).fill("quick");
  await page.getByRole("textbox", { name: "Room" }).fill("quick-join");
  await page.getByRole("button", { name: "Join" }).click();
  // The plain form went to the room with the nickname; nobody asks again.
  await expect(page).toHaveURL(/\/r\/quick-join\?nick=quick$/);
  release();
  await expectJoined(page);
  await expect(page.getByText("You are quick")).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Nickname" })).toHaveCount(0);
  // The address to share is the room's, without the nickname.
  await expect(page).toHaveURL(/\/r\/quick-join$/);
  const other = await joinFromLobby(browser, "watcher", "quick-join");
  await expect(other.getByRole("list", { name: "Online" })).toContainText("quick");
});

test("without JavaScript a person can pick a nickname, read and post", async ({ browser }) => {
  const reader = await joinFromLobby(browser, "reader", "plain");
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await page.goto("/");
  await page.getByRole("textbox", { name: "Nickname" }).fill("nojs");
  await page.getByRole("textbox", { name: "Room" }).fill("plain");
  await page.getByRole("button", { name: "Join" }).click();
  await expect(page).toHaveURL(/\/r\/plain\?nick=nojs$/);
  await expect(log(page)).toContainText("reader joined");

  await page.getByRole("textbox", { name: "Message" }).fill("posted <b>without</b> script");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page).toHaveURL(/\/r\/plain\?nick=nojs$/);
  await expect(log(page)).toContainText("posted <b>without</b> script");
  // Everyone in the room hears it live, as text.
  await expect(bodies(reader)).toHaveText(["posted <b>without</b> script"]);

  // A shared link without a nickname asks for one in the same plain form.
  await page.goto("/r/plain");
  await page.getByRole("textbox", { name: "Nickname" }).fill("second");
  await page.getByRole("textbox", { name: "Message" }).fill("me too");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page).toHaveURL(/\/r\/plain\?nick=second$/);
  await expect(bodies(reader)).toHaveText(["posted <b>without</b> script", "me too"]);
});

test("the lobby lists the busiest rooms and finds any room by name", async ({ browser }) => {
  await joinFromLobby(browser, "finder", "needle-in-haystack");
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await page.goto("/");
  const rooms = page.getByRole("list", { name: "Rooms" });
  await expect(rooms).toContainText("#needle-in-haystack");
  await page.getByRole("searchbox", { name: "Find a room" }).fill("NEEDLE");
  await page.getByRole("button", { name: "Find" }).click();
  await expect(page).toHaveURL(/\/\?q=NEEDLE$/);
  await expect(rooms.getByRole("link")).toHaveText(["#needle-in-haystack"]);
  await page.goto("/?q=%25_");
  await expect(page.getByText("No room by that name yet")).toBeVisible();
});
