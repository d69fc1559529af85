import { test, expect, type Browser } from "@playwright/test";
import { bodies, joinOn, log, say } from "./people";

// Two browsers, each page served by a different server of one cluster
// (PostgreSQL + Redis from scripts/services, the two servers started by
// playwright.config.ts; see docs/SCALING.md).
const port = Number(process.env.E2E_PORT ?? 3917);

async function joinAt(browser: Browser, server: number, nick: string, room: string) {
  const page = await (await browser.newContext()).newPage();
  await joinOn(page, nick, room, `http://127.0.0.1:${server}`);
  return page;
}

test("two people on two servers chat in one room", async ({ browser }) => {
  const sana = await joinAt(browser, port + 1, "sana", "across");
  const usman = await joinAt(browser, port + 2, "usman", "across");

  // Each sees the other: the notice and the online list cross servers.
  await expect(log(sana).getByText("usman joined")).toBeVisible();
  await expect(usman.getByRole("list", { name: "Online" })).toContainText("sana");
  await expect(sana.getByRole("list", { name: "Online" })).toContainText("usman");

  await say(sana, "Hello from server one");
  await expect(bodies(usman)).toHaveText(["Hello from server one"]);
  await say(usman, "And back from server two");
  for (const page of [sana, usman]) {
    await expect(bodies(page)).toHaveText(["Hello from server one", "And back from server two"]);
  }

  // A name taken on one server is refused on the other.
  const copycat = await (await browser.newContext()).newPage();
  await copycat.goto(`http://127.0.0.1:${port + 2}/`);
  await copycat.getByRole("textbox", { name: "Nickname" }).fill("SANA");
  await copycat.getByRole("textbox", { name: "Room" }).fill("across");
  await copycat.getByRole("button", { name: "Join" }).click();
  await expect(copycat.getByText("that nickname is already in use in this room")).toBeVisible();
});
