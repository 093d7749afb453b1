import { createHash } from "node:crypto";
import { InputError } from "../errors.js";

/**
 * OpenSSH public keys as users register them (`~/.ssh/id_ed25519.pub`): `TYPE BASE64 [COMMENT]`. The key
 * blob is decoded and checked against its declared type, so a line sshd would reject (or one carrying
 * authorized_keys options such as `command=`) is refused here, with a clear message, before it reaches any
 * workspace's AuthorizedKeysFile.
 */
export interface SshPublicKey {
  type: string;
  /** `TYPE BASE64`, the comment dropped: what goes into authorized_keys. */
  key: string;
  comment: string;
  /** `SHA256:...` as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** RSA modulus size; the curve size for ECDSA; 256 for Ed25519. */
  bits: number;
}

const ECDSA_CURVES: Record<string, { curve: string; bits: number }> = {
  "ecdsa-sha2-nistp256": { curve: "nistp256", bits: 256 },
  "ecdsa-sha2-nistp384": { curve: "nistp384", bits: 384 },
  "ecdsa-sha2-nistp521": { curve: "nistp521", bits: 521 },
};
const SK_TYPES = new Set(["sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"]);
const MIN_RSA_BITS = 2048;

export function parseSshPublicKey(text: string): SshPublicKey {
  const line = text.trim();
  if (line === "") throw new InputError("the public key is empty");
  if (line.startsWith("-----")) {
    throw new InputError(
      "this is a PEM/private key file: register the .pub file (e.g. ~/.ssh/id_ed25519.pub)",
    );
  }
  if (/[\r\n]/.test(line)) throw new InputError("one public key per request (the text has several lines)");
  const [type, base64, ...rest] = line.split(/\s+/);
  if (!base64) throw new InputError("a public key is 'TYPE BASE64 [COMMENT]'");
  const supported =
    type === "ssh-ed25519" || type === "ssh-rsa" || type in ECDSA_CURVES || SK_TYPES.has(type);
  if (!supported) {
    throw new InputError(
      `unsupported key type '${type.slice(0, 40)}': use ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521 or an sk- key (authorized_keys options are not accepted)`,
    );
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new InputError("the key's base64 part is malformed");
  const blob = Buffer.from(base64, "base64");
  const reader = new BlobReader(blob);
  if (reader.string().toString("latin1") !== type) {
    throw new InputError(`the key blob does not hold a ${type} key`);
  }
  const bits = checkKeyBody(type, reader);
  if (!reader.done()) throw new InputError("the key blob has trailing data");
  const comment = rest.join(" ").slice(0, 200);
  return { type, key: `${type} ${blob.toString("base64")}`, comment, fingerprint: fingerprintOf(blob), bits };
}

/** `SHA256:<base64 without padding>` of a key blob. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The fingerprint of `TYPE BASE64 ...` text (no validation beyond decoding). */
export function fingerprintOfKeyText(keyText: string): string {
  return fingerprintOf(Buffer.from(keyText.trim().split(/\s+/)[1] ?? "", "base64"));
}

function checkKeyBody(type: string, reader: BlobReader): number {
  if (type === "ssh-ed25519") {
    if (reader.string().length !== 32) throw new InputError("an Ed25519 key is 32 bytes");
    return 256;
  }
  if (type === "ssh-rsa") {
    reader.string(); // public exponent
    const modulus = reader.string();
    const bits = bitLength(modulus);
    if (bits < MIN_RSA_BITS)
      throw new InputError(`RSA keys need at least ${MIN_RSA_BITS} bits (this one has ${bits})`);
    return bits;
  }
  if (type in ECDSA_CURVES) {
    const { curve, bits } = ECDSA_CURVES[type];
    if (reader.string().toString("latin1") !== curve) throw new InputError(`the key's curve is not ${curve}`);
    if (reader.string().length === 0) throw new InputError("the ECDSA point is empty");
    return bits;
  }
  // Security keys: the key (Ed25519 bytes or curve + point) and the application string.
  if (type.startsWith("sk-ssh-ed25519")) {
    if (reader.string().length !== 32) throw new InputError("an Ed25519 key is 32 bytes");
  } else {
    reader.string();
    reader.string();
  }
  reader.string(); // application, e.g. "ssh:"
  return 256;
}

function bitLength(bigEndian: Buffer): number {
  let index = 0;
  while (index < bigEndian.length && bigEndian[index] === 0) index++;
  if (index === bigEndian.length) return 0;
  return (bigEndian.length - index - 1) * 8 + (32 - Math.clz32(bigEndian[index]));
}

class BlobReader {
  private offset = 0;
  constructor(private readonly blob: Buffer) {}

  string(): Buffer {
    if (this.offset + 4 > this.blob.length) throw new InputError("the key blob is truncated");
    const length = this.blob.readUInt32BE(this.offset);
    const start = this.offset + 4;
    if (length > this.blob.length - start) throw new InputError("the key blob is truncated");
    this.offset = start + length;
    return this.blob.subarray(start, this.offset);
  }

  done(): boolean {
    return this.offset === this.blob.length;
  }
}
