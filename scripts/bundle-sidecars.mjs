// Bundles each sidecar entry point into one self-contained file under
// dist/sidecars-bundle/, next to the bundle image's Dockerfile. CommonJS, not
// ESM: forwarder.js is bind-mounted alone into agent images, where no
// package.json says how to read it, and CommonJS is Node's default there.
// A package.json in the output folder says the same for this checkout, whose
// own package.json declares ESM.
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { build } from "esbuild";

const outdir = "dist/sidecars-bundle";
const entries = {
  init: "sidecars/init.ts",
  egress: "sidecars/egress/main.ts",
  supervise: "sidecars/supervise/main.ts",
  forwarder: "sidecars/forwarder/main.ts",
};

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: entries,
  outdir,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
});
await copyFile("sidecars/Dockerfile", `${outdir}/Dockerfile`);
await writeFile(`${outdir}/package.json`, `${JSON.stringify({ type: "commonjs" })}\n`);
