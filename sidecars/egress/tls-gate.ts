import type net from "node:net";
import type { Duplex } from "node:stream";
import { joinSockets } from "../join-sockets.js";
import { HANDSHAKE, isHelloRetryRequest, judgeClientHello, MAX_HELLO_BYTES, parseClientHello, readHandshakeMessage, RECORD } from "./client-hello.js";
import { endWith, refuseSocket } from "./refusal.js";
import type { Authority } from "./target.js";

// The gate in front of every tunnel egress does not decrypt. Only TLS may
// pass, and only a TLS connection to the host the CONNECT named: the
// client's hello is read (never answered: TLS stays end to end) and judged
// before a byte reaches the upstream. The upstream's first answer is read as
// well: after a HelloRetryRequest the client sends a second plaintext hello,
// which is judged the same way. Then the tunnel becomes a plain byte copy.
//
// Bytes from the upstream are relayed at once; bytes from the client wait
// until the hello they belong to has been judged.

const GATE_TIMEOUT_MS = 15_000;
/** Plain HTTP in a tunnel, recognised to answer it in HTTP (a method token and a space). */
const HTTP_REQUEST_LINE = /^[A-Z]{3,10} /;
/** Fatal TLS alerts (RFC 8446 section 6): what a refused client is told before the connection closes. */
const ALERT = { handshakeFailure: 40, unrecognizedName: 112 } as const;

const alert = (description: number) => Buffer.from([RECORD.alert, 3, 3, 0, 2, 2, description]);

export interface GateHandlers {
  /** Called once when the tunnel is refused, with the reason (for the decision log). */
  refused(reason: string): void;
  /** Called once when the hello passed and the tunnel is a plain copy, with what crossed it during the hello. */
  opened(crossed: { sent: number; received: number }): void;
}

/**
 * Runs the gate on an established tunnel: `client` has been told 200 and
 * `head` holds what it sent along with its CONNECT; `upstream` is connected.
 */
export function gateTlsTunnel(client: Duplex, upstream: net.Socket, head: Buffer, target: Authority, handlers: GateHandlers): void {
  let fromClient = head;
  let fromServer = Buffer.alloc(0);
  /** Bytes relayed from the upstream to the client during the hello. */
  let relayed = 0;
  /** Client bytes up to here have been judged and sent upstream. */
  let sent = 0;
  let phase: "first-hello" | "server-hello" | "second-hello" = "first-hello";
  let finished = false;

  const finish = (): void => {
    finished = true;
    clearTimeout(timer);
    client.off("data", onClientData);
    upstream.off("data", onServerData);
    for (const socket of [client, upstream]) {
      socket.off("end", abandon);
      socket.off("close", abandon);
    }
  };
  const refuse = (reason: string, description: number = ALERT.handshakeFailure): void => {
    if (finished) return;
    finish();
    handlers.refused(reason);
    upstream.destroy();
    if (sent === 0 && HTTP_REQUEST_LINE.test(fromClient.subarray(0, 11).toString("latin1"))) {
      refuseSocket(client, "403 Forbidden", "only TLS passes through a CONNECT tunnel; send plain http:// requests in absolute form, without CONNECT");
      return;
    }
    endWith(client, alert(description));
  };
  /** The client or the upstream went away before the gate opened: nothing to refuse, nothing to log. */
  const abandon = (): void => {
    if (finished) return;
    finish();
    client.destroy();
    upstream.destroy();
  };
  const open = (): void => {
    finish();
    client.pause();
    upstream.pause();
    if (fromClient.length > sent) upstream.write(fromClient.subarray(sent));
    joinSockets(client, upstream);
    handlers.opened({ sent: fromClient.length, received: relayed });
  };

  /** Judges the hello starting at `sent`; true once one has been let through. */
  const judgeHello = (skip: readonly number[]): boolean => {
    const read = readHandshakeMessage(fromClient.subarray(sent), skip);
    if (read.status === "incomplete") return false;
    if (read.status !== "message" || read.type !== HANDSHAKE.clientHello) {
      refuse(read.status === "invalid" ? `not a TLS hello: ${read.reason}` : "not a TLS hello");
      return false;
    }
    const facts = parseClientHello(read.body);
    const problem = "invalid" in facts ? facts.invalid : judgeClientHello(facts, target);
    if (problem) {
      refuse(problem, "invalid" in facts ? ALERT.handshakeFailure : ALERT.unrecognizedName);
      return false;
    }
    upstream.write(fromClient.subarray(sent, sent + read.end));
    sent += read.end;
    return true;
  };

  const advance = (): void => {
    if (finished) return;
    if (phase === "first-hello") {
      if (fromClient.length > 0 && fromClient[0] !== RECORD.handshake) {
        refuse("only TLS passes through a CONNECT tunnel");
        return;
      }
      if (judgeHello([])) phase = "server-hello";
    } else if (phase === "second-hello") {
      // Before the second hello: the compatibility ChangeCipherSpec, and early data the server will skip.
      if (judgeHello([RECORD.changeCipherSpec, RECORD.applicationData])) open();
    } else if (fromClient.length - sent > MAX_HELLO_BYTES) {
      refuse("the client sent too much before the server answered its hello");
    }
  };

  const onClientData = (chunk: Buffer): void => {
    fromClient = Buffer.concat([fromClient, chunk]);
    advance();
  };
  const onServerData = (chunk: Buffer): void => {
    if (phase === "first-hello") {
      // A server that speaks first (SSH, SMTP) is not a TLS server answering a client.
      refuse("the upstream spoke before the client's hello");
      return;
    }
    client.write(chunk);
    relayed += chunk.length;
    if (phase === "second-hello") return;
    fromServer = Buffer.concat([fromServer, chunk]);
    const read = readHandshakeMessage(fromServer);
    if (read.status === "incomplete") return;
    if (read.status === "invalid" || (read.status === "message" && read.type !== HANDSHAKE.serverHello)) {
      refuse("the upstream did not answer with a TLS ServerHello");
      return;
    }
    if (read.status === "message" && isHelloRetryRequest(read.body)) {
      phase = "second-hello";
      advance();
    } else {
      // A ServerHello, or an alert: the client's hello was the last one in plaintext.
      open();
    }
  };

  const timer = setTimeout(() => refuse("no complete TLS hello in time"), GATE_TIMEOUT_MS);
  client.on("data", onClientData);
  upstream.on("data", onServerData);
  client.once("end", abandon);
  upstream.once("end", abandon);
  client.once("close", abandon);
  upstream.once("close", abandon);
  advance();
}
