export interface ServerSecretsTable {
  name: string;
  /** base64url random bytes. */
  value: string;
  created_at: number;
}

export interface SecretTables {
  server_secrets: ServerSecretsTable;
}
