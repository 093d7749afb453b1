import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Credentials {
  url: string;
  token: string;
}

export function credentialsFile(configDir: string): string {
  return path.join(configDir, "credentials.json");
}

export function readCredentials(configDir: string): Credentials | undefined {
  try {
    const parsed = JSON.parse(readFileSync(credentialsFile(configDir), "utf8")) as Partial<Credentials>;
    if (typeof parsed.url === "string" && typeof parsed.token === "string")
      return { url: parsed.url, token: parsed.token };
  } catch {
    // no stored login
  }
  return undefined;
}

/** Stored readable by the user only (0600), in a 0700 directory. */
export function writeCredentials(configDir: string, credentials: Credentials): string {
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  const file = credentialsFile(configDir);
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
