import { InputError } from "../errors.js";
import { canonical, inRange, type IpRange, nonPublicKind, parseIp, parseRange } from "./ip-address.js";

/** A destination as the outbound client is about to connect to it: the URL's host and the resolved address. */
export interface EgressTarget {
  hostname: string;
  port: number;
  address: string;
}

interface HostRule {
  hostname: string;
  port?: number;
}

/**
 * Where the server's own outbound requests (webhooks, Label Studio task images) may connect
 * (docs/security.md, network egress): any public address; loopback, private, link-local, CGNAT,
 * multicast and reserved addresses only when the operator allow-lists them in MLOPS_OUTBOUND_ALLOW
 * (comma-separated CIDRs or addresses, host names, or host:port). A host-name entry trusts whatever that
 * name resolves to; a CIDR entry allows its addresses whatever name led there.
 */
export class EgressPolicy {
  private constructor(
    private readonly ranges: IpRange[],
    private readonly hosts: HostRule[],
  ) {}

  static parse(list: string | undefined): EgressPolicy {
    const ranges: IpRange[] = [];
    const hosts: HostRule[] = [];
    for (const entry of (list ?? "").split(",").map((e) => e.trim().toLowerCase())) {
      if (!entry) continue;
      const r = parseRange(entry);
      if (r) {
        ranges.push(r);
        continue;
      }
      const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(entry);
      const port = m?.[2] === undefined ? undefined : Number(m[2]);
      if (
        !m ||
        (port !== undefined && (port < 1 || port > 65535)) ||
        (m[1].startsWith("[") && !parseIp(m[1]))
      )
        throw new InputError(
          `invalid MLOPS_OUTBOUND_ALLOW entry '${entry}': expected a CIDR (10.0.0.0/8), an address, a host name, or host:port`,
        );
      hosts.push({ hostname: m[1].replace(/^\[|\]$/g, ""), port });
    }
    return new EgressPolicy(ranges, hosts);
  }

  /** Nothing beyond public addresses is allowed. */
  static strict(): EgressPolicy {
    return EgressPolicy.parse(undefined);
  }

  /** Why the connection is refused (for the server log), or undefined when it may go ahead. */
  refusal(target: EgressTarget): string | undefined {
    const ip = parseIp(target.address);
    if (!ip) return `'${target.address}' is not an IP address`;
    const kind = nonPublicKind(ip);
    if (kind === undefined) return undefined;
    const host = target.hostname.replace(/^\[|\]$/g, "").toLowerCase();
    if (this.hosts.some((h) => h.hostname === host && (h.port === undefined || h.port === target.port)))
      return undefined;
    const c = canonical(ip);
    if (this.ranges.some((r) => inRange(c, r) || inRange(ip, r))) return undefined;
    return `${target.hostname} resolves to ${target.address}, a ${kind} address not in MLOPS_OUTBOUND_ALLOW`;
  }
}
