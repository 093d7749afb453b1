import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { INetworkPolicyPeer } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer";
import type { INetworkPolicyPort } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort";

/**
 * A NetworkPolicy evaluator for tests: would a connection from one endpoint to another be allowed by the
 * policies of one namespace, as the Kubernetes NetworkPolicy semantics define it (a Pod selected by no policy
 * of a direction is open in that direction; otherwise some rule must match). matchLabels only, IPv4 only.
 */
export interface Endpoint {
  /** Labels of the Pod; absent for an address outside the cluster. */
  labels?: Record<string, string>;
  namespaceLabels?: Record<string, string>;
  ip: string;
}

function selects(
  selector: { matchLabels?: Record<string, string> } | undefined,
  labels: Record<string, string>,
) {
  return Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function ipv4(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base = "", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base) / size);
}

function peerMatches(peer: INetworkPolicyPeer, other: Endpoint, sameNamespace: boolean): boolean {
  if (peer.ipBlock) {
    return (
      inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(other.ip, c))
    );
  }
  if (!other.labels) return false;
  if (peer.namespaceSelector) {
    return (
      selects(peer.namespaceSelector, other.namespaceLabels ?? {}) && selects(peer.podSelector, other.labels)
    );
  }
  return sameNamespace && selects(peer.podSelector, other.labels);
}

function portMatches(ports: INetworkPolicyPort[] | undefined, port: number): boolean {
  return !ports || ports.length === 0 || ports.some((p) => p.port === undefined || p.port === port);
}

function direction(
  policies: INetworkPolicy[],
  pod: Endpoint,
  other: Endpoint,
  port: number,
  type: "Ingress" | "Egress",
  sameNamespace: boolean,
): boolean {
  if (!pod.labels) return true; // outside the cluster: not governed by these policies
  const selecting = policies.filter(
    (p) =>
      selects(p.spec?.podSelector, pod.labels ?? {}) && (p.spec?.policyTypes ?? ["Ingress"]).includes(type),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) => {
    const rules = type === "Ingress" ? (p.spec?.ingress ?? []) : (p.spec?.egress ?? []);
    return rules.some((rule) => {
      const peers = "from" in rule ? rule.from : "to" in rule ? rule.to : undefined;
      const peerOk =
        !peers || peers.length === 0 || peers.some((peer) => peerMatches(peer, other, sameNamespace));
      return peerOk && portMatches(rule.ports, port);
    });
  });
}

/** `from` and `to` in the policies' namespace unless namespaceLabels say otherwise. */
export function connectionAllowed(
  policies: INetworkPolicy[],
  from: Endpoint,
  to: Endpoint,
  port: number,
): boolean {
  const sameNamespace = !from.namespaceLabels && !to.namespaceLabels;
  return (
    direction(policies, from, to, port, "Egress", sameNamespace) &&
    direction(policies, to, from, port, "Ingress", sameNamespace)
  );
}
