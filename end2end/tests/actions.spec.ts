import { expect, type Page } from "@playwright/test";
import { test } from "@playwright/test";
import { bodies, joinFromLobby, log, say } from "./people";

// What people do with messages: reply, react, edit, delete, search.

/** The message (an `article` in the log) whose own text (not a quote in
 * it) holds `text`. */
function message(page: Page, text: string) {
  return log(page)
    .locator("article.message")
    .filter({ has: page.locator(".body", { hasText: text }) });
}

/** Posts `count` short messages to `room` as `nick` through the plain form
 * (the page's own no-JavaScript path), to push earlier ones out of the
 * first page of history. */
async function fill(page: Page, room: string, nick: string, count: number) {
  const origin = new URL(page.url()).origin;
  for (let i = 0; i < count; i++) {
    const response = await page.request.post(`/r/${room}/post`, {
      form: { nick, body: `filler ${i}`, client_id: `fill-${room}-${i}` },
      headers: { origin },
      maxRedirects: 0,
    });
    expect(response.status()).toBeLessThan(400);
  }
}

test("a reply quotes its original, and the quote jumps back to it through older history", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "replies");
  const usman = await joinFromLobby(browser, "usman", "replies");
  await say(sana, "Who is bringing the cake?\nAsking for a friend");
  await message(usman, "Who is bringing the cake?").hover();
  await message(usman, "Who is bringing the cake?").getByRole("button", { name: "Reply" }).click();
  await expect(usman.getByText("Replying to sana")).toBeVisible();
  await fill(usman, "replies", "crowd", 60);
  await say(usman, "I am!");

  const quote = log(sana).getByRole("button", { name: "In reply to sana: Who is bringing the cake?" });
  await expect(quote).toBeVisible();
  // Someone arriving later has only the latest page; the quote loads the rest.
  const amira = await joinFromLobby(browser, "amira", "replies");
  await expect(message(amira, "Who is bringing the cake?")).toHaveCount(0);
  await log(amira).getByRole("button", { name: "In reply to sana: Who is bringing the cake?" }).click();
  await expect(message(amira, "Who is bringing the cake?")).toBeInViewport();
  await expect(message(amira, "Who is bringing the cake?")).toHaveClass(/highlighted/);
});

test("a reaction shows for the other person live and goes when taken back", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "reactions");
  const usman = await joinFromLobby(browser, "usman", "reactions");
  await say(sana, "We shipped it");
  const shipped = message(usman, "We shipped it");
  await shipped.hover();
  await shipped.getByRole("button", { name: "React" }).click();
  const picker = usman.getByRole("dialog", { name: "Emoji picker" });
  await picker.getByRole("textbox", { name: "Search emoji" }).fill("tada");
  await picker.getByRole("button", { name: ":tada:" }).click();

  const seenBySana = message(sana, "We shipped it").getByRole("button", { name: /🎉 1, from usman/ });
  await expect(seenBySana).toBeVisible();
  await expect(seenBySana).toHaveAttribute("aria-pressed", "false");
  // Sana adds hers by clicking it; the count is per person.
  await seenBySana.click();
  await expect(message(usman, "We shipped it").getByRole("button", { name: /🎉 2, from usman, sana/ })).toBeVisible();
  // Usman takes his back.
  await message(usman, "We shipped it").getByRole("button", { name: /🎉 2/ }).click();
  await expect(message(sana, "We shipped it").getByRole("button", { name: /🎉 1, from sana$/ })).toBeVisible();
});

test("an edit shows (edited) for the other, and a delete removes the message for them, also after a reload", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "edits");
  const usman = await joinFromLobby(browser, "usman", "edits");
  await say(sana, "Meeting at 3pm tomorow");
  await expect(bodies(usman)).toHaveText(["Meeting at 3pm tomorow"]);

  // Up in the empty box edits one's last message; Enter saves it.
  const box = sana.getByRole("textbox", { name: "Message" });
  await box.press("ArrowUp");
  await expect(box).toHaveValue("Meeting at 3pm tomorow");
  await box.fill("Meeting at 3pm tomorrow");
  await box.press("Enter");
  await expect(bodies(usman)).toHaveText(["Meeting at 3pm tomorrow"]);
  await expect(message(usman, "Meeting at 3pm tomorrow").getByText("(edited)")).toBeVisible();
  // Edit from its button: the caret waits at the end of the text in the box,
  // so typing goes on there and Enter saves (not Edit pressed again).
  await message(sana, "Meeting at 3pm tomorrow").hover();
  await message(sana, "Meeting at 3pm tomorrow").getByRole("button", { name: "Edit" }).click();
  await expect(box).toBeFocused();
  await sana.keyboard.type(", room 4");
  await sana.keyboard.press("Enter");
  await expect(bodies(usman)).toHaveText(["Meeting at 3pm tomorrow, room 4"]);
  await expect(box).toHaveValue("");
  // Others' messages offer no Edit or Delete.
  await message(usman, "Meeting at 3pm tomorrow").hover();
  await expect(message(usman, "Meeting at 3pm tomorrow").getByRole("button", { name: "Edit" })).toHaveCount(0);

  // Escape leaves an edit without saving it.
  await box.press("ArrowUp");
  await box.fill("never sent");
  await box.press("Escape");
  await expect(box).toHaveValue("");

  sana.on("dialog", (dialog) => void dialog.accept());
  await message(sana, "Meeting at 3pm tomorrow").hover();
  await message(sana, "Meeting at 3pm tomorrow").getByRole("button", { name: "Delete" }).click();
  await expect(log(usman).getByText("This message was deleted.")).toBeVisible();
  await expect(log(usman).getByText("Meeting at 3pm")).toHaveCount(0);
  await usman.reload();
  await expect(log(usman).getByText("This message was deleted.")).toBeVisible();
  await expect(log(usman).getByText("Meeting at 3pm")).toHaveCount(0);
});

test("search finds an old message, marks the words and jumps to it", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "search");
  await say(sana, "The wifi password is on the fridge");
  await fill(sana, "search", "crowd", 60);
  const usman = await joinFromLobby(browser, "usman", "search");
  await expect(message(usman, "wifi password")).toHaveCount(0);

  // The results are a page of their own, rendered on the server.
  const searchbox = usman.getByRole("searchbox", { name: "Search messages" });
  await searchbox.fill("WIFI passw");
  await searchbox.press("Enter");
  await expect(usman).toHaveURL(/\/search\?/);
  const results = usman.getByRole("region", { name: "Search results" });
  await expect(results.getByRole("link")).toHaveCount(1);
  await expect(results.locator("mark")).toHaveText(["wifi", "password"]);
  // Hostile input is only words: nothing breaks, nothing matches.
  const again = usman.getByRole("searchbox", { name: "Search messages" });
  await again.fill('") OR 1=1 -- % <b>x</b>');
  await again.press("Enter");
  await expect(results.getByText("No messages found.")).toBeVisible();
  await expect(again).toHaveValue('") OR 1=1 -- % <b>x</b>');

  await again.fill("fridge");
  await again.press("Enter");
  await results.getByRole("link", { name: /fridge/ }).click();
  await expect(usman).toHaveURL(/\/r\/search\?at=\d+$/);
  await expect(message(usman, "wifi password")).toBeInViewport();
  await expect(message(usman, "wifi password")).toHaveClass(/highlighted/);

  // Moving on to another room (in the page, by the sidebar) leaves the
  // result's `?at=` behind: nothing there is sought or highlighted.
  const rooms = usman.getByRole("navigation", { name: "Joined rooms" });
  await rooms.getByRole("textbox", { name: "Open or create" }).fill("after-search");
  await rooms.getByRole("button", { name: "Go" }).click();
  await expect(usman).toHaveURL(/\/r\/after-search$/);
  await say(usman, "a fresh start");
  await expect(log(usman).locator(".highlighted")).toHaveCount(0);
  await expect(usman.getByText("That message is no longer in this room's history.")).toHaveCount(0);
});

test("a mention completes from the room's people and raises the other room's badge as a mention", async ({ browser }) => {
  const sana = await joinFromLobby(browser, "sana", "mentions");
  const usman = await joinFromLobby(browser, "usman", "mentions");
  // Names complete from the people the room has said are here.
  await expect(log(sana).getByText("usman joined")).toBeVisible();
  // Usman is looking at another room.
  await usman.goto("/");
  await usman.getByRole("textbox", { name: "Room" }).fill("elsewhere");
  await usman.getByRole("button", { name: "Join" }).click();
  await expect(usman).toHaveURL(/\/r\/elsewhere$/);

  const box = sana.getByRole("textbox", { name: "Message" });
  await box.pressSequentially("thanks @us");
  const suggestions = sana.getByRole("listbox", { name: "Mention suggestions" });
  await expect(suggestions.getByRole("option")).toHaveText(["@usman"]);
  await box.press("Tab");
  await expect(box).toHaveValue("thanks @usman ");
  await box.press("Enter");
  await say(sana, "and a plain one");
  await expect(usman.getByRole("link", { name: "#mentions, 2 unread, 1 mention" })).toBeVisible();
});

test("a room's owner deletes someone else's message and bans them", async ({ browser }) => {
  // Amal signs up and creates the room: she owns it. (Names are unique per
  // run: other specs sign up too.)
  const amal = await (await browser.newContext()).newPage();
  await amal.goto("/signup");
  await amal.getByRole("textbox", { name: "Username" }).fill("amal");
  await amal.getByLabel("Password", { exact: true }).fill("a long enough passphrase");
  await amal.getByRole("button", { name: "Sign up" }).click();
  await expect(amal).toHaveURL(/\/$/);
  await amal.getByRole("textbox", { name: "Room" }).fill("moderated");
  await amal.getByRole("button", { name: "Join" }).click();
  await expect(amal).toHaveURL(/\/r\/moderated$/);

  const yusuf = await joinFromLobby(browser, "yusuf", "moderated");
  await say(yusuf, "cheap watches here");
  await say(yusuf, "and more of them");
  // Guests see no moderator tools on others' messages.
  await say(amal, "welcome");
  await message(yusuf, "welcome").hover();
  await expect(message(yusuf, "welcome").getByRole("button", { name: "Delete" })).toHaveCount(0);

  amal.on("dialog", (dialog) => void dialog.accept());
  await message(amal, "cheap watches").hover();
  await message(amal, "cheap watches").getByRole("button", { name: "Delete" }).click();
  await expect(log(yusuf).getByText("This message was deleted.")).toBeVisible();
  await expect(log(yusuf).getByText("cheap watches")).toHaveCount(0);

  await message(amal, "and more of them").hover();
  await message(amal, "and more of them").getByRole("button", { name: "Ban" }).click();
  await expect(yusuf.getByRole("alert")).toContainText("A moderator banned you from #moderated.");
  await expect(log(amal).getByText("yusuf left")).toBeVisible();
  // The ban holds after a reload.
  await yusuf.reload();
  await expect(yusuf.getByRole("alert")).toContainText("banned you from #moderated");
  await expect(amal.getByRole("list", { name: "Online" })).not.toContainText("yusuf");
});
