import { test, expect, type Browser, type Page } from "@playwright/test";
import { joinOn } from "./people";
import { CuttableProxy } from "./proxy";

function bodies(page: Page) {
  return page.getByRole("log", { name: "Messages" }).locator(".message:not(.pending) .body");
}


/** Sana joins `room` directly and Usman through a proxy the test can cut. */
async function sanaAndUsmanBehindProxy(browser: Browser, baseURL: string, room: string) {
  const proxy = new CuttableProxy(Number(new URL(baseURL).port));
  const viaProxy = await proxy.start();
  const sana = await (await browser.newContext()).newPage();
  await joinOn(sana, "sana", room, baseURL);
  const usman = await (await browser.newContext()).newPage();
  await joinOn(usman, "usman", room, viaProxy);
  return { proxy, sana, usman };
}

test("a cut connection catches up exactly once, in order, and delivers what was typed meanwhile", async ({ browser, baseURL }) => {
  const { proxy, sana, usman } = await sanaAndUsmanBehindProxy(browser, baseURL!, "resume");
  const sadiaLog = sana.getByRole("log", { name: "Messages" });
  await expect(sadiaLog.getByText("usman joined")).toBeVisible();

  proxy.cut();
  await expect(usman.getByText("Reconnecting…")).toBeVisible();

  const sadiaBox = sana.getByRole("textbox", { name: "Message" });
  for (const text of ["one", "two", "three"]) {
    await sadiaBox.fill(text);
    await sadiaBox.press("Enter");
  }
  await expect(bodies(sana)).toHaveText(["one", "two", "three"]);

  // Typed while cut off: shown as pending, not lost.
  const usmanBox = usman.getByRole("textbox", { name: "Message" });
  await usmanBox.fill("typed while away");
  await usmanBox.press("Enter");
  const pending = usman.locator(".message.pending");
  await expect(pending).toHaveCount(1);
  await expect(pending).toContainText("sending…");
  await expect(pending).toContainText("typed while away");

  proxy.restore();
  await expect(bodies(usman)).toHaveText(["one", "two", "three", "typed while away"], { timeout: 30_000 });
  await expect(pending).toHaveCount(0);
  await expect(usman.getByText("Reconnecting…")).toHaveCount(0);
  await expect(bodies(sana)).toHaveText(["one", "two", "three", "typed while away"]);

  // A short drop is not a leave: no "usman left", and one "usman joined".
  await expect(sadiaLog.getByText("usman left")).toHaveCount(0);
  await expect(sadiaLog.getByText("usman joined")).toHaveCount(1);
  await proxy.stop();
});

test("a client that missed more than the replay limit gets the latest page and is told", async ({ browser, baseURL }) => {
  // The test server replays at most 5 entries (--max-replay 5 in playwright.config.ts).
  const { proxy, sana, usman } = await sanaAndUsmanBehindProxy(browser, baseURL!, "away");
  await expect(sana.getByRole("log", { name: "Messages" }).getByText("usman joined")).toBeVisible();

  proxy.cut();
  await expect(usman.getByText("Reconnecting…")).toBeVisible();
  const box = sana.getByRole("textbox", { name: "Message" });
  const sent = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"];
  for (const text of sent) {
    await box.fill(text);
    await box.press("Enter");
  }
  await expect(bodies(sana)).toHaveText(sent);

  proxy.restore();
  await expect(usman.getByText("You were away for a while: showing the latest messages.")).toBeVisible({ timeout: 30_000 });
  await expect(bodies(usman)).toHaveText(sent);
  await expect(usman.getByText("Reconnecting…")).toHaveCount(0);
  await proxy.stop();
});

test("an edit saved while cut off stays in the box, says why, and saves once back", async ({ browser, baseURL }) => {
  const { proxy, sana, usman } = await sanaAndUsmanBehindProxy(browser, baseURL!, "offline-edit");
  const box = usman.getByRole("textbox", { name: "Message" });
  await box.fill("see you at 5");
  await box.press("Enter");
  await expect(bodies(sana)).toHaveText(["see you at 5"]);

  proxy.cut();
  await expect(usman.getByText("Reconnecting…")).toBeVisible();
  await box.press("ArrowUp");
  await expect(box).toHaveValue("see you at 5");
  await box.fill("see you at 6");
  await box.press("Enter");
  await expect(usman.getByRole("alert")).toHaveText("Not connected right now: try again once the connection is back.");
  await expect(box).toHaveValue("see you at 6");

  proxy.restore();
  await expect(usman.getByText("Reconnecting…")).toHaveCount(0, { timeout: 30_000 });
  await expect(usman.getByText("Not connected right now")).toHaveCount(0);
  await box.press("Enter");
  await expect(bodies(sana)).toHaveText(["see you at 6"]);
  await expect(box).toHaveValue("");
  await proxy.stop();
});
