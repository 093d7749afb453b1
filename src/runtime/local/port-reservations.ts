import { readFileSync } from "node:fs";
import net from "node:net";

/**
 * Free TCP ports for rendezvous (MASTER_PORT) and a replica's `ports`: a random port BELOW the kernel's
 * ephemeral range (ip_local_port_range), checked free by binding it, then closed. Ports from the ephemeral
 * range (what binding port 0 gives) are also the local ports of outgoing connections, so one could be
 * taken by any connect() before rank 0 binds it ("Address already in use"); below the range only an
 * explicit bind can take it. Numbers held by live replicas are kept here and never handed out twice.
 * (Another program could still bind the port first; the workload then fails visibly and the attempt is
 * retried per maxRetries.)
 */
export class PortReservations {
  private readonly held = new Map<number, string>();

  /** Reserves a port for `owner` (a replica or gang id). */
  async reserve(owner: string, host: string): Promise<number> {
    for (let tries = 0; tries < 50; tries++) {
      const port = await freePort(host, candidatePort());
      if (!this.held.has(port)) {
        this.held.set(port, owner);
        return port;
      }
    }
    throw new Error("could not find a free TCP port");
  }

  /** Marks ports as taken (those of replicas found running after a restart). */
  hold(owner: string, ports: readonly number[]): void {
    for (const port of ports) this.held.set(port, owner);
  }

  release(owner: string): void {
    for (const [port, holder] of this.held) if (holder === owner) this.held.delete(port);
  }
}

const LOWEST = 20_000;

/** A random port between 20000 and the start of the ephemeral range; 0 (kernel's choice) if there is no room. */
function candidatePort(): number {
  let ephemeralStart = 32_768;
  try {
    ephemeralStart = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
    );
  } catch {
    // not Linux: the usual default
  }
  if (!Number.isInteger(ephemeralStart) || ephemeralStart - LOWEST < 1000) return 0;
  return LOWEST + Math.floor(Math.random() * (ephemeralStart - LOWEST));
}

function freePort(host: string, candidate: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    // A taken candidate: try another one.
    server.once("error", (err: NodeJS.ErrnoException) =>
      err.code === "EADDRINUSE" && candidate !== 0 ? resolve(freePort(host, candidatePort())) : reject(err),
    );
    server.listen({ port: candidate, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}
