import type { JsonValue } from './json';

/** One change to task data (RFC 6902 subset). Paths never index into arrays: a changed array is replaced whole. */
export type DataOperation =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: JsonValue };

/** What a step changed: the only data a step activity sends back to the workflow. */
export type DataPatch = DataOperation[];

/** One JSON Pointer token for a key (`a/b` → `a~1b`, `~` → `~0`), as RFC 6901 spells it. */
export const escapePointerToken = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** The key a JSON Pointer token stands for (the inverse of escapePointerToken). */
export const unescapePointerToken = (token: string): string => token.replace(/~1/g, '/').replace(/~0/g, '~');
