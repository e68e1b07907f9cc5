import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "test/fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The dashboard's script runs in the browser, as it is (no build step).
    files: ["src/ui/assets/**/*.js"],
    languageOptions: {
      sourceType: "script",
      globals: Object.fromEntries(
        ["window", "document", "CSS", "EventSource", "FormData", "HTMLFormElement", "URLSearchParams", "fetch", "setInterval"].map((name) => [name, "readonly"]),
      ),
    },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  // The dependency rule (ARCHITECTURE.md): cli and mcp -> tools -> engine ->
  // manifest, providers, backends. Each block names what its folder must not see.
  restrictImports(["sidecars/**/*.ts"], [
    ["(^|/)(src|backends|tools)/", "sidecars run alone in the bundle image: they import nothing from src/, backends/ or tools/ (shared names live in sidecars/contract.ts)"],
  ]),
  restrictImports(["backends/**/*.ts"], [
    ["(^|/)src/manifest/", "backends see plans, never manifests (take what you need from src/engine/plan-schema.ts)"],
    ["(^|/)(src/(mcp|commands|ui|doctor)|tools)/", "backends know nothing of MCP, the CLI or the dashboard"],
  ]),
  restrictImports(["src/engine/**/*.ts"], [
    ["(^|/)(mcp|commands|ui|doctor|tools)/", "the engine knows nothing of MCP, the CLI or the dashboard: they call it, never the other way"],
  ]),
);

/** An import restriction for some files: each rule is [regex over the import path, why]. */
function restrictImports(files, rules) {
  return {
    files,
    rules: {
      "no-restricted-imports": ["error", { patterns: rules.map(([regex, message]) => ({ regex, message })) }],
    },
  };
}
