import type { JobSecretEnvStore } from "../../jobs/job-secrets.js";
import type { Store } from "../open-store.js";

export class SqlJobSecretEnvStore implements JobSecretEnvStore {
  constructor(private readonly store: Store) {}

  async put(jobId: string, env: Readonly<Record<string, string>>): Promise<void> {
    const rows = Object.entries(env).map(([name, value]) => ({ job_id: jobId, name, value }));
    if (rows.length === 0) return;
    await this.store.db.insertInto("job_secret_env").values(rows).execute();
  }

  async get(jobId: string): Promise<Record<string, string>> {
    const rows = await this.store.db
      .selectFrom("job_secret_env")
      .select(["name", "value"])
      .where("job_id", "=", jobId)
      .execute();
    return Object.fromEntries(rows.map((row) => [row.name, row.value]));
  }

  async remove(jobId: string): Promise<void> {
    await this.store.db.deleteFrom("job_secret_env").where("job_id", "=", jobId).execute();
  }
}
