// Bundles each sidecar entry point into one self-contained file under
// dist/sidecars-bundle/, next to the bundle image's Dockerfile. CommonJS, not
// ESM: forwarder.js is bind-mounted alone into agent images, where no
// package.json says how to read it, and CommonJS is Node's default there.
// A package.json in the output folder says the same for this checkout, whose
// own package.json declares ESM.
//
// The files are built beside the output folder and renamed into it one by one
// (a rename replaces a file atomically): a bottle starting during a rebuild
// must never find forwarder.js missing, or Docker would bind-mount an empty
// directory in its place.
import { copyFile, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import process from "node:process";
import { build } from "esbuild";

const outdir = "dist/sidecars-bundle";
const entries = {
  init: "sidecars/init.ts",
  egress: "sidecars/egress/main.ts",
  supervise: "sidecars/supervise/main.ts",
  forwarder: "sidecars/forwarder/main.ts",
  runner: "sidecars/runner/main.ts",
  "guest-files": "sidecars/guest-files/main.ts",
  "git-gate-scan": "sidecars/git-gate/scan-cli.ts",
};

const staging = `${outdir}.staging-${process.pid}`;
await rm(staging, { recursive: true, force: true });
await mkdir(staging, { recursive: true });
await build({
  entryPoints: entries,
  outdir: staging,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
});
await copyFile("sidecars/Dockerfile", `${staging}/Dockerfile`);
await writeFile(`${staging}/package.json`, `${JSON.stringify({ type: "commonjs" })}\n`);

await mkdir(outdir, { recursive: true });
const built = await readdir(staging);
for (const name of built) await rename(`${staging}/${name}`, `${outdir}/${name}`);
for (const name of await readdir(outdir)) {
  if (!built.includes(name)) await rm(`${outdir}/${name}`, { recursive: true, force: true });
}
await rm(staging, { recursive: true, force: true });
