import { test, expect } from "@playwright/test";
import { bodies, expectJoined, joinOn, say, signUp } from "./people";

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

  // A third account finds nothing there.
  const third = await signUp(browser, "bartek");
  const answer = await third.goto(address);
  expect(answer?.status()).toBe(404);
  await expect(third.getByRole("heading", { name: "No such room" })).toBeVisible();
  await expect(third.getByText("lunch")).toHaveCount(0);
});
