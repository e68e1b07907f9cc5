import { describe, expect, it } from "vitest";
import { egressConfig } from "../../../src/engine/egress-config.js";
import { ManifestError } from "../../../src/manifest/errors.js";
import { parseBottleFile } from "../../../src/manifest/parse.js";

// The egress-specific checks on the way from a bottle manifest to the routes file.

const bottle = (routes: string) => `---\nagent_provider:\n  template: claude\negress:\n  routes:\n${routes}---\n`;

describe("egress routes in a bottle manifest", () => {
  it("refuse a tls_passthrough route that also declares matches, auth or dlp, at the line of tls_passthrough", () => {
    for (const extra of [
      "      auth: {scheme: Bearer, token_ref: GH_TOKEN}\n",
      "      dlp: {outbound_on_match: block}\n",
      "      matches: [{methods: [GET]}]\n",
    ]) {
      const text = bottle(`    - host: api.example.com\n      tls_passthrough: true\n${extra}`);
      let error: unknown;
      try {
        parseBottleFile(text, "bottles/pass.md", "pass");
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ManifestError);
      expect((error as ManifestError).issues).toEqual([
        expect.objectContaining({
          keyPath: "egress.routes[0].tls_passthrough",
          line: 7,
          message: "a tls_passthrough route cannot also declare matches, auth or dlp: egress never sees inside its TLS",
        }),
      ]);
    }
  });

  it("accept a plain passthrough route", () => {
    const parsed = parseBottleFile(bottle("    - host: api.example.com\n      tls_passthrough: true\n"), "bottles/pass.md", "pass");
    expect(parsed.config.egress?.routes?.[0]).toEqual({ host: "api.example.com", tls_passthrough: true });
  });
});

describe("egressConfig", () => {
  it("refuses inbound DLP at prepare time, since egress does not scan responses", () => {
    expect(() =>
      egressConfig({ log: 1, routes: [{ host: "api.example.com", dlp: { inbound_detectors: ["token_patterns"] } }] }),
    ).toThrow("egress route api.example.com asks for dlp.inbound_detectors: scanning responses is not supported yet; remove the key");
  });

  it("maps tokens and known secrets to bundle variables, never values", () => {
    const config = egressConfig({
      log: 2,
      routes: [{ host: "api.example.com", auth: { scheme: "Bearer", token_ref: "API_TOKEN" }, dlp: { outbound_on_match: "supervise", known_secret_env: ["OTHER"] } }],
    });
    expect(config.routes[0]).toMatchObject({
      auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_API_TOKEN" },
      dlp: { outbound_on_match: "supervise", known_secret_env: ["EGRESS_SECRET_OTHER"], outbound_detectors: ["token_patterns", "known_secrets"] },
    });
  });
});
