import type { TestProject } from 'vitest/node';
import { startLocalServer, type LocalServer } from '../../src/rehearse/local-server.js';

export interface ServerInfo {
  major: number;
  host: string;
  port: number;
  password: string;
  binDir: string;
  dataDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    source: ServerInfo;
    target: ServerInfo;
  }
}

const info = (s: LocalServer): ServerInfo => ({
  major: s.major,
  host: s.host,
  port: s.port,
  password: s.password,
  binDir: s.binDir,
  dataDir: s.dataDir,
});

let servers: LocalServer[] = [];

/** Start the two real servers every integration test uses: a PostgreSQL 15 source (what Debian's pg_dump supports) and a 17 target (RDS). */
export async function setup(project: TestProject): Promise<void> {
  const [source, target] = await Promise.all([
    startLocalServer({ major: 15, name: 'test-source' }),
    startLocalServer({ major: 17, name: 'test-target' }),
  ]);
  servers = [source, target];
  project.provide('source', info(source));
  project.provide('target', info(target));
}

export async function teardown(): Promise<void> {
  await Promise.all(servers.map((s) => s.destroy()));
}
