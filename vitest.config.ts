import { defineConfig } from "vitest/config";

// Integration and e2e suites drive real containers and real agents: they are
// slow and share one Docker engine on a 2-core machine, so files run one at a
// time and each test gets a generous timeout (conditions are waited on, never
// slept on).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    reporters: ["default"],
  },
});
