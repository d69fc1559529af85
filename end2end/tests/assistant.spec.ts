import { test, expect, type Page } from "@playwright/test";
import { bodies, expectJoined, joinFromLobby, log, say, signUp } from "./people";

// The assistant, answering from a scripted OpenAI-compatible server
// (provider.mjs): the answer grows for everyone, then stays in the log.

/** The answer being written, below the log. */
function writing(page: Page) {
  return page.getByRole("status", { name: "Answer being written" });
}

test("both people watch the assistant's answer grow, and keep it after a reload", async ({ browser }) => {
  const lerato = await joinFromLobby(browser, "lerato", "ask-anything");
  const mehmet = await joinFromLobby(browser, "mehmet", "ask-anything");
  // Where it answers, it is among who is online, marked as a bot.
  const listed = mehmet.getByRole("list", { name: "Online" }).getByRole("listitem").filter({ hasText: "assistant" });
  await expect(listed).toContainText("bot");
  await say(lerato, "@assistant hello there");
  // Words arrive before the answer is stored, on both screens.
  for (const page of [lerato, mehmet]) {
    await expect(writing(page)).toContainText(/Hello from/);
  }
  const answer = "Hello from the scripted model, lerato.";
  for (const page of [lerato, mehmet]) {
    await expect(bodies(page).last()).toHaveText(answer);
    await expect(writing(page)).toHaveCount(0);
  }
  // A reply to the question, marked as a bot's.
  const line = log(mehmet).locator(".message").last();
  await expect(line).toContainText("@assistant hello there");
  await expect(line.locator(".bot")).toHaveText("bot");
  await mehmet.reload();
  await expect(bodies(mehmet).last()).toHaveText(answer);
});

test("the asker stops an answer mid-way, and what was written stays", async ({ browser }) => {
  const asker = await joinFromLobby(browser, "thandi", "ask-slowly");
  const other = await joinFromLobby(browser, "piotr", "ask-slowly");
  await say(asker, "@assistant slow count");
  await expect(writing(other)).toContainText("word3");
  // Only its asker (or a moderator) may stop it.
  await expect(other.getByRole("button", { name: "Stop generating" })).toHaveCount(0);
  await asker.getByRole("button", { name: "Stop generating" }).click();
  for (const page of [asker, other]) {
    await expect(bodies(page).last()).toHaveText(/^word0 word1 word2 word3 .* \(stopped\)$/);
  }
});

test("a failure is said in the room, and the room goes on", async ({ browser }) => {
  const page = await joinFromLobby(browser, "ines", "ask-badly");
  await say(page, "@assistant please fail");
  await expect(bodies(page).last()).toHaveText(
    "assistant couldn't answer: the provider failed (HTTP 500); try again later",
  );
  await say(page, "oh well");
  await expect(bodies(page).last()).toHaveText("oh well");
});

test("in an encrypted conversation, mentioning the assistant says it is not asked", async ({ browser }) => {
  const nomvula = await signUp(browser, "nomvula");
  await signUp(browser, "arjun");
  await nomvula.goto("/dm/arjun");
  await expectJoined(nomvula);
  await expect(nomvula.getByRole("list", { name: "Online" })).not.toContainText("assistant");
  await nomvula.getByRole("textbox", { name: "Message" }).fill("@assistant are you here?");
  await expect(nomvula.getByText("assistant cannot read end-to-end encrypted conversations")).toBeVisible();
});
