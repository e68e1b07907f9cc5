import { isIPv4 } from "node:net";
import { isAbsolute } from "node:path";

// The forwarder's command line: `127.0.0.1:9099=/run/bot-bottle/egress.sock ...`.
// Listeners are restricted to loopback: the forwarder exists to give a
// network-less agent local ports, never to open a port anyone else can reach.

export interface Mapping {
  host: string;
  port: number;
  socketPath: string;
}

function isLoopback(host: string): boolean {
  return (isIPv4(host) && host.startsWith("127.")) || host === "::1";
}

function parseMapping(text: string): Mapping {
  const eq = text.indexOf("=");
  const listen = eq < 0 ? "" : text.slice(0, eq);
  const socketPath = eq < 0 ? "" : text.slice(eq + 1);
  const colon = listen.lastIndexOf(":");
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const portText = listen.slice(colon + 1);
  const port = /^[1-9][0-9]{0,4}$/.test(portText) ? Number(portText) : 0;
  if (eq < 0 || colon < 1 || port < 1 || port > 65535) {
    throw new Error(`mapping ${JSON.stringify(text)} is not LOOPBACK_IP:PORT=/absolute/socket/path`);
  }
  if (!isLoopback(host)) throw new Error(`mapping ${JSON.stringify(text)}: ${host} is not a loopback address`);
  if (!isAbsolute(socketPath)) throw new Error(`mapping ${JSON.stringify(text)}: socket path must be absolute`);
  return { host, port, socketPath };
}

/** Parses mapping arguments; throws an Error naming the first bad one. */
export function parseMappings(items: readonly string[]): Mapping[] {
  const mappings = items.map((item) => item.trim()).filter((item) => item !== "").map(parseMapping);
  if (mappings.length === 0) throw new Error("no mappings given");
  const seen = new Set<string>();
  for (const m of mappings) {
    const key = `${m.host}:${m.port}`;
    if (seen.has(key)) throw new Error(`${key} is mapped twice`);
    seen.add(key);
  }
  return mappings;
}
