import type { BottleFrontmatter } from "./schema.js";

/**
 * The secret names one bottle file states: `agent_provider.auth_token`, each
 * route's `auth.token_ref` and `dlp.known_secret_env`. They name host
 * secrets, resolved from the environment, then the secret store.
 */
export function secretReferences(config: BottleFrontmatter): string[] {
  const names = new Set<string>();
  if (config.agent_provider?.auth_token) names.add(config.agent_provider.auth_token);
  for (const route of config.egress?.routes ?? []) {
    if (route.auth) names.add(route.auth.token_ref);
    for (const name of route.dlp?.known_secret_env ?? []) names.add(name);
  }
  return [...names];
}
