import { lookup } from "node:dns/promises";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { EgressPolicy } from "./egress-policy.js";

/**
 * The one message every refused or failed outbound connection gets, whatever the cause (policy, DNS,
 * refused, reset, timeout), so that webhook logs and Label Studio answers cannot be used to map which
 * internal hosts and ports exist (docs/security.md, network egress). The cause goes to the server log.
 */
export const OUTBOUND_FAILED = "the destination is not allowed or could not be reached";

export class OutboundError extends Error {
  constructor(
    /** The real cause, for the server log only. */
    readonly reason: string,
  ) {
    super(OUTBOUND_FAILED);
    this.name = "OutboundError";
  }
}

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

export interface OutboundRequest {
  method: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Aborts the connection, the request and the reading of the response body. */
  signal: AbortSignal;
  policy: EgressPolicy;
  /**
   * Skip the address check: only for this server's own public URL, which the operator configured
   * (Label Studio tasks may point at dataset item images this server serves itself).
   */
  trusted?: boolean;
  /** DNS resolution; tests substitute one. */
  resolve?: Resolver;
}

/**
 * Sends one HTTP(S) request without following redirects. The host name is resolved first, every address
 * it resolves to is checked against the policy, and the socket connects to the checked address itself
 * (TLS still verifies the certificate against the host name), so a second DNS answer cannot swap in
 * another target between check and connect. Refusals happen before any connection is opened.
 */
export async function sendOutbound(url: URL, request: OutboundRequest): Promise<IncomingMessage> {
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new OutboundError(`unsupported scheme ${url.protocol}`);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(hostname)) addresses = [{ address: hostname, family: isIP(hostname) }];
  else {
    try {
      addresses = await (request.resolve ?? systemResolver)(hostname);
    } catch (err) {
      throw new OutboundError(`cannot resolve ${hostname}: ${(err as Error).message}`);
    }
  }
  if (addresses.length === 0) throw new OutboundError(`${hostname} resolves to no address`);
  if (!request.trusted) {
    for (const a of addresses) {
      const refusal = request.policy.refusal({ hostname, port, address: a.address });
      if (refusal) throw new OutboundError(refusal);
    }
  }
  const [target] = addresses;
  const client = url.protocol === "https:" ? https : http;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = client.request(
      {
        host: target.address,
        family: target.family,
        port,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: { ...request.headers, host: url.host },
        ...(url.protocol === "https:" && !isIP(hostname) ? { servername: hostname } : {}),
        agent: false,
        signal: request.signal,
      },
      resolve,
    );
    req.on("error", (err) => reject(new OutboundError(`${url.host}: ${err.message}`)));
    req.end(request.body);
  });
}

/**
 * Reads a response body; `take` sees each chunk's size before the chunk is kept and throws to stop (a size
 * cap). On a throw or a broken connection the socket is dropped at once, so nothing more is buffered.
 */
export async function readLimited(response: IncomingMessage, take: (bytes: number) => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let refused: unknown;
  try {
    for await (const chunk of response) {
      try {
        take((chunk as Buffer).length);
      } catch (err) {
        refused = err;
        throw err;
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    response.destroy();
    if (refused !== undefined) throw refused;
    throw new OutboundError(`reading the response: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks);
}
