/** startTwilioEmulator options, spec location, and shutdown (keep-alive sockets, held requests). */

import { mkdtempSync } from "node:fs";
import { Agent, get } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultSpecDir, startTwilioEmulator } from "../../src/emulator/index.js";
import { createTwilioClient } from "../../src/twilio/client.js";
import { packageRoot } from "../../src/util/package-root.js";

describe("options", () => {
  it("makes up credentials in Twilio's formats, different on every start, and listens on 127.0.0.1", async () => {
    const a = await startTwilioEmulator();
    const b = await startTwilioEmulator();
    try {
      for (const e of [a, b]) {
        expect(e.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
        expect(e.authToken).toMatch(/^[0-9a-f]{32}$/);
        expect(e.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      }
      expect(a.accountSid).not.toBe(b.accountSid);
      expect(a.authToken).not.toBe(b.authToken);
      expect(a.baseUrl).not.toBe(b.baseUrl);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("uses given credentials and port", async () => {
    const sid = `AC${"0123456789abcdef".repeat(2)}`;
    const token = "fedcba9876543210".repeat(2);
    const probe = await startTwilioEmulator();
    const port = Number(new URL(probe.baseUrl).port);
    await probe.close();
    const e = await startTwilioEmulator({ accountSid: sid, authToken: token, port, host: "127.0.0.1" });
    try {
      expect(e).toMatchObject({ accountSid: sid, authToken: token, baseUrl: `http://127.0.0.1:${port}` });
      const client = createTwilioClient({ accountSid: sid, username: sid, password: token, baseUrl: e.baseUrl });
      expect((await client.api.v2010.accounts(sid).fetch()).authToken).toBe(token);
      await expect(startTwilioEmulator({ port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1/);
    } finally {
      await e.close();
    }
  });

  it("rejects malformed options with a clear error that never repeats the token", async () => {
    await expect(startTwilioEmulator({ accountSid: "ACxyz" })).rejects.toThrow(
      /accountSid must be AC followed by 32 hex/,
    );
    await expect(startTwilioEmulator({ accountSid: `SK${"0".repeat(32)}` })).rejects.toThrow(/accountSid/);
    const secretish = "not-a-token-but-maybe-a-password";
    const error = await startTwilioEmulator({ authToken: secretish }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/authToken must be 32 hexadecimal digits/);
    expect((error as Error).message).not.toContain(secretish);
    await expect(startTwilioEmulator({ port: 70_000 })).rejects.toThrow(/port/);
    await expect(startTwilioEmulator({ port: 1.5 })).rejects.toThrow(/port/);
  });
});

describe("spec location", () => {
  it("reads the vendored copy of the specs by default, never a folder outside the package", () => {
    expect(defaultSpecDir()).toBe(path.join(packageRoot(), "vendor", "twilio-oai"));
  });

  it("refuses to start without the specs, naming the folder", async () => {
    const empty = mkdtempSync(path.join(tmpdir(), "no-specs-"));
    await expect(startTwilioEmulator({ specDir: empty })).rejects.toThrow(new RegExp(`not found in ${empty}`));
  });
});

describe("close()", () => {
  it("closes keep-alive sockets at once, and is idempotent", async () => {
    const e = await startTwilioEmulator();
    const agent = new Agent({ keepAlive: true });
    try {
      // Wrapped in an object: resolving with the bare promise would wait for the socket to close.
      const { socketClosed } = await new Promise<{ socketClosed: Promise<void> }>((resolve, reject) => {
        get(`${e.baseUrl}/__emulator/snapshot`, { agent }, (res) => {
          const closed = new Promise<void>((done) => res.socket.once("close", () => done()));
          res.resume();
          res.once("end", () => resolve({ socketClosed: closed }));
        }).once("error", reject);
      });
      const started = Date.now();
      await e.close();
      await socketClosed;
      expect(Date.now() - started).toBeLessThan(1000);
      await e.close();
    } finally {
      agent.destroy();
    }
  });

  it("does not wait for requests held by a latency fault", async () => {
    const e = await startTwilioEmulator();
    e.faults.add({ kind: "latency", latencyMs: 60_000 });
    const held = fetch(`${e.baseUrl}/2010-04-01/Accounts.json`).then(
      (r) => r.status,
      () => "socket closed",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await e.close();
    expect(await held).toBe("socket closed");
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
