import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../user-error.js";

// The starting home that `bot-bottle init` writes: one bottle per built-in
// provider and one agent. examples/home ships the same two bottles (a test
// keeps them identical), so the documented example is what users get.

export const CLAUDE_BOTTLE = `---
# A bottle for Claude Code: what the agent runs and the only hosts it may reach.
# Bottles are read only from $BOT_BOTTLE_HOME/bottles/, never from a repository.
agent_provider:
  # The built-in Claude Code template.
  template: claude
  # Name of the secret that holds Claude's long-lived OAuth token: make one with
  # \`claude setup-token\`, store it with \`bot-bottle secret set CLAUDE_CODE_OAUTH_TOKEN\`
  # (a variable of that name in bot-bottle's environment wins over the store).
  # The agent only ever sees a placeholder.
  auth_token: CLAUDE_CODE_OAUTH_TOKEN
egress:
  routes:
    # The model API. The proxy strips the agent's Authorization header and
    # injects "Bearer <value of CLAUDE_CODE_OAUTH_TOKEN>", read on the host at launch.
    # A host without :port is https (443) only; plain http would be host:80.
    - host: api.anthropic.com
      auth:
        scheme: Bearer
        token_ref: CLAUDE_CODE_OAUTH_TOKEN
---

# claude

Claude Code with its model API and nothing else. To give an agent more, write
a bottle that extends this one (routes concatenate, the child wins elsewhere):

    extends: claude
    egress:
      routes:
        - host: registry.npmjs.org
`;

export const CODEX_BOTTLE = `---
# A bottle for Codex: what the agent runs and the only hosts it may reach.
# Bottles are read only from $BOT_BOTTLE_HOME/bottles/, never from a repository.
agent_provider:
  # The built-in Codex template.
  template: codex
  # Use the host's Codex login (API key or ChatGPT sign-in) inside the bottle.
  forward_host_credentials: true
egress:
  routes:
    # The OpenAI API, used with an API key.
    - host: api.openai.com
    # ChatGPT's backend, used with a ChatGPT sign-in.
    - host: chatgpt.com
---

# codex

Codex with its model APIs and nothing else. Extend it to allow more hosts.
`;

export const EXAMPLE_AGENT = `---
# An agent: the frontmatter picks its bottle; the body below is its system prompt.
# Agents may also live in a project, under .bot-bottle/agents/.
bottle: claude
---

You are a careful software engineer working inside a sandbox. Work only in the
repository you were given, explain what you change, and ask for approval
(through the supervise tools) before doing anything you are unsure about.
`;

export const SCAFFOLD: ReadonlyArray<{ relativePath: string; text: string }> = [
  { relativePath: path.join("bottles", "claude.md"), text: CLAUDE_BOTTLE },
  { relativePath: path.join("bottles", "codex.md"), text: CODEX_BOTTLE },
  { relativePath: path.join("agents", "example.md"), text: EXAMPLE_AGENT },
];

/** Writes the starting home; refuses, writing nothing, if any of its files exists. Returns the paths written. */
export async function writeScaffold(home: string): Promise<string[]> {
  const targets = SCAFFOLD.map((file) => ({ ...file, target: path.join(home, file.relativePath) }));
  const existing: string[] = [];
  for (const { target } of targets) {
    if (await stat(target).then(() => true, () => false)) existing.push(target);
  }
  if (existing.length > 0) {
    throw new UserError(`refusing to overwrite ${existing.join(", ")}: move ${existing.length === 1 ? "it" : "them"} away first`);
  }
  for (const { target, text } of targets) {
    await mkdir(path.dirname(target), { recursive: true });
    // "wx": never overwrite, even if the file appeared since the check above.
    await writeFile(target, text, { flag: "wx" });
  }
  return targets.map((t) => t.target);
}
