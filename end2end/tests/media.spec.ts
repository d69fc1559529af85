import { test, expect, type Page } from "@playwright/test";
import { attach, files, joinFromLobby, joinOn, log, send } from "./people";
import { CuttableProxy } from "./proxy";

// Pictures, videos and files as people share them: the Attach button, a
// paste, a recorded video, a big file on a slow line, one over the limit.
// The server runs with a 3 MB limit per file (playwright.config.ts). Guests
// here are nadia, not sadia: accounts.spec.ts registers "sadia".

/** A real PNG: a screenshot of what `page` shows. */
async function picture(page: Page): Promise<Buffer> {
  return page.screenshot({ type: "png" });
}

test("nadia attaches a picture, usman sees its thumbnail and opens it", async ({ browser }) => {
  const nadia = await joinFromLobby(browser, "nadia", "pictures");
  const usman = await joinFromLobby(browser, "usman", "pictures");
  const shot = await picture(nadia);

  await attach(nadia, [{ name: "lobby.png", mimeType: "image/png", buffer: shot }]);
  // Before it goes: its name, its size, and a way to take it back.
  const picked = files(nadia).getByRole("listitem");
  await expect(picked).toHaveCount(1);
  await expect(picked).toContainText("lobby.png");
  await expect(picked).toContainText(/\d+(\.\d)? (KB|MB)/);
  await expect(nadia.getByRole("button", { name: /^(Remove|Cancel upload of) lobby\.png$/ })).toBeVisible();
  await nadia.getByRole("textbox", { name: "Message" }).fill("The lobby, as I see it");
  await send(nadia);

  // usman sees a thumbnail (lazy, sized, with the file name as its text).
  const thumb = log(usman).getByRole("img", { name: "lobby.png" });
  await expect(thumb).toBeVisible();
  await expect(thumb).toHaveAttribute("loading", "lazy");
  await expect(thumb).toHaveJSProperty("complete", true);
  expect(await thumb.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  expect(await thumb.evaluate((img: HTMLImageElement) => img.src)).toContain("/thumb");
  await expect(log(usman).getByText("The lobby, as I see it")).toBeVisible();

  // Open full size in the viewer; Escape closes it.
  await thumb.click();
  const viewer = usman.getByRole("dialog", { name: "Picture viewer" });
  await expect(viewer).toBeVisible();
  const full = viewer.getByRole("img", { name: "lobby.png" });
  await expect(full).toHaveJSProperty("complete", true);
  expect(await full.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(
    await nadia.evaluate(() => window.innerWidth * window.devicePixelRatio),
  );
  await usman.keyboard.press("Escape");
  await expect(viewer).toHaveCount(0);

  // A second picture: the arrows go from one to the other.
  await attach(nadia, [{ name: "second.png", mimeType: "image/png", buffer: await picture(usman) }]);
  await send(nadia);
  await log(usman).getByRole("img", { name: "lobby.png" }).click();
  await expect(viewer.getByRole("img", { name: "lobby.png" })).toBeVisible();
  await usman.keyboard.press("ArrowRight");
  await expect(viewer.getByRole("img", { name: "second.png" })).toBeVisible();
  await usman.keyboard.press("ArrowLeft");
  await expect(viewer.getByRole("img", { name: "lobby.png" })).toBeVisible();
  await viewer.getByRole("button", { name: "Close" }).click();
  await expect(viewer).toHaveCount(0);

  // Someone outside the room cannot fetch it, even with its address.
  const address = await thumb.evaluate((img: HTMLImageElement) => img.src.replace(/\?.*$/, ""));
  const stranger = await (await browser.newContext()).newPage();
  const response = await stranger.request.get(address);
  expect(response.status()).toBe(403);
});

test("a pasted picture is attached, and a file shows as a card to download", async ({ browser }) => {
  const nadia = await joinFromLobby(browser, "nadia", "pasting");
  const usman = await joinFromLobby(browser, "usman", "pasting");
  const shot = (await picture(nadia)).toString("base64");

  // The paste a browser makes when a picture is on the clipboard.
  await nadia.getByRole("textbox", { name: "Message" }).evaluate((box, data) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], "image.png", { type: "image/png" }));
    box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
  }, shot);
  await expect(files(nadia).getByRole("listitem")).toContainText("image.png");
  await send(nadia);
  await expect(log(usman).getByRole("img", { name: "image.png" })).toBeVisible();

  // Anything that is not a picture or a video is a card: name, size, type.
  const notes = Buffer.from("Agenda: <script>alert(1)</script>\n");
  await attach(nadia, [{ name: "notes.txt", mimeType: "text/plain", buffer: notes }]);
  await send(nadia);
  const card = log(usman).getByRole("link", { name: /notes\.txt/ });
  await expect(card).toContainText(`${notes.length} B`);
  await expect(card).toHaveAttribute("download", "notes.txt");
  const download = usman.waitForEvent("download");
  await card.click();
  expect((await download).suggestedFilename()).toBe("notes.txt");
});

test("a recorded video plays inline and seeks", async ({ browser }) => {
  const nadia = await joinFromLobby(browser, "nadia", "videos");
  const usman = await joinFromLobby(browser, "usman", "videos");

  // Two seconds of a canvas, recorded by the browser as WebM.
  const webm = await nadia.evaluate(async () => {
    const canvas = document.createElement("canvas");
    canvas.width = 160;
    canvas.height = 120;
    const pen = canvas.getContext("2d")!;
    const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: "video/webm" });
    const chunks: Blob[] = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((done) => (recorder.onstop = done));
    recorder.start(100);
    const started = performance.now();
    while (performance.now() - started < 2000) {
      pen.fillStyle = `hsl(${(performance.now() - started) / 5}, 80%, 50%)`;
      pen.fillRect(0, 0, 160, 120);
      await new Promise((r) => setTimeout(r, 40));
    }
    recorder.stop();
    await stopped;
    const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  });
  // Served in ranges, so the browser can seek.
  const statuses: number[] = [];
  usman.on("response", (r) => {
    if (r.url().includes("/media/")) statuses.push(r.status());
  });
  await attach(nadia, [{ name: "colours.webm", mimeType: "video/webm", buffer: Buffer.from(webm, "base64") }]);
  await send(nadia);

  const video = log(usman).locator("video");
  await expect(video).toHaveAttribute("aria-label", "colours.webm");
  await expect(video).toHaveAttribute("controls", "");
  await video.evaluate((v: HTMLVideoElement) => {
    v.muted = true;
    return v.play();
  });
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(0.2);
  await video.evaluate((v: HTMLVideoElement) => v.pause());
  await video.evaluate((v: HTMLVideoElement) => (v.currentTime = 0.1));
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.seeking)).toBe(false);
  expect(await video.evaluate((v: HTMLVideoElement) => v.error)).toBeNull();
  expect(statuses).toContain(206);
});

test("a big file shows its progress on a slow line; one over the limit says so", async ({ browser }) => {
  const nadia = await joinFromLobby(browser, "nadia", "uploads");
  const usman = await joinFromLobby(browser, "usman", "uploads");

  // About 1 MB at 2 Mbit/s up: several seconds of progress to watch.
  const line = await nadia.context().newCDPSession(nadia);
  await line.send("Network.enable");
  await line.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 20,
    downloadThroughput: 10_000_000,
    uploadThroughput: 250_000,
  });
  const big = Buffer.alloc(1_200_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  await attach(nadia, [{ name: "archive.bin", mimeType: "application/octet-stream", buffer: big }]);
  const bar = files(nadia).getByRole("progressbar", { name: "Uploading archive.bin" });
  await expect(bar).toBeVisible();
  await expect
    .poll(async () => Number(await bar.getAttribute("value")), { timeout: 20_000 })
    .toBeGreaterThan(0);
  const part = Number(await bar.getAttribute("value"));
  expect(part).toBeLessThan(100);
  await expect(nadia.getByRole("button", { name: "Cancel upload of archive.bin" })).toBeVisible();
  await nadia.getByRole("textbox", { name: "Message" }).fill("the archive");
  await nadia.getByRole("button", { name: "Send" }).click();
  await expect(nadia.getByText("Sending once the files are uploaded…")).toBeVisible();
  await expect(files(nadia)).toHaveCount(0, { timeout: 30_000 });
  await line.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
  const card = log(usman).getByRole("link", { name: /archive\.bin/ });
  await expect(card).toContainText("1.2 MB");

  // Over the 3 MB limit: refused before it is sent, and the reason is given.
  await attach(nadia, [
    { name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(3_500_000, 1) },
  ]);
  const refused = files(nadia).getByRole("listitem");
  await expect(refused.getByRole("alert")).toHaveText("huge.bin is larger than the 3.0 MB limit for one file.");
  await nadia.getByRole("button", { name: "Send" }).click();
  await expect(nadia.getByText("Remove the files that could not be uploaded, or try them again.")).toBeVisible();
  await nadia.getByRole("button", { name: "Remove huge.bin" }).click();
  await expect(files(nadia)).toHaveCount(0);
  await expect(log(usman).getByText(/huge\.bin/)).toHaveCount(0);
});

test("a picture sent while the connection is down waits, then goes out once", async ({ browser, baseURL }) => {
  const proxy = new CuttableProxy(Number(new URL(baseURL!).port));
  const viaProxy = await proxy.start();
  const sana = await joinFromLobby(browser, "sana", "offline-media");
  const usman = await (await browser.newContext({ baseURL: viaProxy })).newPage();
  await joinOn(usman, "usman", "offline-media");
  const shot = await picture(sana);

  proxy.cut();
  await expect(usman.getByText("Reconnecting…")).toBeVisible();
  await attach(usman, [{ name: "from-the-train.png", mimeType: "image/png", buffer: shot }]);
  await usman.getByRole("textbox", { name: "Message" }).fill("sent from the train");
  await usman.getByRole("button", { name: "Send" }).click();
  await expect(files(usman).getByText("Waiting for the connection…")).toBeVisible();
  await expect(usman.getByText("Sending once the files are uploaded…")).toBeVisible();

  proxy.restore();
  await expect(files(usman)).toHaveCount(0, { timeout: 30_000 });
  await expect(log(sana).getByRole("img", { name: "from-the-train.png" })).toBeVisible();
  await expect(log(sana).getByText("sent from the train")).toHaveCount(1);
  await expect(log(usman).getByRole("img", { name: "from-the-train.png" })).toHaveCount(1);
  await proxy.stop();
});
