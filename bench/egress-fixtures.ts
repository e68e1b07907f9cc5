// @peculiar/x509 resolves its services through tsyringe, which needs this polyfill loaded first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { writeFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import * as x509 from "@peculiar/x509";
import { execa } from "execa";

// Fake internet hosts for the egress integration tests and benchmark: a test
// PKI (a CA egress is told to trust, a server certificate for the fake hosts,
// and a client certificate that proves a TLS session was not intercepted),
// and one Node HTTPS+HTTP server run in a container with the fake names as
// network aliases.

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** The client certificate's common name, which the server reports when it sees it. */
export const CLIENT_CERT_CN = "bot-bottle test client";

export interface TestPki {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

async function keyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY") + "\n";
}

/** A CA, a server certificate for `serverNames` (names or IP literals), and a client certificate, all fresh. */
export async function createTestPki(serverNames: string[]): Promise<TestPki> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 2 * 24 * 3600_000) };
  const caKeys = await keyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    ...validity,
    name: "CN=bot-bottle fake internet CA",
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leaf = async (subject: string, usage: string, extra: x509.Extension[]) => {
    const keys = await keyPair();
    const cert = await x509.X509CertificateGenerator.create({
      ...validity,
      subject,
      issuer: ca.subject,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
        ...extra,
      ],
    });
    return { certPem: cert.toString("pem") + "\n", keyPem: await keyPem(keys) };
  };
  const server = await leaf(`CN=${serverNames[0]}`, x509.ExtendedKeyUsage.serverAuth, [
    new x509.SubjectAlternativeNameExtension(serverNames.map((value) => ({ type: isIP(value) ? ("ip" as const) : ("dns" as const), value }))),
  ]);
  const client = await leaf(`CN=${CLIENT_CERT_CN}`, x509.ExtendedKeyUsage.clientAuth, []);
  return {
    caPem: ca.toString("pem") + "\n",
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    clientCertPem: client.certPem,
    clientKeyPem: client.keyPem,
  };
}

/**
 * The fake host (CommonJS, run by the container's node). HTTPS on 443 and
 * plain HTTP on 80, one handler:
 *   /download?bytes=N  N bytes, as fast as the connection takes them
 *   /drip              1 KiB every 50 ms until /release, then "END\n"
 *   /release           ends every drip
 *   /hold              answers only at /release-holds; /holding counts them
 *   anything else      a JSON echo of what arrived, including how: the TLS
 *                      server name, the ALPN protocols the client offered and
 *                      the client certificate (which only the real client has)
 * Each request is logged as one JSON line with its x-marker header.
 */
export const UPSTREAM_SERVER = String.raw`
const fs = require("fs"), http = require("http"), https = require("https"), path = require("path");
const dir = __dirname;
const drips = new Set(), holds = new Set();
const offered = new WeakMap();
function handler(req, res) {
  const socket = req.socket;
  const url = new URL(req.url, "http://x");
  const cert = socket.getPeerCertificate ? socket.getPeerCertificate() : null;
  console.log(JSON.stringify({ marker: req.headers["x-marker"] || null, method: req.method, url: req.url, host: req.headers.host }));
  if (url.pathname === "/download") {
    let left = Number(url.searchParams.get("bytes"));
    const chunk = Buffer.alloc(65536, 120);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": left });
    const pump = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!res.write(part)) return res.once("drain", pump);
      }
      res.end();
    };
    return pump();
  }
  if (url.pathname === "/drip") {
    res.writeHead(200, { "content-type": "text/plain" });
    const timer = setInterval(() => res.write("x".repeat(1023) + "\n"), 50);
    const drip = { end: () => { clearInterval(timer); res.end("END\n"); } };
    drips.add(drip);
    res.on("close", () => { clearInterval(timer); drips.delete(drip); });
    return;
  }
  if (url.pathname === "/release") {
    const n = drips.size;
    for (const d of drips) d.end();
    drips.clear();
    return res.end(JSON.stringify({ released: n }));
  }
  if (url.pathname === "/hold") { holds.add(res); res.on("close", () => holds.delete(res)); return; }
  if (url.pathname === "/holding") return res.end(JSON.stringify({ holding: holds.size }));
  if (url.pathname === "/release-holds") {
    const n = holds.size;
    for (const h of holds) h.end("released");
    holds.clear();
    return res.end(JSON.stringify({ released: n }));
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString("latin1"),
      tls: Boolean(socket.encrypted),
      servername: socket.servername || null,
      alpnOffered: offered.get(socket) || null,
      clientCert: cert && cert.subject ? cert.subject.CN : null,
    }));
  });
}
const server = https.createServer({
  key: fs.readFileSync(path.join(dir, "server-key.pem")),
  cert: fs.readFileSync(path.join(dir, "server.pem")),
  ca: fs.readFileSync(path.join(dir, "ca.pem")),
  requestCert: true,
  rejectUnauthorized: false,
  // Called with the TLS socket as this: remember what the client offered.
  ALPNCallback: function ({ protocols }) {
    offered.set(this, protocols);
    return protocols.includes("http/1.1") ? "http/1.1" : undefined;
  },
}, handler);
server.listen(443, () => console.log("listening 443"));
http.createServer(handler).listen(80, () => console.log("listening 80"));
`;

/** Writes the server and its certificates into `dir`, which the container mounts at /srv. */
export function writeUpstreamFiles(dir: string, pki: TestPki): void {
  writeFileSync(path.join(dir, "server.js"), UPSTREAM_SERVER);
  writeFileSync(path.join(dir, "ca.pem"), pki.caPem);
  writeFileSync(path.join(dir, "server.pem"), pki.serverCertPem);
  writeFileSync(path.join(dir, "server-key.pem"), pki.serverKeyPem, { mode: 0o644 });
}

export interface UpstreamOptions {
  name: string;
  network: string;
  aliases: string[];
  /** The folder written by writeUpstreamFiles. */
  dir: string;
  image: string;
  /** A fixed address on `network` (which must have a user-chosen subnet). */
  ip?: string;
}

const READY_POLLS = 200;

/** Starts the fake host and waits until both its ports listen. */
export async function startUpstream(options: UpstreamOptions): Promise<void> {
  const aliases = options.aliases.flatMap((alias) => ["--network-alias", alias]);
  await execa("docker", [
    "run", "-d", "--name", options.name, "--network", options.network, ...(options.ip ? ["--ip", options.ip] : []), ...aliases,
    "-v", `${options.dir}:/srv:ro`, "--entrypoint", "node", options.image, "/srv/server.js",
  ]);
  for (let i = 0; i < READY_POLLS; i++) {
    const logs = await execa("docker", ["logs", options.name], { all: true, reject: false });
    if (/listening 443/.test(String(logs.all)) && /listening 80/.test(String(logs.all))) return;
    if (/Error/.test(String(logs.all))) throw new Error(`fake upstream ${options.name} failed:\n${logs.all}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`fake upstream ${options.name} did not start listening`);
}

/** The requests the fake host has logged so far. */
export async function upstreamRequests(name: string): Promise<{ marker: string | null; method: string; url: string; host: string }[]> {
  const logs = await execa("docker", ["logs", name]);
  return logs.stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { marker: string | null; method: string; url: string; host: string });
}
