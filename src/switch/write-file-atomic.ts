/** Replacing a config file another process reads (pgbouncer.ini, the application's env file) without a torn read. */
import { chownSync, closeSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Write a file by temp file + rename in the same directory, keeping the original's mode and owner. */
export function writeFileAtomic(target: string, content: string): void {
  // A symlinked config (config management often links it) keeps its link: write where it points.
  const path = realpathSync(target);
  const st = statSync(path);
  const tmp = join(dirname(path), `.${basename(path)}.pgshift-${process.pid}-${Date.now()}.tmp`);
  const fd = openSync(tmp, 'wx', st.mode & 0o7777);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    // Only root may give a file away; otherwise the new file is ours, as the old one must have been to be writable.
    if (process.getuid?.() === 0) chownSync(tmp, st.uid, st.gid);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
}
