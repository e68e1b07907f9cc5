import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { log } from "../../log.js";
import { shellQuote } from "../../shell-quote.js";
import type { ProvisionStep } from "./step.js";

const CERTS_DIR = "/etc/ssl/certs";
const SYSTEM_BUNDLE = `${CERTS_DIR}/ca-certificates.crt`;
const UPDATE_HOOKS = "/etc/ca-certificates/update.d";

/**
 * Writes the CA (from stdin) and adds it to the system trust store, then
 * prints the bundle for the check. `update-ca-certificates` rebuilds the whole
 * store (every certificate re-read, the bundle rewritten, `openssl rehash`
 * over the folder: most of a second here); for one new certificate it amounts
 * to a link to it in /etc/ssl/certs, a subject-hash link to that, and the
 * certificate appended to the bundle, which is what this does. When the image
 * has update hooks (a Java or Mono trust store, say), only the real tool runs
 * them, so then it runs.
 */
function installScript(guestCert: string): string {
  const cert = shellQuote(guestCert);
  const link = shellQuote(path.posix.basename(guestCert).replace(/\.crt$/, "") + ".pem");
  return `set -e
cat > ${cert}
chmod 644 ${cert}
if [ -z "$(ls -A ${UPDATE_HOOKS} 2>/dev/null)" ] && [ -f ${SYSTEM_BUNDLE} ] && command -v openssl >/dev/null; then
  cd ${CERTS_DIR}
  ln -sf ${cert} ${link}
  hash=$(openssl x509 -hash -noout -in ${cert})
  n=0
  while [ -e "$hash.$n" ] && [ "$(readlink "$hash.$n")" != ${link} ]; do n=$((n + 1)); done
  ln -sf ${link} "$hash.$n"
  # the bundle ends with a newline; appending after one keeps every certificate whole
  [ -z "$(tail -c 1 ${SYSTEM_BUNDLE})" ] || echo >> ${SYSTEM_BUNDLE}
  cat ${cert} >> ${SYSTEM_BUNDLE}
else
  command -v update-ca-certificates >/dev/null || { echo "the agent image has no update-ca-certificates: install the ca-certificates package in it" >&2; exit 1; }
  update-ca-certificates >&2
fi
cat ${SYSTEM_BUNDLE}`;
}

/** Installs the bottle's egress CA into the agent's trust store and proves it landed. */
export const caStep: ProvisionStep = {
  name: "ca",
  describe: "installing the bottle's egress CA into the agent's trust store",
  after: [],
  async run(plan, bottle) {
    const pem = readFileSync(plan.ca.cert, "utf8");
    const result = await bottle.exec(["/bin/sh", "-c", installScript(plan.ca.guestCert)], { user: "root", cwd: "/", stdin: pem });
    if (result.exit_code !== 0) {
      throw new Error(`provisioning step ca failed: installing the CA exited ${result.exit_code}: ${(result.stderr || result.stdout).trim()}`);
    }
    // A silent failure here would leave TLS to egress broken in confusing ways.
    const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    if (!result.stdout.replace(/\s+/g, "").includes(body)) {
      throw new Error(`provisioning step ca failed: the bottle CA is not in ${SYSTEM_BUNDLE} after installing it`);
    }
    log.info({ bottle: plan.id, sha256: new X509Certificate(pem).fingerprint256 }, "bottle CA installed in the agent's trust store");
  },
};
