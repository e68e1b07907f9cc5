import { execa } from "execa";
import { expect, it } from "vitest";
import { baseImage, describeWithDocker } from "../support/docker.js";

// The base the tests build bottle images on (scripts/base-image.sh's local
// stand-in, or the official image where a registry answers) is what the
// product's Dockerfiles default to: node:24-bookworm.
describeWithDocker("base image on the real engine", () => {
  it("runs Node 24 and npm, with the official image's node user (uid 1000)", async () => {
    const result = await execa("docker", ["run", "--rm", "--network", "none", baseImage(), "sh", "-c", "node --version; npm --version; id -u node; id -g node"]);
    const [node, npm, uid, gid] = result.stdout.split("\n");
    expect(node).toMatch(/^v24\.\d+\.\d+$/);
    expect(npm).toMatch(/^\d+\.\d+\.\d+$/);
    expect([uid, gid]).toEqual(["1000", "1000"]);
  });
});
