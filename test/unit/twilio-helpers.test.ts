import { describe, expect, it } from "vitest";
import { diagnoseAdmin20003 } from "../../src/twilio/diagnose.js";
import { maskSid, redact, registerSecret } from "../../src/util/mask.js";

const AC = `AC${"ab".repeat(16)}`;

describe("maskSid", () => {
  it("keeps the prefix and the last four characters", () => {
    expect(maskSid(`SK${"0".repeat(28)}a1b2`)).toBe("SK…a1b2");
    expect(maskSid(undefined)).toBe("(none)");
  });
});

describe("redact", () => {
  it("replaces registered secrets wherever they appear", () => {
    registerSecret("0123456789abcdef0123456789abcdef");
    expect(redact("x=0123456789abcdef0123456789abcdef;")).toBe("x=[REDACTED];");
  });
});

describe("diagnoseAdmin20003", () => {
  const base = { accountSid: AC, username: AC, passwordSource: "env T" };
  it("points at whitespace, quotes and truncation without showing the value", () => {
    const causes = diagnoseAdmin20003({ ...base, password: ` "${"f".repeat(31)}"\n` }).join("\n");
    expect(causes).toContain("whitespace");
    expect(causes).toContain("quotes");
    expect(causes).toContain("31 characters");
    expect(causes).not.toContain("f".repeat(31));
  });
  it("flags a malformed account SID and a Standard-looking key", () => {
    expect(
      diagnoseAdmin20003({ ...base, accountSid: "AC123", username: "AC123", password: "f".repeat(32) }).join("\n"),
    ).toContain("twilio.accountSid is 5 characters");
    const key = diagnoseAdmin20003({ ...base, username: `SK${"1".repeat(32)}`, password: "Xy".repeat(16) }).join("\n");
    expect(key).toContain("Standard key");
  });
  it("falls back to Twilio's list of causes when the values look right", () => {
    const causes = diagnoseAdmin20003({ ...base, password: "f".repeat(32) }).join("\n");
    expect(causes).toContain("promoted");
    expect(causes).toContain("suspended or closed");
    expect(causes).toContain("proxy");
  });
});
