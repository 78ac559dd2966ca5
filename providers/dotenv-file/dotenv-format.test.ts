import { beforeEach, describe, expect, it } from "vitest";
import { dotenvValues, parseDotenv, updateDotenv } from "./dotenv-format.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const bytes = (text: string) => Buffer.from(text, "utf8");
const values = (text: string) => Object.fromEntries(dotenvValues(bytes(text)));
const update = (text: string, next: Record<string, string>) => updateDotenv(bytes(text), next).toString("utf8");

describe("parseDotenv", () => {
  it("reads comments, blank lines, export, quotes and inline comments", () => {
    const text = [
      "# a comment",
      "",
      "PLAIN=value",
      "export EXPORTED=yes",
      "  INDENTED = spaced  ",
      "SINGLE='it is # not a comment'",
      'DOUBLE="line\\nbreak \\"quoted\\""',
      "BACKTICK=`tick`",
      "INLINE=value # comment",
      "HASH=abc#def",
      "EMPTY=",
      "EMPTY_COMMENT= # only a comment",
      "not an assignment",
      "",
    ].join("\n");
    expect(values(text)).toEqual({
      PLAIN: "value",
      EXPORTED: "yes",
      INDENTED: "spaced",
      SINGLE: "it is # not a comment",
      DOUBLE: 'line\nbreak "quoted"',
      BACKTICK: "tick",
      INLINE: "value",
      HASH: "abc#def",
      EMPTY: "",
      EMPTY_COMMENT: "",
    });
    expect(parseDotenv(bytes(text)).find((entry) => entry.key === "EXPORTED")).toEqual({
      key: "EXPORTED",
      value: "yes",
      exported: true,
      line: 4,
    });
  });

  it("reads a multi-line quoted value as one value, not as the assignments inside it", () => {
    const text = 'KEY="-----BEGIN\nTWILIO_API_KEY=inside\n-----END" # pem\nAFTER=1\n';
    expect(values(text)).toEqual({ KEY: "-----BEGIN\nTWILIO_API_KEY=inside\n-----END", AFTER: "1" });
  });

  it("reads an unterminated quote as a plain value, as dotenv does", () => {
    expect(values('KEY="open\nNEXT=1\n')).toEqual({ KEY: '"open', NEXT: "1" });
  });

  it("lets the last assignment win, handles CRLF and a UTF-8 byte order mark", () => {
    expect(values("\uFEFFA=1\r\nA=2\r\nB='x'\r\n")).toEqual({ A: "2", B: "x" });
  });

  it("decodes UTF-8 values", () => {
    expect(values("NAME=Zoë\n")).toEqual({ NAME: "Zoë" });
  });
});

describe("updateDotenv", () => {
  it("rewrites assignments in place, keeping export, spacing, quotes and comments", () => {
    const text = [
      "# Twilio",
      "export SID=ACold",
      '  KEY = "SKold"   # the key',
      "SECRET='old'",
      "OTHER=kept # comment",
      "",
    ].join("\n");
    expect(update(text, { SID: "ACnew", KEY: "SKnew", SECRET: "new" })).toBe(
      ["# Twilio", "export SID=ACnew", '  KEY = "SKnew"   # the key', "SECRET='new'", "OTHER=kept # comment", ""].join(
        "\n",
      ),
    );
  });

  it("appends missing keys at the end, adding the final newline a file lacks", () => {
    expect(update("A=1", { B: "2", C: "3" })).toBe("A=1\nB=2\nC=3\n");
    expect(update("", { B: "2" })).toBe("B=2\n");
    expect(update("# only a comment\n", { B: "2" })).toBe("# only a comment\nB=2\n");
  });

  it("exports appended keys when every assignment in the file is exported", () => {
    expect(update("export A=1\n", { B: "2" })).toBe("export A=1\nexport B=2\n");
    expect(update("export A=1\nC=3\n", { B: "2" })).toBe("export A=1\nC=3\nB=2\n");
  });

  it("keeps CRLF line endings, for rewritten and appended lines", () => {
    expect(update("A=1\r\nB=2\r\n", { A: "9", C: "3" })).toBe("A=9\r\nB=2\r\nC=3\r\n");
  });

  it("rewrites every assignment of a duplicated key", () => {
    expect(update("A=1\nB=x\nA=2\n", { A: "3" })).toBe("A=3\nB=x\nA=3\n");
  });

  it("replaces a multi-line value with one line and keeps what follows", () => {
    expect(update('A="one\ntwo" # c\nB=1\n', { A: "new" })).toBe('A="new" # c\nB=1\n');
  });

  it("quotes values that are not plain, so they read back the same", () => {
    for (const value of ["has space", "a#b", "dollar$HOME", "it's", "both ' and \"", "multi\nline", ""]) {
      const written = updateDotenv(bytes("K=old # c\n"), { K: value });
      expect(dotenvValues(written).get("K"), JSON.stringify(value)).toBe(value);
    }
  });

  it("does not glue a bare value to a comment that followed an empty value", () => {
    const written = update("K=#c\n", { K: "value" });
    expect(written).toBe("K=value #c\n");
    expect(values(written)).toEqual({ K: "value" });
  });

  it("leaves an assignment that already holds the value byte-for-byte, so a second update changes nothing", () => {
    const text = 'K="v"\nL=w # c\n';
    expect(update(text, { K: "v", L: "w" })).toBe(text);
    const once = updateDotenv(bytes("X=1\n"), { K: "v" });
    expect(updateDotenv(once, { K: "v" }).equals(once)).toBe(true);
  });

  it("keeps bytes that are not UTF-8 exactly as they were", () => {
    const original = Buffer.concat([Buffer.from("LATIN="), Buffer.from([0xe9, 0xff]), Buffer.from("\nK=old\n")]);
    const written = updateDotenv(original, { K: "new" });
    expect(written).toEqual(
      Buffer.concat([Buffer.from("LATIN="), Buffer.from([0xe9, 0xff]), Buffer.from("\nK=new\n")]),
    );
  });
});
