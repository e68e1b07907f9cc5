import http from "node:http";
import { execa, type ResultPromise } from "execa";
import { cliPath } from "./cli.js";

// `bot-bottle ui` as tests run it: the built CLI on a free port, and plain
// HTTP requests with the headers a test chooses (a browser would not let it
// pick the Host or Origin).

export interface RunningUi {
  process: ResultPromise;
  /** The URL it printed, token included, ending in "/". */
  url: string;
  stop(): Promise<void>;
}

/** Starts `bot-bottle ui` on a free port; resolves once it has printed its URL (its first line). */
export async function startUi(env: Record<string, string>): Promise<RunningUi> {
  const child = execa(process.execPath, [cliPath, "ui", "--port", "0"], { env, reject: false, buffer: false });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^(http:\/\/127\.0\.0\.1:\d+\/[^/\s]+\/)\n/m.exec(out);
      if (line) resolve(line[1]!);
    });
    void child.then((result) => reject(new Error(`bot-bottle ui exited (${result.exitCode}) before printing its URL`)));
  });
  return {
    process: child,
    url,
    async stop() {
      child.kill("SIGTERM");
      await child;
    },
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to the dashboard with exactly the given headers (Host included). */
export function request(url: URL, options: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sent = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: options.method ?? "GET", headers: { host: url.host, ...options.headers } },
      (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    sent.on("error", reject);
    sent.end(options.body);
  });
}
