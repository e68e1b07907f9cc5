import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { anthropicMessages, openaiResponses, type Step, startFakeModel } from "../e2e/fake-model.js";

// The entry of a fake model API container (bundled by fake-model-container.ts):
// the scripted fake of test/e2e/fake-model.ts behind TLS on port 443, with a
// certificate from the test CA, so that an agent reaches it only through
// egress (which must trust that CA). The script is a list of tool calls made
// in turn; once they are done it answers FAKE_ANSWER, or else the tool results
// as text. Each turn's tool results, and the Authorization header of every
// request, are printed as JSON lines for the test to read.
//
//   FAKE_DIALECT  anthropic | openai
//   FAKE_STEPS    JSON: [{tool, input}, ...]
//   FAKE_ANSWER   the final answer (optional)
//   /fake/cert.pem, /fake/key.pem

const dialect = process.env.FAKE_DIALECT === "openai" ? openaiResponses : anthropicMessages;
const steps = JSON.parse(process.env.FAKE_STEPS ?? "[]") as Step[];

const fake = await startFakeModel(dialect, (results) => {
  process.stdout.write(`${JSON.stringify({ toolResults: results })}\n`);
  return steps[results.length] ?? { text: process.env.FAKE_ANSWER || `tool results: ${results.join(" || ")}` };
});
const port = Number(new URL(fake.url).port);
const server = tls.createServer({ cert: readFileSync("/fake/cert.pem"), key: readFileSync("/fake/key.pem") }, (socket) => {
  const upstream = net.connect(port, "127.0.0.1");
  // What the client sent to authenticate, as the fake saw it (egress injects it).
  socket.on("data", (chunk: Buffer) => {
    for (const match of chunk.toString("latin1").matchAll(/^(authorization|x-api-key): *(.*?)\r$/gim)) {
      process.stdout.write(`${JSON.stringify({ credential: `${match[1]!.toLowerCase()}: ${match[2]}` })}\n`);
    }
  });
  socket.pipe(upstream).pipe(socket);
  socket.on("error", () => upstream.destroy());
  upstream.on("error", () => socket.destroy());
});
server.listen(443, () => process.stdout.write("fake model listening\n"));
