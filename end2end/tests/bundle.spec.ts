import { expect, test } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { expectJoined } from "./people";

// The bundle is everyone's download: the browser must get the brotli file
// written at build time (quality 11), not one compressed on the fly (quality
// 4, about a quarter larger), and the page must still come alive from it.
test("the browser downloads the bundle as its precompressed brotli file", async ({ page }) => {
  const bundle = page.waitForResponse((response) => /\/pkg\/chat\.[^/]*\.wasm$/.test(response.url()));
  await page.goto("/");
  const response = await bundle;
  expect(response.status()).toBe(200);
  const headers = await response.allHeaders();
  expect(headers["content-encoding"]).toBe("br");
  expect(headers["vary"]).toBe("accept-encoding");

  const name = path.basename(new URL(response.url()).pathname);
  const built = fs.statSync(path.join("..", "target", "site", "pkg", `${name}.br`)).size;
  expect(Number(headers["content-length"])).toBe(built);

  // Alive from that download: the room's socket confirms the join.
  await page.getByRole("textbox", { name: "Nickname" }).fill("bundler");
  await page.getByRole("textbox", { name: "Room" }).fill("downloads");
  await page.getByRole("button", { name: "Join" }).click();
  await expectJoined(page);
});
