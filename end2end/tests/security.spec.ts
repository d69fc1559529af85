import { expect, test, type Page } from "@playwright/test";
import { bodies, expectJoined, joinFromLobby, log, say } from "./people";

// The pages run under a strict Content-Security-Policy (scripts only with the
// response's nonce): hydration, the socket, history, emoji and formatting
// must all work without a single violation.

/** Collects every CSP violation the page reports, from the DOM event and the console. */
async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to (execute|load|apply|connect)/i.test(message.text())) {
      violations.push(message.text());
    }
  });
  await page.exposeFunction("reportViolation", (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      // @ts-expect-error exposed by the test
      window.reportViolation(`${event.violatedDirective}: ${event.blockedURI}`);
    });
  });
  return violations;
}

test("no page breaks its Content-Security-Policy", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const violations = await watchViolations(page);

  const lobby = await page.goto("/");
  const policy = lobby?.headers()["content-security-policy"] ?? "";
  expect(policy).toContain("'nonce-");
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).not.toContain("unsafe-inline");

  await page.getByRole("textbox", { name: "Nickname" }).fill("warden");
  await page.getByRole("textbox", { name: "Room" }).fill("policed");
  await page.getByRole("button", { name: "Join" }).click();
  await expectJoined(page);
  await say(page, "**bold** and `code` and https://example.com");
  await expect(bodies(page)).toHaveCount(1);
  await page.getByRole("textbox", { name: "Message" }).fill(":smile");
  await expect(page.getByRole("listbox", { name: "Emoji suggestions" })).toBeVisible();

  // A reload renders the room on the server with its history, then hydrates.
  await page.reload();
  await expectJoined(page);
  await expect(log(page)).toContainText("bold");

  // Someone else's messages arrive live under the same policy.
  const other = await joinFromLobby(browser, "visitor", "policed");
  await say(other, "hello warden");
  await expect(bodies(page)).toHaveCount(2);

  // The search results page, and back into the room at a result.
  const searchbox = page.getByRole("searchbox", { name: "Search messages" });
  await searchbox.fill("warden");
  await searchbox.press("Enter");
  const results = page.getByRole("region", { name: "Search results" });
  await results.getByRole("link", { name: /hello warden/ }).click();
  await expectJoined(page);

  expect(violations).toEqual([]);
});
