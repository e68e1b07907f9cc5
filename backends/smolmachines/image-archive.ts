import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GUEST_PATHS } from "../../sidecars/contract.js";
import { assetPaths } from "../../src/package-root.js";
import { docker, dockerSucceeds } from "../docker/docker-cli.js";

// A microVM boots from the same image a Docker bottle runs (the provider's
// Dockerfile, built by Docker), plus the guest helpers a container gets as
// bind mounts (forwarder, run monitor, file helper), handed to smolvm as a
// `docker save` tarball: no registry is needed. Archives are cached by the
// content hash of what goes into them, so an unchanged image is saved once.

const GUEST_HELPERS = [
  { asset: assetPaths.forwarder, guest: GUEST_PATHS.forwarder },
  { asset: assetPaths.runner, guest: GUEST_PATHS.runner },
  { asset: assetPaths.guestFiles, guest: GUEST_PATHS.guestFiles },
];

/** The tarball of `agentImage` with the guest helpers baked in; built and saved only when missing. */
export async function vmImageArchive(agentImage: string, cacheDir: string, onStep: (message: string) => void): Promise<string> {
  const imageId = await docker(["image", "inspect", "--format", "{{.Id}}", agentImage]);
  const hash = createHash("sha256").update(`${imageId}\n`);
  for (const helper of GUEST_HELPERS) hash.update(`${helper.guest}\n`).update(readFileSync(helper.asset)).update("\n");
  const key = hash.digest("hex").slice(0, 16);
  const archive = path.join(cacheDir, `${key}.tar`);
  if (existsSync(archive)) {
    onStep(`microVM image ${key} is up to date`);
    return archive;
  }
  const tag = `bot-bottle/vm:${key}`;
  if (!(await dockerSucceeds(["image", "inspect", tag]))) {
    onStep(`adding the guest helpers to ${agentImage}`);
    const context = mkdtempSync(path.join(os.tmpdir(), "bot-bottle-vm-"));
    try {
      const lines = [`FROM ${agentImage}`];
      GUEST_HELPERS.forEach((helper, i) => {
        copyFileSync(helper.asset, path.join(context, `helper-${i}.js`));
        lines.push(`COPY helper-${i}.js ${helper.guest}`);
      });
      writeFileSync(path.join(context, "Dockerfile"), lines.join("\n") + "\n");
      await docker(["build", "--quiet", "--tag", tag, context]);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  }
  onStep(`saving ${tag} for smolvm`);
  mkdirSync(cacheDir, { recursive: true });
  // Saved beside its final name and renamed: a crash never leaves half an archive under the cached name.
  const partial = `${archive}.${process.pid}.partial`;
  try {
    await docker(["save", "--output", partial, tag]);
    renameSync(partial, archive);
  } finally {
    rmSync(partial, { force: true });
  }
  return archive;
}
