import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { ImagePlan } from "../../src/engine/plan-schema.js";
import { log } from "../../src/log.js";
import { UserError } from "../../src/user-error.js";
import { docker, dockerBinary, dockerSucceeds } from "./docker-cli.js";

// Images are tagged by a hash of everything that goes into them, so an
// unchanged provider or bundle is reused and a changed one rebuilt.

const BUILD_LOG_TAIL = 40;

/** Files of a build context: the Dockerfile, the plan's extra files, and the build CA (always present, maybe empty). */
function contextFiles(image: ImagePlan): Map<string, Buffer> {
  if (!existsSync(image.dockerfile)) throw new UserError(`Dockerfile not found: ${image.dockerfile}`);
  const files = new Map<string, Buffer>([["Dockerfile", readFileSync(image.dockerfile)]]);
  for (const file of image.files) files.set(path.basename(file), readFileSync(file));
  files.set("build-ca.pem", image.buildCa ? readFileSync(image.buildCa) : Buffer.alloc(0));
  return files;
}

async function baseImageId(baseImage: string): Promise<string> {
  // A local base image is pinned by its id; a registry tag by its name.
  try {
    return await docker(["image", "inspect", "--format", "{{.Id}}", baseImage]);
  } catch {
    return baseImage;
  }
}

export async function imageTag(kind: string, image: ImagePlan): Promise<{ tag: string; files: Map<string, Buffer> }> {
  const files = contextFiles(image);
  const hash = createHash("sha256");
  hash.update(`base=${await baseImageId(image.baseImage)}\n`);
  // Build args change what is installed (another agent release), so they are part of the key.
  for (const [name, value] of Object.entries(image.buildArgs).sort(([a], [b]) => a.localeCompare(b))) hash.update(`arg ${name}=${value}\n`);
  for (const name of [...files.keys()].sort()) {
    hash.update(`${name}\n`).update(files.get(name)!).update("\n");
  }
  return { tag: `bot-bottle/${kind}:${hash.digest("hex").slice(0, 16)}`, files };
}

/**
 * Reuses or builds the image. Build output goes to the log; each Dockerfile
 * step becomes one progress line. A failed build reports the tail of its log.
 */
export async function ensureImage(
  kind: string,
  image: ImagePlan,
  onStep: (message: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  const { tag, files } = await imageTag(kind, image);
  if (await dockerSucceeds(["image", "inspect", tag])) {
    onStep(`image ${tag} is up to date`);
    return tag;
  }
  const context = mkdtempSync(path.join(os.tmpdir(), "bot-bottle-build-"));
  try {
    for (const [name, content] of files) writeFileSync(path.join(context, name), content);
    onStep(`building ${tag} from ${image.dockerfile}`);
    const tail: string[] = [];
    const build = execa(
      dockerBinary(),
      [
        "build",
        ...[["BASE_IMAGE", image.baseImage], ...Object.entries(image.buildArgs)].flatMap(([name, value]) => ["--build-arg", `${name}=${value}`]),
        "--label",
        "bot-bottle.image=" + kind,
        "-t",
        tag,
        context,
      ],
      { reject: false, all: true, buffer: false, cancelSignal: signal, env: { DOCKER_BUILDKIT: "0" } },
    );
    let pending = "";
    build.all?.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        log.debug({ image: tag }, line);
        tail.push(line);
        if (tail.length > BUILD_LOG_TAIL) tail.shift();
        if (/^Step \d+\/\d+ :/.test(line)) onStep(`${kind}: ${line.slice(0, 120)}`);
      }
    });
    const result = await build;
    if (pending) tail.push(pending);
    if (signal?.aborted) throw new Error(`image build of ${tag} was cancelled`);
    if (result.exitCode !== 0) {
      throw new UserError(`building the ${kind} image failed (exit ${result.exitCode}). Last lines of the build log:\n${tail.join("\n")}`);
    }
    return tag;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
