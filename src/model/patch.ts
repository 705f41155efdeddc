import type { JsonValue } from './json';

/** One change to task data (RFC 6902 subset). Paths never index into arrays: a changed array is replaced whole. */
export type DataOperation =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: JsonValue };

/** What a step changed: the only data a step activity sends back to the workflow. */
export type DataPatch = DataOperation[];
