// A scripted OpenAI-compatible chat-completions server for the assistant's
// end-to-end tests (tests/assistant.spec.ts): it streams as compatible
// servers do (a role-only first chunk; with or without a usage block and
// [DONE]). What it answers depends on the question (the last message):
//   "... fail ..."  -> HTTP 500 every time (the failure is shown in the room)
//   "... slow ..."  -> 200 words, one every 100 ms (long enough to stop)
//   anything else   -> "Hello from the scripted model, NAME." word by word,
//                      then an empty finish_reason, a usage block and [DONE]
// Usage: node provider.mjs PORT
import http from "node:http";

const port = Number(process.argv[2] ?? 3990);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const chunk = (delta, finish = null) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

http
  .createServer((req, res) => {
    if (req.method === "GET") {
      res.end("ok");
      return;
    }
    let body = "";
    req.on("data", (part) => (body += part));
    req.on("end", async () => {
      const messages = JSON.parse(body).messages ?? [];
      const question = messages.at(-1)?.content ?? "";
      if (question.includes("fail")) {
        res.writeHead(500).end("scripted failure");
        return;
      }
      const asker = question.split(":")[0];
      const words = question.includes("slow")
        ? Array.from({ length: 200 }, (_, i) => `word${i} `)
        : ["Hello ", "from ", "the ", "scripted ", "model, ", `${asker}.`];
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk({ role: "assistant" }));
      for (const word of words) {
        await sleep(100);
        if (res.destroyed) return;
        res.write(chunk({ content: word }));
      }
      if (question.includes("slow")) {
        // Just the end of the stream, as some local servers do.
        res.end(chunk({}, "stop"));
        return;
      }
      // As OpenAI does: an empty finish_reason first, a usage block, [DONE].
      res.write(chunk({}, ""));
      res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 6 } })}\n\n`);
      res.end("data: [DONE]\n\n");
    });
  })
  .listen(port, "127.0.0.1");
