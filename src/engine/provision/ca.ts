import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { log } from "../../log.js";
import { shellQuote } from "../../shell-quote.js";
import { required, type ProvisionStep } from "./step.js";

const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** Installs the bottle's egress CA into the agent's trust store and proves it landed. */
export const caStep: ProvisionStep = {
  name: "ca",
  describe: "installing the bottle's egress CA into the agent's trust store",
  async run(plan, bottle) {
    const pem = readFileSync(plan.ca.cert, "utf8");
    await bottle.cpIn(plan.ca.cert, plan.ca.guestCert);
    const guest = shellQuote(plan.ca.guestCert);
    await required(
      bottle,
      "ca",
      `chmod 644 ${guest} && command -v update-ca-certificates >/dev/null || { echo "the agent image has no update-ca-certificates: install the ca-certificates package in it" >&2; exit 1; }; update-ca-certificates`,
    );
    // A silent failure here would leave TLS to egress broken in confusing ways.
    const bundle = await required(bottle, "ca", ["cat", SYSTEM_BUNDLE]);
    const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    if (!bundle.stdout.replace(/\s+/g, "").includes(body)) {
      throw new Error(`provisioning step ca failed: the bottle CA is not in ${SYSTEM_BUNDLE} after update-ca-certificates`);
    }
    log.info({ bottle: plan.id, sha256: new X509Certificate(pem).fingerprint256 }, "bottle CA installed in the agent's trust store");
  },
};
