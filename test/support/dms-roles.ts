/**
 * The login roles the DMS tests need on both servers (roles are cluster-wide), as runbooks/dms.md sets the DMS
 * user up: it may read the slot and read and write every table. The application's role, when given, only logs in.
 */
import { ident, literal } from '../../src/postgres/sql.js';
import { admin } from './databases.js';

export async function createDmsRoles(password: string, dmsRole: string, appRole?: string): Promise<void> {
  for (const side of ['source', 'target'] as const)
    await admin(side, 'postgres', async (c) => {
      for (const [role, attrs] of [[dmsRole, 'LOGIN REPLICATION'], ...(appRole ? [[appRole, 'LOGIN']] : [])] as const) {
        const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount;
        await c.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(role)} ${attrs} PASSWORD ${literal(password)}`);
      }
      await c.query(`GRANT pg_read_all_data, pg_write_all_data TO ${ident(dmsRole)}`);
    });
}

export async function dropRoles(...roles: string[]): Promise<void> {
  for (const side of ['source', 'target'] as const)
    await admin(side, 'postgres', async (c) => {
      for (const r of roles) await c.query(`DROP ROLE IF EXISTS ${ident(r)}`).catch(() => undefined);
    });
}
