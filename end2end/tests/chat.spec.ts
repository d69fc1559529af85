import { test, expect } from "@playwright/test";
import { bodies, expectJoined, joinFromLobby, log } from "./people";

test("sana and usman talk in main, in order, and a reload keeps it all", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "main");
  await expect(log(sana)).toHaveAttribute("aria-live", "polite");
  const usman = await joinFromLobby(browser, "usman", "main");

  // Each sees the other's join notice: sana live, usman in the history.
  await expect(log(sana).getByText("usman joined")).toBeVisible();
  await expect(log(usman).getByText("sana joined")).toBeVisible();
  await expect(sana.getByRole("list", { name: "Online" })).toContainText("usman");
  await expect(usman.getByRole("list", { name: "Online" })).toContainText("sana");

  // Enter sends.
  const sadiaBox = sana.getByRole("textbox", { name: "Message" });
  await sadiaBox.fill("Hi everyone!");
  await sadiaBox.press("Enter");
  await expect(sadiaBox).toHaveValue("");
  await expect(bodies(usman)).toHaveText(["Hi everyone!"]);

  // The Send button sends too.
  await usman.getByRole("textbox", { name: "Message" }).fill("Hello Sadia!");
  await usman.getByRole("button", { name: "Send" }).click();
  for (const page of [sana, usman]) {
    await expect(bodies(page)).toHaveText(["Hi everyone!", "Hello Sadia!"]);
  }
  await expect(log(sana).locator(".message").last().locator(".author")).toHaveText("usman");

  // A reload keeps the room, the nickname and the history, with no leave/join noise.
  await usman.reload();
  await expectJoined(usman);
  await expect(bodies(usman)).toHaveText(["Hi everyone!", "Hello Sadia!"]);
  await expect(usman.getByText("You are usman")).toBeVisible();
  await sadiaBox.fill("still there?");
  await sadiaBox.press("Enter");
  await expect(bodies(usman)).toHaveText(["Hi everyone!", "Hello Sadia!", "still there?"]);
  await expect(log(sana).getByText("usman left")).toHaveCount(0);

  // Without JavaScript the history is in the server-rendered HTML.
  const noJs = await browser.newContext({ javaScriptEnabled: false });
  const reader = await noJs.newPage();
  await reader.goto("/r/main");
  await expect(bodies(reader)).toHaveText(["Hi everyone!", "Hello Sadia!", "still there?"]);

  // A message in another room never shows in main.
  const elsewhere = await joinFromLobby(browser, "visitor", "other");
  const otherBox = elsewhere.getByRole("textbox", { name: "Message" });
  await otherBox.fill("only in other");
  await otherBox.press("Enter");
  await expect(bodies(elsewhere)).toHaveText(["only in other"]);
  await sadiaBox.fill("marker in main");
  await sadiaBox.press("Enter");
  await expect(bodies(usman)).toHaveText(["Hi everyone!", "Hello Sadia!", "still there?", "marker in main"]);
  await expect(log(usman).getByText("only in other")).toHaveCount(0);
});

test("HTML in a message is shown as text and runs nothing", async ({ browser }) => {
  const sender = await joinFromLobby(browser, "mallory", "xss");
  const reader = await joinFromLobby(browser, "alice", "xss");
  let dialogs = 0;
  for (const page of [sender, reader]) page.on("dialog", (d) => { dialogs++; void d.dismiss(); });

  const attack = "<img src=x onerror=alert(1)>";
  const box = sender.getByRole("textbox", { name: "Message" });
  await box.fill(attack);
  await box.press("Enter");
  await expect(bodies(reader)).toHaveText([attack]);
  await expect(log(reader).locator("img")).toHaveCount(0);

  // And the same after a server render of the history.
  await reader.reload();
  await expect(bodies(reader)).toHaveText([attack]);
  await expect(log(reader).locator("img")).toHaveCount(0);
  expect(dialogs).toBe(0);
});

test("a taken nickname is refused with a reason and another can be picked", async ({ browser }) => {
  await joinFromLobby(browser, "sam", "names");
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/");
  await page.getByRole("textbox", { name: "Nickname" }).fill("sam");
  await page.getByRole("textbox", { name: "Room" }).fill("names");
  await page.getByRole("button", { name: "Join" }).click();
  await expect(page.getByText("that nickname is already in use in this room")).toBeVisible();

  await page.getByRole("textbox", { name: "Nickname" }).fill("sam2");
  await page.getByRole("button", { name: "Join" }).click();
  await expectJoined(page);
  await expect(page.getByRole("list", { name: "Online" })).toContainText("sam2");
});

test("Shift+Enter starts a new line and Enter sends both lines", async ({ browser }) => {
  const page = await joinFromLobby(browser, "poet", "lines");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.click();
  await box.pressSequentially("roses");
  await box.press("Shift+Enter");
  await box.pressSequentially("violets");
  await expect(box).toHaveValue("roses\nviolets");
  await box.press("Enter");
  await expect(bodies(page)).toHaveText(["roses\nviolets"]);
});

test("the lobby lists rooms with how many are online, and bad input is explained", async ({ browser }) => {
  await joinFromLobby(browser, "host", "lobbytest");
  const page = await (await browser.newContext()).newPage();
  await page.goto("/");
  await expect(page.getByRole("list", { name: "Rooms" }).getByRole("listitem").filter({ hasText: "#lobbytest" })).toContainText("1 online");

  await page.getByRole("textbox", { name: "Nickname" }).fill("someone");
  await page.getByRole("textbox", { name: "Room" }).fill("no spaces please");
  await page.getByRole("button", { name: "Join" }).click();
  await expect(page.getByRole("alert")).toContainText("letters, digits");
  await expect(page).toHaveURL(/\/$/);
});
