/** Write-only environment values of a job (migration 0003_workload_scopes). */
export interface JobSecretEnvTable {
  job_id: string;
  name: string;
  value: string;
}

export interface JobSecretTables {
  job_secret_env: JobSecretEnvTable;
}
