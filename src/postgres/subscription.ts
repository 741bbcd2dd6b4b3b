import type pg from 'pg';
import { ident, literal } from './sql.js';

/**
 * CREATE SUBSCRIPTION carries a password in its CONNECTION string, and a failing statement is
 * written to the server log with its text (log_min_error_statement). Every subscription pgshift
 * makes goes through here: the statement is kept out of the log where this session may say so
 * (superuser settings; on RDS they may be refused, which is harmless) and the settings are
 * restored afterwards. Callers explain errors; the driver's messages do not quote the statement.
 */
export async function createSubscription(
  client: pg.Client,
  name: string,
  conninfo: string,
  publication: string,
  withOptions: string[],
): Promise<void> {
  for (const setting of ["SET log_statement = 'none'", 'SET log_min_error_statement = panic']) {
    await client.query(setting).catch(() => undefined);
  }
  try {
    await client.query(
      `CREATE SUBSCRIPTION ${ident(name)} CONNECTION ${literal(conninfo)} PUBLICATION ${ident(publication)} WITH (${withOptions.join(', ')})`,
    );
  } finally {
    await client.query('RESET log_statement').catch(() => undefined);
    await client.query('RESET log_min_error_statement').catch(() => undefined);
  }
}

/** Whether a subscription of this name exists in the current database (pg_subscription is cluster-wide). */
export async function subscriptionExists(client: pg.Client, name: string): Promise<boolean> {
  const res = await client.query(
    `SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * DISABLE, then SET (slot_name = NONE) so DROP does not reach out to the publisher (which may be
 * unreachable), then DROP. The publisher's slot is the caller's to drop, over its own connection.
 */
export async function detachAndDropSubscription(client: pg.Client, name: string): Promise<void> {
  await client.query(`ALTER SUBSCRIPTION ${ident(name)} DISABLE`);
  await client.query(`ALTER SUBSCRIPTION ${ident(name)} SET (slot_name = NONE)`);
  await client.query(`DROP SUBSCRIPTION ${ident(name)}`);
}
