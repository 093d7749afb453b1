/**
 * IP addresses as numbers, for range checks of outbound destinations (docs/security.md, network egress).
 * Pure: no sockets, no DNS.
 */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

export interface IpRange {
  version: 4 | 6;
  base: bigint;
  prefix: number;
}

export function parseIp(text: string): IpAddress | undefined {
  const bare = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = parseIpv4(bare);
  if (v4 !== undefined) return { version: 4, value: v4 };
  const v6 = parseIpv6(bare);
  return v6 === undefined ? undefined : { version: 6, value: v6 };
}

function parseIpv4(text: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let value = 0n;
  for (const part of m.slice(1)) {
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text) || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (const [i, p] of parts.entries()) {
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-f]{1,4}$/i.test(p)) out.push(Number.parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  let value = 0n;
  for (const g of [...head, ...new Array<number>(missing).fill(0), ...tail])
    value = (value << 16n) | BigInt(g);
  return value;
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128). */
export function parseRange(text: string): IpRange | undefined {
  const [addr, bits, extra] = text.split("/");
  if (extra !== undefined) return undefined;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const max = ip.version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { version: ip.version, base: ip.value, prefix };
}

export function inRange(ip: IpAddress, range: IpRange): boolean {
  if (ip.version !== range.version) return false;
  const shift = BigInt((ip.version === 4 ? 32 : 128) - range.prefix);
  return ip.value >> shift === range.base >> shift;
}

const range = (text: string): IpRange => {
  const r = parseRange(text);
  if (!r) throw new Error(`bad built-in range ${text}`);
  return r;
};

/** Non-public IPv4 space: where an outbound request must not go unless the operator allows it. */
const V4_DENIED: Array<[IpRange, string]> = [
  [range("0.0.0.0/8"), "unspecified"],
  [range("10.0.0.0/8"), "private"],
  [range("100.64.0.0/10"), "shared (CGNAT)"],
  [range("127.0.0.0/8"), "loopback"],
  [range("169.254.0.0/16"), "link-local"],
  [range("172.16.0.0/12"), "private"],
  [range("192.0.0.0/24"), "IETF protocol"],
  [range("192.168.0.0/16"), "private"],
  [range("198.18.0.0/15"), "benchmarking"],
  [range("224.0.0.0/4"), "multicast"],
  [range("240.0.0.0/4"), "reserved"],
];

const V6_DENIED: Array<[IpRange, string]> = [
  [range("::/128"), "unspecified"],
  [range("::1/128"), "loopback"],
  [range("100::/64"), "discard"],
  [range("fc00::/7"), "unique local"],
  [range("fe80::/10"), "link-local"],
  [range("fec0::/10"), "site-local"],
  [range("ff00::/8"), "multicast"],
];

/** IPv6 forms that carry an IPv4 address: mapped, compatible, NAT64, 6to4. The IPv4 inside decides. */
const V6_EMBEDDING_V4: Array<[IpRange, (v: bigint) => bigint]> = [
  [range("::ffff:0:0/96"), (v) => v & 0xffffffffn],
  [range("::/96"), (v) => v & 0xffffffffn],
  [range("64:ff9b::/96"), (v) => v & 0xffffffffn],
  [range("64:ff9b:1::/48"), (v) => v & 0xffffffffn],
  [range("2002::/16"), (v) => (v >> 80n) & 0xffffffffn],
];

/** The IPv4 address an IPv6 address stands for, if it embeds one; otherwise the address itself. */
export function canonical(ip: IpAddress): IpAddress {
  if (ip.version === 6) {
    for (const [r, extract] of V6_EMBEDDING_V4) {
      // `::` and `::1` lie inside ::/96 but are IPv6's own unspecified and loopback addresses.
      if (inRange(ip, r) && !(r.prefix === 96 && r.base === 0n && ip.value <= 1n))
        return { version: 4, value: extract(ip.value) };
    }
  }
  return ip;
}

/** Why the address is not public (e.g. "loopback"), or undefined for a public address. */
export function nonPublicKind(ip: IpAddress): string | undefined {
  const c = canonical(ip);
  for (const [r, kind] of c.version === 4 ? V4_DENIED : V6_DENIED) if (inRange(c, r)) return kind;
  return undefined;
}
