import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { parseSshPublicKey } from "./ssh-public-key.js";

function keygen(type: string, bits?: number): { pub: string; fingerprint: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlops-key-"));
  const file = path.join(dir, "k");
  execFileSync("ssh-keygen", [
    "-q",
    "-t",
    type,
    ...(bits ? ["-b", String(bits)] : []),
    "-N",
    "",
    "-C",
    "me@laptop",
    "-f",
    file,
  ]);
  const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${file}.pub`])
    .toString()
    .split(" ")[1];
  return { pub: readFileSync(`${file}.pub`, "utf8"), fingerprint };
}

describe("parseSshPublicKey", () => {
  it.each([
    ["ed25519", undefined, 256],
    ["ecdsa", 384, 384],
    ["rsa", 2048, 2048],
  ])("accepts %s keys with ssh-keygen's fingerprint", (type, bits, expectedBits) => {
    const { pub, fingerprint } = keygen(type, bits);
    const parsed = parseSshPublicKey(pub);
    expect(parsed.fingerprint).toBe(fingerprint);
    expect(parsed.bits).toBe(expectedBits);
    expect(parsed.comment).toBe("me@laptop");
    expect(parsed.key).toBe(pub.trim().split(" ").slice(0, 2).join(" "));
  });

  it("refuses short RSA keys, private keys, options, several lines, a blob of another type", () => {
    expect(() => parseSshPublicKey(keygen("rsa", 1024).pub)).toThrow(/at least 2048 bits/);
    expect(() => parseSshPublicKey("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")).toThrow(/private key/);
    const ed = keygen("ed25519").pub.trim();
    expect(() => parseSshPublicKey(`command="rm -rf /" ${ed}`)).toThrow(/unsupported key type/);
    expect(() => parseSshPublicKey(`${ed}\n${ed}`)).toThrow(/several lines/);
    const blob = ed.split(" ")[1];
    expect(() => parseSshPublicKey(`ssh-rsa ${blob}`)).toThrow(/does not hold a ssh-rsa key/);
    expect(() => parseSshPublicKey(`ssh-ed25519 ${blob.slice(0, 30)}`)).toThrow(InputError);
    expect(() => parseSshPublicKey("ssh-ed25519 not*base64")).toThrow(/malformed/);
    expect(() => parseSshPublicKey("   ")).toThrow(/empty/);
  });
});
