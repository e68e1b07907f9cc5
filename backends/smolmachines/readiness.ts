import { accessSync, constants } from "node:fs";
import path from "node:path";
import { z } from "zod";

// Whether microVM bottles can run here, and how to make it so. The backend's
// availability and `bot-bottle doctor` both say it in these words.

export const Kvm = z.enum(["usable", "missing", "no-access"]);
export type Kvm = z.infer<typeof Kvm>;

export const SmolvmFacts = z.object({
  /** Where smolvm was found; null when it is not on PATH. */
  path: z.string().nullable(),
  kvm: Kvm,
  /** macOS runs libkrun on Hypervisor.framework: no /dev/kvm to ask for. */
  needsKvm: z.boolean(),
});
export type SmolvmFacts = z.infer<typeof SmolvmFacts>;

export type SmolvmReadiness = { ok: true; detail: string } | { ok: false; detail: string; fix: string };

const KVM_WORDS: Record<Kvm, string> = { usable: "/dev/kvm is usable", missing: "there is no /dev/kvm", "no-access": "/dev/kvm is there but this user cannot open it" };

export function smolvmReadiness(facts: SmolvmFacts): SmolvmReadiness {
  const found = facts.path ? `smolvm at ${facts.path}` : "smolvm is not on PATH";
  const detail = facts.needsKvm ? `${found}, and ${KVM_WORDS[facts.kvm]}` : found;
  if (facts.path && (!facts.needsKvm || facts.kvm === "usable")) return { ok: true, detail };
  const fix = !facts.path
    ? "install smolvm (https://github.com/smol-machines/smolvm) and put it on PATH, or set BOT_BOTTLE_SMOLVM to its path"
    : facts.kvm === "no-access"
      ? "add yourself to the kvm group (sudo usermod -aG kvm $USER) and log in again"
      : "microVMs need hardware virtualization (/dev/kvm): enable it in the BIOS or in the settings of the VM this runs in";
  return { ok: false, detail, fix };
}

/** The smolvm executable to run: BOT_BOTTLE_SMOLVM, else `smolvm` from PATH. */
export const smolvmCommand = (env: NodeJS.ProcessEnv) => env.BOT_BOTTLE_SMOLVM || "smolvm";

/** Finds a command the way a shell would: a path as is, a bare name on PATH. */
export function findExecutable(command: string, env: NodeJS.ProcessEnv): string | null {
  const candidates = command.includes("/") ? [command] : (env.PATH ?? "").split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return path.resolve(candidate);
    } catch {
      // not here
    }
  }
  return null;
}

export function kvmAccess(): Kvm {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return "usable";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : "no-access";
  }
}

/** What this machine offers smolvm, read from the file system and PATH. */
export function smolvmFacts(env: NodeJS.ProcessEnv): SmolvmFacts {
  return { path: findExecutable(smolvmCommand(env), env), kvm: kvmAccess(), needsKvm: process.platform !== "darwin" };
}
