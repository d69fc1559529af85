import { test, expect } from "@playwright/test";
import { PASSWORD, bodies, expectJoined, fillCredentials, joinOn, logIn, log, safetyNumber, say, signUp } from "./people";

// Accounts as people use them: sign up, talk, log in elsewhere, log out; and
// the guests around them.

test("sadia signs up, talks, and is the same person in a second browser", async ({ browser }) => {
  const laptop = await signUp(browser, "sadia");
  await joinOn(laptop, null, "accounts");
  await say(laptop, "Hello from my laptop");
  const mine = log(laptop).locator(".message").last();
  await expect(mine.locator(".author")).toHaveText("sadia");
  await expect(mine.locator(".guest")).toHaveCount(0);

  // A guest is marked as one, in the log and in the online list.
  const guestPage = await (await browser.newContext()).newPage();
  await guestPage.goto("/");
  await guestPage.getByRole("textbox", { name: "Nickname" }).fill("usman");
  await guestPage.getByRole("textbox", { name: "Room" }).fill("accounts");
  await guestPage.getByRole("button", { name: "Join" }).click();
  await expectJoined(guestPage);
  await say(guestPage, "Hi, I am just visiting");
  await expect(log(laptop).locator(".message").last().locator(".guest")).toHaveText("guest");
  const online = laptop.getByRole("list", { name: "Online" });
  // (The assistant is there too, where it answers: playwright.config.ts.)
  await expect(online.getByRole("listitem")).toHaveText(["assistant bot", "sadia", "usman guest"]);

  // Logged in from another browser, she is the same person: one place in
  // the online list, her history, her name, no question asked.
  const phone = await (await browser.newContext()).newPage();
  await logIn(phone, "sadia", PASSWORD);
  await expect(phone).toHaveURL(/\/$/);
  await joinOn(phone, null, "accounts");
  await expect(bodies(phone)).toContainText(["Hello from my laptop"]);
  await expect(phone.getByRole("list", { name: "Online" }).getByRole("listitem")).toHaveText([
    "assistant bot",
    "sadia",
    "usman guest",
  ]);
  await say(phone, "and from my phone");
  await expect(bodies(laptop).last()).toHaveText("and from my phone");
  await expect(log(laptop).getByText("sadia joined")).toHaveCount(1);

  // A reload is still her.
  await phone.reload();
  await expectJoined(phone);
  await expect(phone.getByRole("navigation").getByText("Signed in as sadia")).toBeVisible();
});

test("a guest cannot take a registered name and is told why", async ({ browser }) => {
  await signUp(browser, "amara");
  const page = await (await browser.newContext()).newPage();
  await page.goto("/");
  await page.getByRole("textbox", { name: "Nickname" }).fill("Amara");
  await page.getByRole("textbox", { name: "Room" }).fill("reserved");
  await page.getByRole("button", { name: "Join" }).click();
  await expect(page.getByText("Amara is a registered name: log in to use it, or pick another nickname")).toBeVisible();
  await page.getByRole("textbox", { name: "Nickname" }).fill("amara2");
  await page.getByRole("button", { name: "Join" }).click();
  await expectJoined(page);
});

test("a wrong password is refused, and logging out makes a guest again", async ({ browser }) => {
  const page = await signUp(browser, "kemal");
  const other = await (await browser.newContext()).newPage();
  await logIn(other, "kemal", "not my password at all");
  await expect(other.getByRole("alert")).toHaveText("Wrong username or password.");
  await logIn(other, "nobody-here", "not my password at all");
  await expect(other.getByRole("alert")).toHaveText("Wrong username or password.");

  await page.getByRole("main").getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("main").getByRole("link", { name: "Log in" })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Nickname" })).toBeVisible();
  await expect(page.getByRole("main").getByText("Signed in as")).toBeHidden();
});

test("signing up, logging in and out work with JavaScript disabled", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/signup");
  await fillCredentials(page, "quiet-reader", "short");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("alert")).toHaveText("The password is too short: use at least 8 characters.");
  await expect(page.getByRole("textbox", { name: "Username" })).toHaveValue("quiet-reader");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("main").getByText("Signed in as quiet-reader")).toBeVisible();

  await page.getByRole("main").getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("main").getByRole("link", { name: "Log in" })).toBeVisible();

  await logIn(page, "quiet-reader", PASSWORD);
  await expect(page.getByRole("main").getByText("Signed in as quiet-reader")).toBeVisible();
  await page.goto("/account");
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password").fill("an even longer passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status")).toHaveText(
    "Your password is changed; every other session was logged out.",
  );
});

test("a page whose session ends elsewhere turns into a guest's page at once", async ({ browser }) => {
  const laptop = await signUp(browser, "farida");
  await joinOn(laptop, null, "sessions");
  await laptop.evaluate(() => ((window as unknown as { loaded: string }).loaded = "before"));
  const sidebar = laptop.getByRole("navigation", { name: "Joined rooms" });
  await expect(sidebar.getByText("Signed in as farida")).toBeVisible();

  const phone = await (await browser.newContext()).newPage();
  await logIn(phone, "farida", PASSWORD);
  await expect(phone.getByRole("main").getByText("Signed in as farida")).toBeVisible();
  await phone.goto("/account");
  await phone.getByLabel("Current password").fill(PASSWORD);
  await phone.getByLabel("New password").fill("another long passphrase");
  await phone.getByRole("button", { name: "Change password" }).click();
  await expect(phone.getByRole("status")).toHaveText("Your password is changed; every other session was logged out.");

  // The server closes the laptop's socket as signed out, and the page loads
  // again as whoever the browser is now: a guest.
  await expect(sidebar.getByRole("link", { name: "Log in" })).toBeVisible();
  await expect(sidebar.getByText("Signed in as farida")).toHaveCount(0);
  expect(await laptop.evaluate(() => (window as unknown as { loaded?: string }).loaded)).toBeUndefined();
});

test("a guest opening a room closed to guests is told why, in the app and on reload", async ({ browser }) => {
  const owner = await signUp(browser, "noor");
  await joinOn(owner, null, "members-only");
  await owner.goto("/account");
  await owner.getByRole("button", { name: "Make #members-only accounts only" }).click();
  await expect(owner.getByText("(accounts only)")).toBeVisible();

  // From the lobby's list, within the app: the page asks the server for the
  // room's history, which refuses a guest and says why.
  const guest = await (await browser.newContext()).newPage();
  await guest.goto("/?q=members-only");
  await guest.getByRole("link", { name: "#members-only" }).click();
  await expect(guest).toHaveURL(/\/r\/members-only$/);
  const refused = guest.getByRole("main");
  await expect(refused.getByRole("heading", { name: "You cannot open this room" })).toBeVisible();
  await expect(refused).toContainText("#members-only is for signed-in people only");

  // The same page loaded afresh says the same (and answers 403).
  const answer = await guest.reload();
  expect(answer?.status()).toBe(403);
  await expect(refused.getByRole("heading", { name: "You cannot open this room" })).toBeVisible();
  await expect(refused).toContainText("#members-only is for signed-in people only");
});

test("a private room is read by the people its owner invites, and by nobody else", async ({ browser }) => {
  const owner = await signUp(browser, "priya");
  const sidebar = owner.getByRole("navigation", { name: "Joined rooms" });
  await sidebar.getByRole("button", { name: "New private room" }).click();
  await sidebar.getByRole("textbox", { name: "Room name" }).fill("plans");
  await sidebar.getByRole("button", { name: "Create" }).click();
  // The address ends in random letters: nobody finds the room by guessing.
  await expect(owner).toHaveURL(/\/r\/~plans-[a-z0-9]{10}$/);
  const address = new URL(owner.url()).pathname;
  await expect(owner.getByText("Private room", { exact: true })).toBeVisible();
  await expect(owner.getByText("End-to-end encrypted", { exact: true })).toBeVisible();
  await expectJoined(owner);
  await say(owner, "the launch is on tuesday");

  // Invited from the room itself: the Members list follows, and the room
  // shows in the member's sidebar at once, wherever they are.
  const member = await signUp(browser, "tomas");
  await joinOn(member, null, "lounge-tomas");
  await owner.getByRole("button", { name: "Invite" }).click();
  await owner.getByRole("textbox", { name: "Invite username" }).fill("tomas");
  await owner.getByRole("button", { name: "Send invite" }).click();
  await expect(owner).toHaveURL(new RegExp(`${address}$`));
  const members = owner.getByRole("list", { name: "Members" });
  await expect(members.getByRole("listitem")).toHaveCount(2);
  await expect(members).toContainText("tomas");
  const joined = member.getByRole("navigation", { name: "Joined rooms" });
  await joined.getByRole("link", { name: /^#~plans/ }).click();
  await expect(member).toHaveURL(new RegExp(`${address}$`));
  await expectJoined(member);
  // What was said before he was let in was sealed for the devices in the
  // room then: not his.
  await expect(bodies(member)).toHaveText(["Waiting for the key from another device"]);
  await say(owner, "welcome, tomas");
  await expect(bodies(member)).toHaveText(["Waiting for the key from another device", "welcome, tomas"]);
  await say(member, "count me in");
  await expect(bodies(owner)).toHaveText(["the launch is on tuesday", "welcome, tomas", "count me in"]);
  // Only the owner lets people in and out.
  await expect(member.getByRole("button", { name: "Invite" })).toHaveCount(0);
  // Each can check the other's devices: the same digits on both sides,
  // and none beside one's own name.
  const number = await safetyNumber(owner, "Safety number with tomas");
  expect(await safetyNumber(member, "Safety number with priya")).toBe(number);
  await expect(owner.getByRole("button", { name: "Safety number with priya" })).toHaveCount(0);

  // Anyone else finds nothing there, the same as at a name nobody took.
  const outsider = await signUp(browser, "ingrid");
  for (const path of [address, "/r/~nothing"]) {
    const answer = await outsider.goto(path);
    expect(answer?.status()).toBe(404);
    await expect(outsider.getByRole("heading", { name: "No such room" })).toBeVisible();
    await expect(outsider.getByText("tuesday")).toHaveCount(0);
  }

  // Taken out, the member is told at once and reads nothing said after.
  await owner.getByRole("button", { name: "Remove tomas" }).click();
  await expect(owner.getByRole("list", { name: "Members" }).getByRole("listitem")).toHaveCount(1);
  await expect(member.getByText("No such room.")).toBeVisible();
  await say(owner, "just us now");
  await member.reload();
  await expect(member.getByRole("heading", { name: "No such room" })).toBeVisible();
  await expect(member.getByText("just us now")).toHaveCount(0);
});
