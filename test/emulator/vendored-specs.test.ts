/**
 * The emulator reads the Twilio OpenAPI specs from vendor/twilio-oai (so an installed rotator can run its
 * sandbox). They must stay byte-identical to the project's reference copy in ../shared/twilio-oai.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../src/util/package-root.js";

const root = packageRoot();
const shared = resolve(root, "../shared/twilio-oai");
const vendored = join(root, "vendor", "twilio-oai");

describe("vendored Twilio OpenAPI specs", () => {
  it("are the same files, byte for byte, as ../shared/twilio-oai", () => {
    const names = readdirSync(shared).sort();
    expect(names).toContain("twilio_api_v2010.json");
    expect(readdirSync(vendored).sort()).toEqual(names);
    for (const name of names) {
      expect(readFileSync(join(vendored, name)).equals(readFileSync(join(shared, name))), name).toBe(true);
    }
  });
});
