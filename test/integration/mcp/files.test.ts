import { createHash, randomBytes } from "node:crypto";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FilePart, FolderListing } from "../../../sidecars/guest-files/spec.js";
import { BottleRecord } from "../../../src/engine/records.js";
import { describeWithDocker } from "../../support/docker.js";
import { connectStdio, useMcpTestHome } from "../../support/mcp-server.js";

// read_file / write_file / list_files through the built server and a real
// bottle: binary-safe, large files in parts, as the agent user, with errors
// that name the path.

const call = (client: Client, name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
const ok = async (client: Client, name: string, args: Record<string, unknown>) => {
  const result = await call(client, name, args);
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as Record<string, unknown>;
};
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describeWithDocker("files in a bottle (real bottle, real server)", () => {
  const home = useMcpTestHome();
  let client: Client;
  let bottle: BottleRecord;
  const inBottle = (command: string) => execa("docker", ["exec", bottle.resources.agent, "sh", "-c", command]);

  beforeAll(async () => {
    client = (await connectStdio(home.env)).client;
    bottle = BottleRecord.parse(await ok(client, "start_bottle", { agent: "worker" }));
  });

  afterAll(async () => {
    if (bottle) await call(client, "stop_bottle", { bottle_id: bottle.id }).catch(() => undefined);
    await client?.close();
  });

  it("round-trips a binary file through base64, written as the agent user", async () => {
    const bytes = Buffer.concat([randomBytes(100_000), Buffer.from([0xff, 0xfe, 0x00, 0xc3])]);
    const written = await ok(client, "write_file", { bottle_id: bottle.id, path: "blob.bin", content: bytes.toString("base64"), encoding: "base64", mode: "0600" });
    expect(written).toMatchObject({ path: "/home/node/workspace/blob.bin", size: bytes.length, written: bytes.length });
    expect((await inBottle("stat -c '%U %a' /home/node/workspace/blob.bin; sha256sum /home/node/workspace/blob.bin")).stdout).toBe(`node 600\n${sha256(bytes)}  /home/node/workspace/blob.bin`);
    const read = FilePart.parse(await ok(client, "read_file", { bottle_id: bottle.id, path: "/home/node/workspace/blob.bin", max_bytes: 4 * 1024 * 1024 }));
    expect(read).toMatchObject({ encoding: "base64", size: bytes.length, eof: true, next_offset: bytes.length });
    expect(Buffer.from(read.content, "base64").equals(bytes)).toBe(true);
  });

  it("writes and reads a 5 MB text file in parts, with characters cut at the part edges joined again", async () => {
    const line = "ünïcödé text, and a 🐘 for four bytes\n";
    const text = line.repeat(Math.ceil((5 * 1024 * 1024) / Buffer.byteLength(line)));
    const bytes = Buffer.from(text);
    const part = 2 * 1024 * 1024;
    for (let offset = 0; offset < bytes.length; offset += part) {
      await ok(client, "write_file", { bottle_id: bottle.id, path: "big.txt", content: bytes.subarray(offset, offset + part).toString("base64"), encoding: "base64", offset });
    }
    expect((await inBottle("sha256sum /home/node/workspace/big.txt")).stdout.split(" ")[0]).toBe(sha256(bytes));

    let read = "";
    let offset = 0;
    let parts = 0;
    for (let eof = false; !eof && parts < 20; parts++) {
      const chunk = FilePart.parse(await ok(client, "read_file", { bottle_id: bottle.id, path: "big.txt", offset, max_bytes: 1_000_001 }));
      expect(chunk.encoding).toBe("utf8");
      read += chunk.content;
      offset = chunk.next_offset;
      eof = chunk.eof;
    }
    expect(parts).toBeGreaterThan(5);
    expect(read === text).toBe(true);
  });

  it("lists a folder with each entry's type, size and mode", async () => {
    await inBottle("mkdir -p /home/node/workspace/sub && chown node /home/node/workspace/sub && ln -sf blob.bin /home/node/workspace/link");
    const listing = FolderListing.parse(await ok(client, "list_files", { bottle_id: bottle.id, path: "." }));
    expect(listing.truncated).toBe(false);
    const byName = Object.fromEntries(listing.entries.map((e) => [e.name, e]));
    expect(byName["blob.bin"]).toMatchObject({ type: "file", size: 100_004, mode: "0600" });
    expect(byName.sub).toMatchObject({ type: "folder" });
    expect(byName.link).toMatchObject({ type: "symlink" });
  });

  it("says clearly what is missing, what the agent user may not read, and what is too large", async () => {
    const missing = await call(client, "read_file", { bottle_id: bottle.id, path: "/nope/missing.txt" });
    expect(missing.isError).toBe(true);
    expect(JSON.stringify(missing.content)).toContain("no such file or folder: /nope/missing.txt");
    const denied = await call(client, "read_file", { bottle_id: bottle.id, path: "/etc/shadow" });
    expect(JSON.stringify(denied.content)).toContain("permission denied: /etc/shadow");
    const asRoot = FilePart.parse(await ok(client, "read_file", { bottle_id: bottle.id, path: "/etc/shadow", user: "root" }));
    expect(asRoot.content).toMatch(/^root:/);
    const folder = await call(client, "read_file", { bottle_id: bottle.id, path: "/home/node" });
    expect(JSON.stringify(folder.content)).toContain("/home/node is a folder (list_files lists it)");
    const huge = await call(client, "read_file", { bottle_id: bottle.id, path: "big.txt", max_bytes: 64 * 1024 * 1024 });
    expect(huge.isError).toBe(true);
    expect(JSON.stringify(huge.content)).toMatch(/max_bytes/);
    const tooMuch = await call(client, "write_file", { bottle_id: bottle.id, path: "x", content: "x".repeat(5 * 1024 * 1024) });
    expect(JSON.stringify(tooMuch.content)).toContain("write at most 4194304 per call");
  });
});
