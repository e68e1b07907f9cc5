import { execa } from "execa";
import { expect, it } from "vitest";
import { baseImage, describeWithDocker } from "../support/docker.js";

describeWithDocker("base image on the real engine", () => {
  it("runs node inside a container from the base image", async () => {
    const result = await execa("docker", ["run", "--rm", "--network", "none", baseImage(), "node", "--version"]);
    expect(result.stdout).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(Number(result.stdout.slice(1).split(".")[0])).toBeGreaterThanOrEqual(20);
  });
});
