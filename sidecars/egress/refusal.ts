import type http from "node:http";
import type { Duplex } from "node:stream";

// How egress says no: a status, a reason in the X-Bot-Bottle-Reason header and
// in a one-line body, so that a person reading curl's output and a program
// reading headers both learn why.

export const REASON_HEADER = "X-Bot-Bottle-Reason";
// A refused client gets this long to read the refusal and hang up.
const REFUSAL_LINGER_MS = 5_000;

/** Reasons go into a header: printable ASCII only, bounded. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
}

/** Answers on a raw socket (CONNECT, parse errors) and closes it once the client has had the answer. */
export function refuseSocket(socket: Duplex, status: string, reason: string): void {
  const text = headerSafe(reason);
  const body = `bot-bottle egress: ${text}\n`;
  endWith(
    socket,
    `HTTP/1.1 ${status}\r\n${REASON_HEADER}: ${text}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Sends `last` and closes the socket once the client has had it. */
export function endWith(socket: Duplex, last: string | Buffer): void {
  socket.end(last);
  // Drain whatever the client already sent (closing with unread data would
  // reset the connection and could lose the answer), then give up on it.
  socket.resume();
  const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  socket.once("close", () => clearTimeout(linger));
}

export function refuseResponse(res: http.ServerResponse, status: number, reason: string): void {
  const text = headerSafe(reason);
  res.writeHead(status, { [REASON_HEADER]: text, "Content-Type": "text/plain; charset=utf-8" });
  res.end(`bot-bottle egress: ${text}\n`);
}
