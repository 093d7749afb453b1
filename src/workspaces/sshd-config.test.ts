import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { generateHostKey } from "./host-key.js";
import { buildSshdConfig, DIR_PLACEHOLDER, PORT_PLACEHOLDER } from "./sshd-config.js";

describe("buildSshdConfig", () => {
  it("is key-only for one user, no root, no passwords, no PAM, forwarding for IDEs", () => {
    const config = buildSshdConfig("alice");
    for (const line of [
      "AllowUsers alice",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin no",
      "UsePAM no",
      "AllowTcpForwarding yes",
      "PermitUserEnvironment yes",
      `AuthorizedKeysFile ${DIR_PLACEHOLDER}/authorized_keys`,
    ]) {
      expect(config.split("\n")).toContain(line);
    }
  });

  it("passes OpenSSH's own config check (sshd -t) once the launcher fills it in", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mlops-sshd-"));
    writeFileSync(path.join(dir, "ssh_host_ed25519_key"), generateHostKey().privateKey, { mode: 0o600 });
    const file = path.join(dir, "sshd_config");
    writeFileSync(
      file,
      buildSshdConfig("alice").replaceAll(PORT_PLACEHOLDER, "2222").replaceAll(DIR_PLACEHOLDER, dir),
    );
    // As in a workspace: sshd runs unprivileged (as root it would want /run/sshd for privilege separation).
    const asWorkload = process.getuid?.() === 0;
    if (asWorkload)
      for (const name of ["", "ssh_host_ed25519_key", "sshd_config"])
        chownSync(path.join(dir, name), 65534, 65534);
    const command = asWorkload
      ? [
          "setpriv",
          ["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/sbin/sshd", "-t", "-f", file],
        ]
      : ["/usr/sbin/sshd", ["-t", "-f", file]];
    expect(() => execFileSync(command[0] as string, command[1] as string[], { stdio: "pipe" })).not.toThrow();
    writeFileSync(file, "PermitRootLogin maybe\n");
    expect(() => execFileSync(command[0] as string, command[1] as string[], { stdio: "pipe" })).toThrow();
  });
});
