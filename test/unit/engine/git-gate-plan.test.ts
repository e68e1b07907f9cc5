import { describe, expect, it } from "vitest";
import { GateConfig } from "../../../sidecars/git-gate/config.js";
import { gateConfig, upstreamSpellings } from "../../../src/engine/git-gate/plan.js";
import type { GateRepoPlan } from "../../../src/engine/plan-schema.js";

const repo = (name: string, url = `git@github.com:acme/${name}.git`): GateRepoPlan => ({
  name,
  url,
  hostKey: "github.com ssh-ed25519 AAAA",
  key: { provider: "static", path: "/keys/k" },
});

describe("upstreamSpellings", () => {
  it("rewrites every way git may name a GitHub-style repository: scp-like, ssh://, https, with and without .git", () => {
    expect(upstreamSpellings("git@github.com:acme/widgets.git").sort()).toEqual(
      [
        "git@github.com:acme/widgets.git",
        "git@github.com:acme/widgets",
        "git@github.com:/acme/widgets.git",
        "git@github.com:/acme/widgets",
        "ssh://git@github.com/acme/widgets.git",
        "ssh://git@github.com/acme/widgets",
        "https://github.com/acme/widgets.git",
        "https://github.com/acme/widgets",
      ].sort(),
    );
  });

  it("keeps an ssh:// port (no scp-like form can carry one)", () => {
    const forms = upstreamSpellings("ssh://git@git.example.com:2222/acme/widgets.git");
    expect(forms).toContain("ssh://git@git.example.com:2222/acme/widgets");
    expect(forms.some((form) => /^git@git\.example\.com:/.test(form))).toBe(false);
  });

  it("refuses what is no ssh, scp-like or https URL, naming it", () => {
    expect(() => upstreamSpellings("file:///srv/git/widgets.git")).toThrow('"file:///srv/git/widgets.git" is not an ssh://, user@host:path or https:// URL');
  });
});

describe("gateConfig", () => {
  it("numbers the keys in the plan's order and adds the cwd repository as origin, without an upstream", () => {
    const config = gateConfig([repo("alpha"), repo("beta")], true);
    expect(GateConfig.parse(config)).toEqual({
      version: 1,
      repos: [
        { name: "alpha", upstream: { url: "git@github.com:acme/alpha.git", host_key: "github.com ssh-ed25519 AAAA", key: "GIT_GATE_KEY_0" } },
        { name: "beta", upstream: { url: "git@github.com:acme/beta.git", host_key: "github.com ssh-ed25519 AAAA", key: "GIT_GATE_KEY_1" } },
        { name: "origin", upstream: null },
      ],
    });
  });

  it("is null when there is nothing to serve", () => {
    expect(gateConfig([], false)).toBeNull();
  });

  it('refuses a repository named "origin" (the cwd copy\'s name) and names the gate cannot serve', () => {
    expect(() => gateConfig([repo("origin")], false)).toThrow('git-gate.repos may not be named "origin"');
    expect(() => gateConfig([repo(".hidden")], false)).toThrow("git-gate.repos..hidden: the name must be a repository name");
  });
});
