import pg from 'pg';

/** Quote one identifier ("My Table" -> "My Table" with inner quotes doubled). */
export const ident = (name: string): string => pg.escapeIdentifier(name);

/** Quote schema.name. */
export const qualified = (schema: string, name: string): string => `${ident(schema)}.${ident(name)}`;

/**
 * Quote a literal for the few statements that take no bind parameters
 * (DDL such as CREATE SUBSCRIPTION ... CONNECTION, and replication-protocol commands).
 */
export const literal = (value: string): string => pg.escapeLiteral(value);

/** A table or sequence as schema + name, never as a pasted string. */
export interface RelationName {
  schema: string;
  name: string;
}

export const relationKey = (r: RelationName): string => `${r.schema}.${r.name}`;
export const quoteRelation = (r: RelationName): string => qualified(r.schema, r.name);
