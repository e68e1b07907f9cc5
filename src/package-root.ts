import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// Assets (Dockerfiles, the bundled sidecars) ship beside the compiled code;
// find them from the package root whether we run from src/ (tests) or dist/.
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("bot-bottle: cannot find the package root (no package.json above the code)");
    dir = parent;
  }
}

export const packageRoot = findPackageRoot();

export const assetPaths = {
  providerDockerfileDir: (provider: string) => path.join(packageRoot, "src", "providers", provider),
  sidecarBundleDir: path.join(packageRoot, "dist", "sidecars-bundle"),
  forwarder: path.join(packageRoot, "dist", "sidecars-bundle", "forwarder.js"),
  runner: path.join(packageRoot, "dist", "sidecars-bundle", "runner.js"),
  guestFiles: path.join(packageRoot, "dist", "sidecars-bundle", "guest-files.js"),
  /** The home `bot-bottle demo` copies: its bottle, agent and provider plugin. */
  demoHome: path.join(packageRoot, "src", "demo", "home"),
  /** The dashboard's script and stylesheet (`bot-bottle ui`), served as they are. */
  uiAssets: path.join(packageRoot, "src", "ui", "assets"),
};
