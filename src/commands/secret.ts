import { Command } from "commander";
import { read } from "read";
import { botBottleHome } from "../home.js";
import { loadManifestIndex } from "../manifest/load.js";
import { secretReferences } from "../manifest/secret-references.js";
import { HostSecrets, type SecretOrigin } from "../secrets/host-secrets.js";
import { checkSecretName, MAX_SECRET_BYTES, SecretStore } from "../secrets/store.js";
import { UserError } from "../user-error.js";

// `bot-bottle secret set|ls|rm`: the secret store from the command line.
// Values go in on stdin or at a hidden prompt and never come out: no argv,
// no output, no log.

const USAGE = 2;

export function secretCommand(): Command {
  return new Command("secret")
    .description(
      "keep the tokens bottles name (auth_token, auth.token_ref, dlp.known_secret_env) in $BOT_BOTTLE_HOME/secrets/, where a server an MCP client starts " +
        "finds them: clients filter their servers' environment. A name is looked up in the environment first, then in the store",
    )
    .addCommand(setCommand())
    .addCommand(lsCommand())
    .addCommand(rmCommand());
}

function setCommand(): Command {
  return (
    new Command("set")
      .description(
        "store a secret, replacing any value it had: the value is read from stdin (e.g. `printf %s \"$TOKEN\" | bot-bottle secret set NAME`; one trailing newline is dropped) " +
          "or, on a terminal, at a prompt that does not echo. Never from the command line, where ps and your shell history would keep it",
      )
      .argument("<name>", "the name bottles use for it, an environment variable name (e.g. CLAUDE_CODE_OAUTH_TOKEN)")
      // Accepted only to be refused with a clear message instead of commander's generic one.
      .allowExcessArguments(true)
      // Added with addCommand, it would not inherit the program's exitOverride: usage errors must still exit 2.
      .exitOverride()
      .action(async (name: string, _options: unknown, command: Command) => {
        if (command.args.length > 1) {
          throw new UserError(
            "secret set takes the value from stdin or a hidden prompt, never from the command line (ps and your shell history keep arguments); nothing was stored. " +
              "If that was a real secret, consider it exposed and replace it",
            USAGE,
          );
        }
        checkSecretName(name);
        const value = process.stdin.isTTY ? await promptValue(name) : await readStdin();
        const secrets = new HostSecrets(process.env, new SecretStore(botBottleHome()));
        secrets.store.set(name, value);
        process.stdout.write(`stored ${name} in ${secrets.store.fileOf(name)}\n`);
        if (secrets.inEnvironment(name)) {
          process.stderr.write(`bot-bottle: note: ${name} is also set in this environment, and wherever it is, the environment's value wins over the store's\n`);
        }
      })
  );
}

async function promptValue(name: string): Promise<string> {
  try {
    // On stderr, so the prompt never mixes with output a script reads.
    return await read({ prompt: `value of ${name} (not shown):`, silent: true, replace: "", input: process.stdin, output: process.stderr });
  } catch {
    throw new UserError("cancelled; nothing was stored");
  }
}

/** All of stdin, less one trailing newline (what `echo` and a here-string add); more than a secret can hold is refused. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length > MAX_SECRET_BYTES + 2) throw new UserError(`stdin holds more than ${MAX_SECRET_BYTES} bytes, more than any secret; nothing was stored`, USAGE);
  }
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

export interface SecretListing {
  name: string;
  /** Whether this process's environment sets it (non-empty). */
  environment: boolean;
  store: "stored" | "absent" | "refused";
  /** Why the store's entry is refused, naming the file. */
  store_problem: string | null;
  /** Where a server with this environment would take it from; null when it would find it nowhere. */
  resolves_from: SecretOrigin | null;
  /** Bottles in the home whose files name it. */
  named_by: string[];
}

function lsCommand(): Command {
  return new Command("ls")
    .description(
      "list the secrets the store holds and the ones your bottles name, with where each resolves from (the environment, the store, or both: then the environment wins); never their values",
    )
    .option("--json", "print the listing as JSON: [{name, environment, store, store_problem, resolves_from, named_by}]")
    .exitOverride()
    .action(async (options: { json?: boolean }) => {
      const home = botBottleHome();
      const secrets = new HostSecrets(process.env, new SecretStore(home));
      const namedBy = new Map<string, string[]>();
      for (const bottle of Object.values((await loadManifestIndex({ home, cwd: process.cwd() })).bottles)) {
        for (const name of secretReferences(bottle.config)) namedBy.set(name, [...(namedBy.get(name) ?? []), bottle.name]);
      }
      const names = [...new Set([...secrets.store.names(), ...namedBy.keys()])].sort();
      const listing = names.map((name) => listingOf(name, secrets, namedBy.get(name) ?? []));
      if (options.json) {
        process.stdout.write(JSON.stringify(listing, null, 2) + "\n");
        return;
      }
      process.stdout.write(renderListing(listing, secrets.store.dir));
    });
}

function listingOf(name: string, secrets: HostSecrets, namedBy: string[]): SecretListing {
  const environment = secrets.inEnvironment(name);
  let store: SecretListing["store"] = "absent";
  let problem: string | null = null;
  try {
    if (secrets.store.get(name) !== undefined) store = "stored";
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    store = "refused";
    problem = err.message;
  }
  const resolvesFrom = environment ? "environment" : store === "stored" ? "store" : null;
  return { name, environment, store, store_problem: problem, resolves_from: resolvesFrom, named_by: namedBy.sort() };
}

function renderListing(listing: readonly SecretListing[], dir: string): string {
  if (listing.length === 0) return `no secrets in ${dir}, and no bottle names one\n`;
  const where = (entry: SecretListing) => {
    if (entry.environment && entry.store === "stored") return "environment (wins over the store)";
    if (entry.environment) return "environment";
    if (entry.store === "stored") return "store";
    return entry.store === "refused" ? "nowhere (the store's file is refused)" : "nowhere";
  };
  const rows = [["NAME", "RESOLVES FROM", "NAMED BY"], ...listing.map((entry) => [entry.name, where(entry), entry.named_by.join(", ") || "-"])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  let out = rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n") + "\n";
  for (const entry of listing.filter((e) => e.store_problem !== null)) out += `\n${entry.name}: ${entry.store_problem}\n`;
  if (listing.some((e) => e.environment && e.store !== "stored")) {
    out +=
      "\nThe environment listed is this shell's. An MCP client starts the server with a filtered one (Claude Code removes CLAUDE_CODE_OAUTH_TOKEN, Codex passes only a few variables): " +
      "store what a bottle needs with `bot-bottle secret set NAME`.\n";
  }
  return out;
}

function rmCommand(): Command {
  return new Command("rm")
    .description("remove a secret from the store (the environment is not touched)")
    .argument("<name>", "the secret's name")
    .exitOverride()
    .action((name: string) => {
      const secrets = new HostSecrets(process.env, new SecretStore(botBottleHome()));
      if (!secrets.store.remove(name)) throw new UserError(`no secret named ${name} in ${secrets.store.dir} (see \`bot-bottle secret ls\`)`);
      process.stdout.write(`removed ${name} from ${secrets.store.dir}\n`);
      if (secrets.inEnvironment(name)) process.stderr.write(`bot-bottle: note: ${name} is still set in this environment, where it is found first\n`);
    });
}
