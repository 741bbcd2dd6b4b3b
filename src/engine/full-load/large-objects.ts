/**
 * Large objects are not in any table and logical replication ignores them. Full-load copies
 * them inside the snapshot, 1 MB at a time so memory stays flat whatever their size.
 */
import type pg from 'pg';
import { ident } from '../../postgres/sql.js';

const PIECE = 1024 * 1024;

export async function copyLargeObjects(source: pg.Client, target: pg.Client): Promise<number> {
  const objects = await source.query(
    `SELECT l.oid::bigint AS oid, r.rolname AS owner FROM pg_largeobject_metadata l JOIN pg_roles r ON r.oid = l.lomowner ORDER BY l.oid`,
  );
  for (const { oid, owner } of objects.rows) {
    await target.query('SELECT lo_create($1::oid)', [oid]);
    for (let offset = 0; ; offset += PIECE) {
      const piece = await source.query('SELECT lo_get($1::oid, $2::bigint, $3::int) AS data', [oid, offset, PIECE]);
      const data: Buffer = piece.rows[0].data;
      if (data.length > 0) await target.query('SELECT lo_put($1::oid, $2::bigint, $3::bytea)', [oid, offset, data]);
      if (data.length < PIECE) break;
    }
    // ALTER LARGE OBJECT takes no parameters; the OID is an integer we read, the owner is quoted.
    await target.query(`ALTER LARGE OBJECT ${BigInt(oid).toString()} OWNER TO ${ident(owner)}`);
  }
  return objects.rowCount ?? 0;
}
