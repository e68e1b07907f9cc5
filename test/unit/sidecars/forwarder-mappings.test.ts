import { describe, expect, it } from "vitest";
import { parseMappings } from "../../../sidecars/forwarder/mappings.js";

describe("forwarder mappings", () => {
  it("parses loopback listen addresses mapped to absolute socket paths", () => {
    expect(parseMappings(["127.0.0.1:9099=/run/bot-bottle/egress.sock", " [::1]:9100=/run/bot-bottle/supervise.sock ", ""])).toEqual([
      { host: "127.0.0.1", port: 9099, socketPath: "/run/bot-bottle/egress.sock" },
      { host: "::1", port: 9100, socketPath: "/run/bot-bottle/supervise.sock" },
    ]);
  });

  it.each([
    [[], "no mappings given"],
    [["127.0.0.1:9099"], "is not LOOPBACK_IP:PORT=/absolute/socket/path"],
    [["127.0.0.1=/x.sock"], "is not LOOPBACK_IP:PORT=/absolute/socket/path"],
    [["127.0.0.1:0=/x.sock"], "is not LOOPBACK_IP:PORT=/absolute/socket/path"],
    [["127.0.0.1:70000=/x.sock"], "is not LOOPBACK_IP:PORT=/absolute/socket/path"],
    [["0.0.0.0:9099=/x.sock"], "0.0.0.0 is not a loopback address"],
    [["172.17.0.1:9099=/x.sock"], "172.17.0.1 is not a loopback address"],
    [["localhost:9099=/x.sock"], "localhost is not a loopback address"],
    [["127.0.0.1:9099=x.sock"], "socket path must be absolute"],
    [["127.0.0.1:9099=/a.sock", "127.0.0.1:9099=/b.sock"], "127.0.0.1:9099 is mapped twice"],
  ])("rejects %j", (items, message) => {
    expect(() => parseMappings(items)).toThrow(message);
  });
});
