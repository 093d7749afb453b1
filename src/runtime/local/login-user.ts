import { readFileSync } from "node:fs";
import path from "node:path";
import { InputError } from "../../errors.js";
import { WORKLOAD_UID } from "./sandbox.js";

/**
 * `user: {name, home}`: inside the sandbox the workload uid (65534) is presented as that login user, so
 * that programs which look their user up (sshd accepting a key login, shells, `id -un`) see a normal
 * account. The runtime writes these files into the replica's state dir and binds them read-only over
 * /etc/passwd and /etc/group. The host's other entries stay (root, system users), minus any that used
 * the uid/gid 65534 or the name, and minus the group "tty" (see below).
 */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

export function checkLoginUser(user: { name: string; home: string }): void {
  if (!USER_NAME.test(user.name)) {
    throw new InputError(`user name '${user.name}' is not allowed (lowercase letters, digits, '_', '-')`);
  }
  if (!path.isAbsolute(user.home) || path.normalize(user.home) !== user.home || /[:\n\0]/.test(user.home)) {
    throw new InputError(`user home '${user.home}' must be a normalized absolute path`);
  }
}

export function loginUserFiles(
  user: { name: string; home: string },
  host: { passwd: string; group: string } = readHostFiles(),
): { passwd: string; group: string } {
  const id = String(WORKLOAD_UID);
  const keep = (text: string, idField: number) =>
    text
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#"))
      .filter((line) => {
        const fields = line.split(":");
        return fields[0] !== user.name && fields[idField] !== id;
      });
  const passwd = [...keep(host.passwd, 2), `${user.name}:x:${id}:${id}:${user.name}:${user.home}:/bin/bash`];
  // No "tty" group: sshd would chown the session's pty to it, which a non-root sshd may not, and the
  // session dies; without it sshd keeps the user's own group on the pty.
  const group = [...keep(host.group, 2).filter((line) => !line.startsWith("tty:")), `${user.name}:x:${id}:`];
  return { passwd: `${passwd.join("\n")}\n`, group: `${group.join("\n")}\n` };
}

function readHostFiles(): { passwd: string; group: string } {
  const read = (file: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return "";
    }
  };
  return { passwd: read("/etc/passwd"), group: read("/etc/group") };
}
