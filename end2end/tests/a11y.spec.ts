import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { joinFromLobby, say } from "./people";

// axe-core's checks (WCAG 2.x A and AA: contrast, names, roles, landmarks)
// on the lobby and a room with messages, in both themes.

/** What axe-core finds on the page, one line per rule with the nodes it
 * fails on (empty when the page passes). */
async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return results.violations.map(
    (v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(" | ")}`,
  );
}

for (const colorScheme of ["light", "dark"] as const) {
  test(`the lobby and a room pass axe-core in the ${colorScheme} theme`, async ({ browser }) => {
    const sana = await joinFromLobby(browser, "sana", `axe-${colorScheme}`, { colorScheme });
    const usman = await joinFromLobby(browser, "usman", `axe-${colorScheme}`, { colorScheme });
    await say(usman, "Hello @sana, the **notes** are at https://example.com and `make test` runs them");
    await say(sana, "Thanks!");
    await expect(sana.getByText("Thanks!")).toBeVisible();
    expect(await violations(sana)).toEqual([]);
    await sana.goto("/");
    await expect(sana.getByRole("button", { name: "Join" })).toBeVisible();
    expect(await violations(sana)).toEqual([]);
  });
}
