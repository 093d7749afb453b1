export interface Lease {
  name: string;
  holder: string;
  acquiredAt: number;
  renewedAt: number;
  expiresAt: number;
}

/**
 * Database-backed leases: background work that must run once across control-plane replicas
 * (scheduler, triggers, canary steps) runs only while its process holds the lease.
 */
export interface LeaseStore {
  /** Takes the lease if it is free, expired, or already ours; returns true when we hold it afterwards. */
  tryAcquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives the lease up if we hold it. */
  release(name: string, holder: string): Promise<void>;
  list(): Promise<Lease[]>;
}
