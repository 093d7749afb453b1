import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { generateHostKey } from "./host-key.js";
import { parseSshPublicKey } from "./ssh-public-key.js";

describe("generateHostKey", () => {
  it("writes an OpenSSH private key that ssh-keygen reads back to the same public key and fingerprint", () => {
    const key = generateHostKey();
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "mlops-hk-")), "host");
    writeFileSync(file, key.privateKey, { mode: 0o600 });
    const derived = execFileSync("ssh-keygen", ["-y", "-f", file]).toString().trim();
    expect(derived.split(" ").slice(0, 2)).toEqual(key.publicKey.split(" ").slice(0, 2));
    const listed = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file]).toString();
    expect(listed.split(" ")[1]).toBe(key.fingerprint);
    expect(parseSshPublicKey(key.publicKey).fingerprint).toBe(key.fingerprint);
  });

  it("makes a new key each time", () => {
    expect(generateHostKey().fingerprint).not.toBe(generateHostKey().fingerprint);
  });
});
