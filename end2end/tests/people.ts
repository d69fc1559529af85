import { expect, type Browser, type BrowserContextOptions, type Page } from "@playwright/test";

// What the specs do as a person would: join from the lobby, find the log, say something.

/** Joins `room` from the lobby in `page` and waits for the server's
 * confirmation: as `nick`, or signed in when `nick` is null (the lobby then
 * asks no nickname); from the server at `base` (an origin) if given, else
 * the configured one. The one way every spec joins a room. */
export async function joinOn(page: Page, nick: string | null, room: string, base = "") {
  await page.goto(`${base}/`);
  const nickname = page.getByRole("textbox", { name: "Nickname" });
  if (nick === null) {
    await expect(nickname).toHaveCount(0);
  } else {
    await nickname.fill(nick);
  }
  await page.getByRole("textbox", { name: "Room" }).fill(room);
  await page.getByRole("button", { name: "Join" }).click();
  await expect(page).toHaveURL(new RegExp(`/r/${room}$`));
  if (base) expect(page.url().startsWith(`${base}/`), `${page.url()} is on ${base}`).toBe(true);
  await expectJoined(page);
}

/** Opens the lobby in a new browser context and joins `room` as `nick`. */
export async function joinFromLobby(
  browser: Browser,
  nick: string,
  room: string,
  options: BrowserContextOptions = {},
): Promise<Page> {
  const page = await (await browser.newContext(options)).newPage();
  await joinOn(page, nick, room);
  return page;
}

/** The box invites a message once the server confirmed the join (it is
 * open before that, so nothing typed early is lost, and Send waits). */
export async function expectJoined(page: Page) {
  const box = page.getByRole("textbox", { name: "Message" });
  await expect(box).toHaveAttribute("placeholder", "Write a message");
  await expect(page.getByRole("button", { name: "Send" })).toBeEnabled();
}

export function log(page: Page) {
  return page.getByRole("log", { name: "Messages" });
}

/** The texts of the messages the server confirmed. */
export function bodies(page: Page) {
  return log(page).locator(".message:not(.pending) .body");
}

/** Sends `text` with Enter and waits for the box to clear. */
export async function say(page: Page, text: string) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await expect(box).toHaveValue("");
}

/** The password every spec's accounts use. */
export const PASSWORD = "a long enough passphrase";

export async function fillCredentials(page: Page, username: string, password: string) {
  await page.getByRole("textbox", { name: "Username" }).fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
}

/** A new browser context signed up as `username`, on the lobby. A name can
 * be signed up once per run: every spec picks its own. */
export async function signUp(browser: Browser, username: string, options: BrowserContextOptions = {}) {
  const page = await (await browser.newContext(options)).newPage();
  await page.goto("/");
  await page.getByRole("main").getByRole("link", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await fillCredentials(page, username, PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("main").getByText(`Signed in as ${username}`)).toBeVisible();
  return page;
}

export async function logIn(page: Page, username: string, password: string) {
  await page.goto("/login");
  await fillCredentials(page, username, password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/** Attaches files with the Attach button and its file chooser. */
export async function attach(page: Page, files: { name: string; mimeType: string; buffer: Buffer }[]) {
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Attach" }).click();
  await (await chooser).setFiles(files);
}

/** The files picked for the next message. */
export function files(page: Page) {
  return page.getByRole("list", { name: "Files to send" });
}

/** Sends what is in the box, with the attached files, once they are uploaded. */
export async function send(page: Page) {
  await page.getByRole("button", { name: "Send" }).click();
  await expect(files(page)).toHaveCount(0);
}

/** The safety number `page` shows under `label`: "Safety number" in a
 * direct message, "Safety number with NAME" beside a private room's member. */
export async function safetyNumber(page: Page, label = "Safety number") {
  const toggle = page.getByRole("button", { name: label, exact: true });
  await toggle.click();
  const digits = page.getByLabel(label, { exact: true });
  await expect(digits).toHaveText(/^(\d{5} ){11}\d{5}$/);
  const number = await digits.textContent();
  await toggle.click();
  return number;
}
