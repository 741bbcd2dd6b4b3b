/**
 * The application in the fault tests: one row per transaction into `public.write_ledger`, each id recorded
 * only once its COMMIT was acknowledged — the ledger that proves no acknowledged write was lost.
 */
import pg from 'pg';

export function startLedgerWriter(url: string) {
  const acknowledged: number[] = [];
  const failures: string[] = [];
  let stop = false;
  const done = (async () => {
    const c = new pg.Client({ connectionString: url, application_name: 'ledger-writer' });
    c.on('error', () => undefined);
    await c.connect();
    for (let id = 1; !stop; id++) {
      try {
        await c.query('INSERT INTO public.write_ledger (id, note) VALUES ($1, $2)', [id, `write ${id}`]);
        acknowledged.push(id);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    await c.end();
  })();
  return {
    acknowledged,
    failures,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}
