import { createHash, randomBytes } from "node:crypto";

const TOKEN_PREFIX = "mlops_";

/** A new random API token (256 bits). Shown once; only its hash is stored. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** Tokens are high-entropy random strings, so a plain SHA-256 is a sufficient one-way hash. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The part of a token that is safe to display to identify it. */
export function tokenPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 6);
}
