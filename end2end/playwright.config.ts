import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";

// The real server binary (built by `cargo leptos build --release`) on its own
// port, with a fresh SQLite file for every run. A replay limit of 5 lets a
// test miss "too much" with a handful of messages; a roomy rate limit lets a
// test seed a long history quickly (flooding is covered by server tests).
const port = Number(process.env.E2E_PORT ?? 3917);
const db = path.join(os.tmpdir(), `chat-e2e-${process.pid}-${Date.now()}.db`);
// One media directory for all three servers, as one would share it (or S3);
// a 3 MB limit per file lets a test go over it without a huge upload.
const media = path.join(os.tmpdir(), `chat-e2e-media-${process.pid}-${Date.now()}`);

// Every browser here comes from 127.0.0.1, so the per-address budgets are
// lifted; the server's integration tests check them at their defaults.
// The assistant talks to a scripted OpenAI-compatible server (provider.mjs).
const providerPort = port + 73;
const flags = `--ai-base-url http://127.0.0.1:${providerPort}/v1 --ai-api-key scripted --ai-model scripted --ai-cooldown-ms 1 --site-root ../target/site --max-replay 5 --rate-burst 1000 --rate-per-sec 1000 --address-rate-burst 10000 --address-rate-per-sec 10000 --join-burst 1000 --address-join-burst 1000 --max-connections-per-address 1000 --insecure-cookies --login-address-burst 1000 --search-burst 1000 --key-calls-burst 10000 --media-store ${media} --media-max-bytes 3000000`;

const server = (port: number, options: string) => ({
  command: `../target/release/server --addr 127.0.0.1:${port} ${options} ${flags}`,
  url: `http://127.0.0.1:${port}/health`,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: "pipe" as const,
  stderr: "pipe" as const,
});

// Two more servers on one PostgreSQL database with Redis between them
// (tests/cluster.spec.ts), from scripts/services: run this suite through
// ./scripts/test, or `source scripts/services` first.
const postgres = process.env.CHAT_E2E_POSTGRES;
const redis = process.env.CHAT_TEST_REDIS;
if (!postgres || !redis) {
  throw new Error(
    "CHAT_E2E_POSTGRES and CHAT_TEST_REDIS are not set: run ./scripts/test, or `source ../scripts/services` before npx playwright test",
  );
}
const cluster = [port + 1, port + 2].map((p) =>
  server(p, `--database-url ${postgres} --bus ${redis}`),
);

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: true,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: [
    {
      command: `node provider.mjs ${providerPort}`,
      url: `http://127.0.0.1:${providerPort}/`,
      reuseExistingServer: false,
      timeout: 10_000,
    },
    server(port, `--database-url sqlite://${db}`),
    ...cluster,
  ],
});
