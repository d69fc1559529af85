import { expect, test } from "@playwright/test";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { bodies, joinOn, say } from "./people";

// The release archive (scripts/package, which scripts/test runs before this
// suite) unpacked into an empty folder and started from there, as README.md's
// "Deploy" does: no checkout, no build tools, a fresh database.

function newestArchive(): string {
  const dist = path.join(__dirname, "..", "..", "dist");
  const archives = fs
    .readdirSync(dist)
    .filter((file) => file.endsWith(".tar.gz"))
    .map((file) => path.join(dist, file))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (archives.length === 0) throw new Error("no release archive in dist/: run ./scripts/package");
  return archives[0];
}

test("the release archive, unpacked anywhere, serves a page, live messages and /health", async ({ browser }) => {
  const place = fs.mkdtempSync(path.join(os.tmpdir(), "chat-package-"));
  execFileSync("tar", ["-xzf", newestArchive(), "-C", place]);
  const [root] = fs.readdirSync(place);
  const unpacked = path.join(place, root);
  for (const file of ["bin/server", "site/pkg", "deploy/chat.service", "deploy/chat.env.example", "deploy/nginx.conf", "deploy/Caddyfile"]) {
    expect(fs.existsSync(path.join(unpacked, file)), file).toBe(true);
  }
  const data = path.join(place, "data");
  fs.mkdirSync(data);
  // Configured as the systemd unit configures it: by environment only.
  const server = spawn(path.join(unpacked, "bin", "server"), [], {
    cwd: data,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      CHAT_ADDR: "127.0.0.1:0",
      LEPTOS_SITE_ROOT: path.join(unpacked, "site"),
      DATABASE_URL: `sqlite://${path.join(data, "chat.db")}`,
      CHAT_MEDIA_STORE: path.join(data, "media"),
      CHAT_INSECURE_COOKIES: "true",
      CHAT_LOG_FORMAT: "json",
      RUST_LOG: "info",
    },
  });
  const logLines: string[] = [];
  readline.createInterface({ input: server.stderr }).on("line", (line) => logLines.push(line));
  try {
    const base = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: server.stdout }).once("line", (line) => {
        const match = line.match(/^Chat server listening on (http:\/\/\S+)$/);
        if (match) resolve(match[1]);
        else reject(new Error(`unexpected start line: ${line}`));
      });
      server.once("exit", (code) => reject(new Error(`the server exited (${code}): ${logLines.join("\n")}`)));
    });

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);

    const page = await (await browser.newContext()).newPage();
    const bundle = page.waitForResponse((r) => r.url().includes("/pkg/") && r.url().endsWith(".wasm"));
    await joinOn(page, "kagiso", "unpacked", base);
    expect((await bundle).status()).toBe(200);
    await say(page, "sent from the unpacked archive");
    await expect(bodies(page)).toHaveText(["sent from the unpacked archive"]);
    // Someone else arriving later reads it from the new database.
    const later = await (await browser.newContext()).newPage();
    await joinOn(later, "lindiwe", "unpacked", base);
    await expect(bodies(later)).toHaveText(["sent from the unpacked archive"]);

    // Log lines are JSON objects, for a log shipper.
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(fs.existsSync(path.join(data, "chat.db"))).toBe(true);
  } finally {
    server.kill("SIGTERM");
  }
});
