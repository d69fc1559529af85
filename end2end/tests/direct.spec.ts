import { test, expect } from "@playwright/test";
import * as fs from "node:fs/promises";
import { PASSWORD, attach, bodies, expectJoined, joinOn, log, logIn, safetyNumber, say, send, signUp } from "./people";

// Direct messages: two accounts, one conversation that only they can find.

test("two accounts talk in a direct message the other finds in their sidebar", async ({ browser }) => {
  const olek = await signUp(browser, "olek");
  const wanjiru = await signUp(browser, "wanjiru");
  await joinOn(olek, null, "dm-corner");
  await joinOn(wanjiru, null, "dm-corner");

  // From the online list: a button beside each signed-in person.
  const online = olek.getByRole("list", { name: "Online" });
  await online.getByRole("button", { name: "Message wanjiru" }).click();
  await expect(olek).toHaveURL(/\/r\/~[a-z0-9]{20}$/);
  const address = new URL(olek.url()).pathname;
  await expect(olek.getByRole("heading", { name: "wanjiru", level: 1 })).toBeVisible();
  await expect(olek.getByText("Direct message", { exact: true })).toBeVisible();
  await expect(olek.getByText("End-to-end encrypted", { exact: true })).toBeVisible();
  await expectJoined(olek);
  await say(olek, "lunch at one?");

  // wanjiru is still in the public room: the conversation shows in her
  // sidebar at once, named after olek, with its unread count.
  const directs = wanjiru.getByRole("list", { name: "Direct messages" });
  const conversation = directs.getByRole("link", { name: /^olek/ });
  await expect(conversation).toHaveAccessibleName("olek, 1 unread");
  await conversation.click();
  await expect(wanjiru).toHaveURL(new RegExp(`${address}$`));
  await expectJoined(wanjiru);
  await expect(bodies(wanjiru)).toHaveText(["lunch at one?"]);
  await say(wanjiru, "see you there");
  await expect(bodies(olek)).toHaveText(["lunch at one?", "see you there"]);

  // The address by name leads to the same conversation, from either side.
  await wanjiru.goto("/dm/olek");
  await expect(wanjiru).toHaveURL(new RegExp(`${address}$`));
  await expect(bodies(wanjiru)).toHaveText(["lunch at one?", "see you there"]);

  // The server holds the words sealed: its history has no plain text.
  const room = decodeURIComponent(address.replace("/r/", ""));
  const stored = await olek.evaluate(async (room) => {
    const answer = await fetch("/api/room_history", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ room }),
    });
    return answer.text();
  }, room);
  expect(stored).toContain("e2e1.");
  expect(stored).not.toContain("lunch");
  expect(stored).not.toContain("see you there");

  // Both see the same safety number.
  const number = await safetyNumber(olek);
  expect(await safetyNumber(wanjiru)).toBe(number);

  // olek puts his laptop away and signs in on a second device: it reads
  // what is said from then on (the earlier words wait for a key), and
  // wanjiru is told of it.
  const laptopBrowser = olek.context();
  await olek.close();
  const phone = await (await browser.newContext()).newPage();
  await logIn(phone, "olek", PASSWORD);
  await expect(phone.getByRole("main").getByText("Signed in as olek")).toBeVisible();
  await phone.goto("/dm/wanjiru");
  await expect(phone).toHaveURL(new RegExp(`${address}$`));
  await expectJoined(phone);
  await expect(bodies(phone)).toHaveText([
    "Waiting for the key from another device",
    "Waiting for the key from another device",
  ]);
  await say(wanjiru, "hello to your phone");
  await expect(wanjiru.getByText("olek added a new device")).toBeVisible();
  await expect(bodies(phone).last()).toHaveText("hello to your phone");
  // Back on the laptop, which holds the earlier keys: it hands them to the
  // phone, which then reads everything.
  const laptop = await laptopBrowser.newPage();
  await laptop.goto(address);
  await expect(bodies(laptop)).toHaveText(["lunch at one?", "see you there", "hello to your phone"]);
  await expect(bodies(phone)).toHaveText(["lunch at one?", "see you there", "hello to your phone"]);
  // A new device makes a new safety number, the same on both sides again.
  const renewed = await safetyNumber(wanjiru);
  expect(renewed).not.toBe(number);
  expect(await safetyNumber(phone)).toBe(renewed);

  // A third account finds nothing there.
  const third = await signUp(browser, "bartek");
  const answer = await third.goto(address);
  expect(answer?.status()).toBe(404);
  await expect(third.getByRole("heading", { name: "No such room" })).toBeVisible();
  await expect(third.getByText("lunch")).toHaveCount(0);
});

test("files in a direct message are encrypted in the browser and open on the other side", async ({ browser }) => {
  const halima = await signUp(browser, "halima");
  const joaquin = await signUp(browser, "joaquin");
  await halima.goto("/dm/joaquin");
  await expectJoined(halima);
  const address = new URL(halima.url()).pathname;
  await joaquin.goto(address);
  await expectJoined(joaquin);

  // A picture and a text file, attached as anywhere else.
  const shot = await halima.screenshot({ type: "png" });
  await attach(halima, [
    { name: "harbour.png", mimeType: "image/png", buffer: shot },
    { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("the secret plan\n") },
  ]);
  await halima.getByRole("textbox", { name: "Message" }).fill("the plans");
  await send(halima);

  // joaquin sees the picture's thumbnail, made and sealed in halima's
  // browser and opened in his, and the file as a card.
  await expect(bodies(joaquin)).toHaveText(["the plans"]);
  const thumb = log(joaquin).getByRole("img", { name: "harbour.png" });
  await expect(thumb).toHaveAttribute("src", /^blob:/);
  // 640 pixels on its longer side (the screenshot is wider than tall).
  await expect
    .poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBe(640);

  // Full size in the viewer.
  await thumb.click();
  const viewer = joaquin.getByRole("dialog", { name: "Picture viewer" });
  const full = viewer.getByRole("img", { name: "harbour.png" });
  await expect
    .poll(() => full.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBe(await halima.evaluate(() => window.innerWidth * window.devicePixelRatio));
  await joaquin.keyboard.press("Escape");

  // The file downloads under its name, with its words.
  const download = joaquin.waitForEvent("download");
  await log(joaquin).getByRole("link", { name: /notes\.txt/ }).click();
  const saved = await download;
  expect(saved.suggestedFilename()).toBe("notes.txt");
  expect(await fs.readFile(await saved.path(), "utf8")).toBe("the secret plan\n");

  // The server holds ciphertext only: no names in the history, and its
  // files are opaque bytes (no PNG, no words).
  const room = decodeURIComponent(address.replace("/r/", ""));
  const seen = await joaquin.evaluate(async (room) => {
    const answer = await fetch("/api/room_history", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ room }),
    });
    const history = await answer.text();
    const ids = [...history.matchAll(/\["([A-Za-z0-9_-]+)","encrypted file"/g)].map((m) => m[1]);
    const stored = [];
    for (const id of ids) {
      const file = await fetch(`/media/${id}`);
      const bytes = new Uint8Array(await file.arrayBuffer());
      stored.push({
        type: file.headers.get("content-type"),
        png: bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47,
        text: new TextDecoder().decode(bytes),
      });
    }
    return { history, stored };
  }, room);
  expect(seen.history).toContain("e2e2.");
  expect(seen.history).not.toContain("harbour");
  expect(seen.history).not.toContain("notes.txt");
  // The picture, its thumbnail and the file.
  expect(seen.stored).toHaveLength(3);
  for (const file of seen.stored) {
    expect(file.type).toBe("application/octet-stream");
    expect(file.png).toBe(false);
    expect(file.text).not.toContain("secret plan");
  }
});

test("a recovery passphrase gives a new device the history with no other device online", async ({ browser }) => {
  const kofi = await signUp(browser, "kofi");
  const adaeze = await signUp(browser, "adaeze");
  await kofi.goto("/dm/adaeze");
  await expectJoined(kofi);
  const address = new URL(kofi.url()).pathname;
  await say(kofi, "the old plan");
  await adaeze.goto(address);
  await expectJoined(adaeze);
  await say(adaeze, "agreed");
  await expect(bodies(kofi)).toHaveText(["the old plan", "agreed"]);

  // kofi turns key backup on with a recovery passphrase (a short one is
  // refused).
  await kofi.getByRole("button", { name: "Key backup" }).click();
  const passphrase = kofi.getByLabel("Recovery passphrase");
  await passphrase.fill("too short");
  await kofi.getByRole("button", { name: "Turn on key backup" }).click();
  await expect(kofi.getByText("at least 12 characters")).toBeVisible();
  await passphrase.fill("correct horse battery staple");
  await kofi.getByRole("button", { name: "Turn on key backup" }).click();
  await expect(kofi.getByText("Key backup is on: 1 key backed up.")).toBeVisible();

  // His only device is gone; a new one reads nothing until he restores.
  await kofi.context().close();
  const phone = await (await browser.newContext()).newPage();
  await logIn(phone, "kofi", PASSWORD);
  await expect(phone.getByRole("main").getByText("Signed in as kofi")).toBeVisible();
  await phone.goto(address);
  await expectJoined(phone);
  await expect(bodies(phone)).toHaveText([
    "Waiting for the key from another device",
    "Waiting for the key from another device",
  ]);
  await phone.getByRole("button", { name: "Key backup" }).click();
  await phone.getByLabel("Recovery passphrase").fill("wrong horse battery staple");
  await phone.getByRole("button", { name: "Restore from key backup" }).click();
  await expect(phone.getByText("not this account's recovery passphrase")).toBeVisible();
  await phone.getByLabel("Recovery passphrase").fill("correct horse battery staple");
  await phone.getByRole("button", { name: "Restore from key backup" }).click();
  await expect(phone.getByText("Restored 1 key from the backup.")).toBeVisible();
  await expect(bodies(phone)).toHaveText(["the old plan", "agreed"]);
  // And the conversation goes on, on a new key epoch.
  await say(phone, "back on my phone");
  await expect(bodies(adaeze)).toHaveText(["the old plan", "agreed", "back on my phone"]);
});

test("a device removed from the account page is logged out and left out of what is said next", async ({ browser }) => {
  const ruth = await signUp(browser, "ruth");
  const ayo = await signUp(browser, "ayo");
  await ruth.goto("/dm/ayo");
  await expectJoined(ruth);
  const address = new URL(ruth.url()).pathname;
  await say(ruth, "one for both devices");
  await ayo.goto(address);
  await expectJoined(ayo);

  // ruth signs in on a second browser, which reads what is said from then.
  const other = await (await browser.newContext()).newPage();
  await logIn(other, "ruth", PASSWORD);
  await expect(other.getByRole("main").getByText("Signed in as ruth")).toBeVisible();
  await other.goto(address);
  await expectJoined(other);
  await say(ayo, "hello, second browser");
  await expect(bodies(other).last()).toHaveText("hello, second browser");
  await expect(ayo.getByText("ruth added a new device")).toBeVisible();

  // From the first, she lists her devices and removes the other one.
  await ruth.goto("/account");
  const devices = ruth.getByRole("list", { name: "Your devices" });
  await expect(devices.getByRole("listitem")).toHaveCount(2);
  const gone = devices.getByRole("listitem").filter({ hasNotText: "(this browser)" });
  await expect(gone).toContainText("Chrome on Linux");
  await gone.getByRole("button", { name: /^Remove device / }).click();
  await expect(ruth.getByRole("status")).toHaveText(/The device is removed/);
  await expect(devices.getByRole("listitem")).toHaveCount(1);
  await expect(devices).toContainText("(this browser)");

  // The removed browser is logged out where it stood: the conversation is
  // no longer there for it.
  await expect(other.getByRole("heading", { name: "No such room" })).toBeVisible();
  await expect(other.getByText("hello, second browser")).toHaveCount(0);

  // The conversation goes on, on a key the removed browser never had.
  await ruth.goto(address);
  await expectJoined(ruth);
  await say(ruth, "only my laptop reads this");
  await expect(bodies(ayo).last()).toHaveText("only my laptop reads this");
  await say(ayo, "understood");
  await expect(bodies(ruth).last()).toHaveText("understood");
  const epochs = await ruth.evaluate(async (room) => {
    const answer = await fetch("/api/room_history", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ room }),
    });
    return [...(await answer.text()).matchAll(/e2e1\.(\d+)\./g)].map((m) => Number(m[1]));
  }, decodeURIComponent(address.replace("/r/", "")));
  // One epoch at first, one more for the second browser, and one without it.
  expect(new Set(epochs).size).toBe(3);
});
