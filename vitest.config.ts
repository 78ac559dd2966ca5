import { defineConfig } from "vitest/config";

// The pinned AWS SDK supports Node 20; its notice about later releases needing Node 22 is noise here.
const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };

// Two projects: fast tests with no outside servers, and integration tests that talk to real local servers
// (moto, OpenBao, the Key Vault test server, the Twilio emulator) started once by the integration globalSetup.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          env,
          include: [
            "src/**/*.test.ts",
            "providers/**/*.test.ts",
            "test/unit/**/*.test.ts",
            "test/emulator/**/*.test.ts",
            "test/keyvault-server/**/*.test.ts",
          ],
          exclude: ["**/*.integration.test.ts", "node_modules/**", "dist/**"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          env,
          include: ["providers/**/*.integration.test.ts", "test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
          exclude: ["node_modules/**", "dist/**"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          globalSetup: ["test/harness/global-setup.ts"],
        },
      },
    ],
  },
});
