/**
 * How schema changes are handled while the source replicates (docs/design.md rule 6):
 *   replay  captured on the source, replayed on the target in stream order (the default)
 *   freeze  refused on the source before any lock is taken
 *   off     neither: a DDL stops the apply worker on the next change to that table
 */
export const DDL_MODES = ['replay', 'freeze', 'off'] as const;
export type DdlMode = (typeof DDL_MODES)[number];
export const DEFAULT_DDL_MODE: DdlMode = 'replay';
