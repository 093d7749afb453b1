import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { EgressPolicy } from "./egress-policy.js";
import { nonPublicKind, parseIp } from "./ip-address.js";

const kind = (address: string) => {
  const ip = parseIp(address);
  if (!ip) throw new Error(`test address ${address} does not parse`);
  return nonPublicKind(ip);
};

describe("IP address classes", () => {
  it("marks loopback, private, link-local, CGNAT, unspecified, multicast and reserved IPv4 as not public", () => {
    for (const a of [
      "127.0.0.1",
      "127.255.1.2",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "100.127.255.254",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
    ])
      expect(kind(a), a).toBeDefined();
  });

  it("marks IPv6 loopback, unspecified, ULA, link-local and IPv4 forms inside IPv6 as not public", () => {
    for (const a of [
      "::1",
      "::",
      "[::1]",
      "fd00::1",
      "fc12:3456::1",
      "fe80::1%eth0",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:10.0.0.1",
      "::127.0.0.1",
      "64:ff9b::a9fe:a9fe",
      "2002:7f00:0001::1",
      "0:0:0:0:0:ffff:c0a8:0101",
    ])
      expect(kind(a), a).toBeDefined();
  });

  it("lets public addresses through, including ones next to the private ranges", () => {
    for (const a of [
      "8.8.8.8",
      "172.15.255.255",
      "172.32.0.0",
      "100.63.255.255",
      "100.128.0.0",
      "11.0.0.1",
      "2606:4700::1111",
      "::ffff:8.8.8.8",
    ])
      expect(kind(a), a).toBeUndefined();
  });

  it("does not parse malformed addresses", () => {
    for (const a of ["1.2.3", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "g::1", "example.com", ""])
      expect(parseIp(a), a).toBeUndefined();
  });
});

describe("MLOPS_OUTBOUND_ALLOW", () => {
  const target = (hostname: string, address: string, port = 80) => ({ hostname, port, address });

  it("refuses every non-public address by default, and says why for the log", () => {
    const strict = EgressPolicy.strict();
    expect(strict.refusal(target("localhost", "127.0.0.1"))).toMatch(/loopback/);
    expect(strict.refusal(target("metadata", "169.254.169.254"))).toMatch(/link-local/);
    expect(strict.refusal(target("x", "::ffff:10.0.0.1"))).toMatch(/private/);
    expect(strict.refusal(target("example.com", "93.184.216.34"))).toBeUndefined();
  });

  it("allows CIDRs (also in their IPv4-mapped IPv6 form), host names, and host:port", () => {
    const policy = EgressPolicy.parse(" 10.0.0.0/8, hooks.internal ,127.0.0.1:9000, fd00::/8,[::1]:81");
    expect(policy.refusal(target("a", "10.9.9.9"))).toBeUndefined();
    expect(policy.refusal(target("a", "::ffff:10.9.9.9"))).toBeUndefined();
    expect(policy.refusal(target("HOOKS.internal", "192.168.5.5"))).toBeUndefined();
    expect(policy.refusal(target("127.0.0.1", "127.0.0.1", 9000))).toBeUndefined();
    expect(policy.refusal(target("127.0.0.1", "127.0.0.1", 9001))).toBeDefined();
    expect(policy.refusal(target("[::1]", "::1", 81))).toBeUndefined();
    expect(policy.refusal(target("other.internal", "192.168.5.5"))).toBeDefined();
    expect(policy.refusal(target("fd.example", "fd00::5"))).toBeUndefined();
  });

  it("refuses malformed entries at start-up", () => {
    for (const bad of ["10.0.0.0/33", "http://x", "a b", "host:99999", "[zz]:80", "1.2.3.4/8/1"])
      expect(() => EgressPolicy.parse(bad), bad).toThrow(InputError);
  });
});
