/**
 * Secrets under `data.$stash` (docs/semantics.md "Durability"): never plaintext in Temporal history.
 *
 * Each direct child of `data.$stash` is stored sealed, as the string
 *   whenflow:sealed:v1:<type>:<payload>
 * `<type>` is the JSON type of the plaintext (so conditions can type-match `$stash: { apiKey: String }`
 * without the key) and `<payload>` is base64url(iv(12) | authTag(16) | AES-256-GCM ciphertext of
 * JSON.stringify(value)). The `whenflow:sealed:v1:<type>:` prefix is the GCM additional data: a
 * sealed value whose type label was edited does not decrypt.
 *
 * Step code sees plaintext: the activity unseals before the step runs and seals what it leaves,
 * reusing the sealed string it started from for every value that did not change, so unchanged
 * secrets make no patch although every sealing draws a fresh IV.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { isJsonObject, type JsonObject, type JsonValue } from '../model/json';

import { IV_BYTES, isSealed, SEALED_PATTERN, SEALED_PREFIX, sealedType, TAG_BYTES, type SealedType } from '../model/sealed';

export { isSealed, SEALED_PREFIX, SEALED_TYPES, sealedType, type SealedType } from '../model/sealed';

const STASH = '$stash';
const KEY_BYTES = 32;

export const SECRET_MASK = '‹secret›';

export type StashErrorReason = 'malformed' | 'undecryptable' | 'not-an-object' | 'not-json' | 'bad-key' | 'key-missing';

export class StashError extends Error {
  constructor(
    message: string,
    readonly reason: StashErrorReason,
  ) {
    super(message);
    this.name = 'StashError';
  }
}

export class StashKeyMissingError extends StashError {
  constructor(what: string) {
    super(
      `${what}, but no stash key is configured: secrets need \`secrets.key\` in whenflow.yaml, e.g.\n` +
        '  secrets:\n    key: ${WHENFLOW_STASH_KEY}\n' +
        'with WHENFLOW_STASH_KEY set to base64 of 32 random bytes (`openssl rand -base64 32`)',
      'key-missing',
    );
    this.name = 'StashKeyMissingError';
  }
}

function jsonType(value: JsonValue): SealedType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      if (!Number.isFinite(value)) throw new StashError(`cannot seal ${String(value)}: not a JSON number`, 'not-json');
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      return 'object';
    default:
      throw new StashError(`cannot seal a value of type ${typeof value}: not JSON`, 'not-json');
  }
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new StashError(`the stash key must be ${KEY_BYTES} bytes (got ${Buffer.isBuffer(key) ? key.length : typeof key})`, 'bad-key');
  }
}

function header(type: SealedType): string {
  return `${SEALED_PREFIX}${type}:`;
}

export function sealValue(value: JsonValue, key: Buffer): string {
  checkKey(key);
  const type = jsonType(value);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(header(type), 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  const payload = Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  return header(type) + payload;
}

export function unsealValue(sealed: string, key: Buffer): JsonValue {
  checkKey(key);
  const m = typeof sealed === 'string' ? SEALED_PATTERN.exec(sealed) : null;
  const type = m?.[1] as SealedType | undefined;
  const payloadText = m?.[2];
  if (!type || payloadText === undefined) {
    throw new StashError(`malformed sealed value: expected ${SEALED_PREFIX}<type>:<base64url payload>`, 'malformed');
  }
  const payload = Buffer.from(payloadText, 'base64url');
  if (payload.length < IV_BYTES + TAG_BYTES + 1 || payload.toString('base64url') !== payloadText) {
    throw new StashError('malformed sealed value: the payload is not base64url of iv, tag and ciphertext', 'malformed');
  }
  let plaintext: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, payload.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(header(type), 'utf8'));
    decipher.setAuthTag(payload.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    plaintext = Buffer.concat([decipher.update(payload.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    // GCM cannot tell the two apart: both fail the authentication tag.
    throw new StashError('cannot decrypt sealed value: wrong stash key, or the sealed value was altered', 'undecryptable');
  }
  let value: JsonValue;
  try {
    value = JSON.parse(plaintext) as JsonValue;
  } catch {
    throw new StashError('malformed sealed value: the decrypted text is not JSON', 'malformed');
  }
  if (jsonType(value) !== type) {
    throw new StashError(`malformed sealed value: labelled ${type} but holds ${jsonType(value)}`, 'malformed');
  }
  return value;
}

/** JSON deep equality; object key order does not matter. */
function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i] as JsonValue));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k] as JsonValue, b[k] as JsonValue));
}

function stashOf(data: JsonObject): JsonObject | undefined {
  if (!Object.hasOwn(data, STASH) || data[STASH] === undefined) return undefined;
  const stash = data[STASH];
  if (!isJsonObject(stash)) {
    const found = stash === null ? 'null' : Array.isArray(stash) ? 'an array' : `a ${typeof stash}`;
    throw new StashError(`data.$stash must be an object (one secret per key), not ${found}`, 'not-an-object');
  }
  return stash;
}

function keyPath(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `data.$stash.${name}` : `data.$stash[${JSON.stringify(name)}]`;
}

function withPath(error: unknown, name: string): never {
  if (error instanceof StashError && !(error instanceof StashKeyMissingError)) {
    throw new StashError(`${keyPath(name)}: ${error.message}`, error.reason);
  }
  throw error;
}

/**
 * Seals every direct child of `data.$stash` that is not sealed yet. A child whose plaintext equals
 * the plaintext of the sealed value at the same key in `previous` keeps that sealed string.
 */
export function sealStash(data: JsonObject, key: Buffer | null, previous?: JsonObject): JsonObject {
  const stash = stashOf(data);
  if (!stash) return data;
  const entries = Object.entries(stash);
  const toSeal = entries.filter(([, v]) => !isSealed(v));
  if (toSeal.length === 0) return data;
  if (!key) throw new StashKeyMissingError(`data.$stash holds ${toSeal.map(([k]) => keyPath(k)).join(', ')}`);
  let before: JsonObject | undefined;
  try {
    before = previous ? stashOf(previous) : undefined;
  } catch {
    before = undefined; // a broken previous stash only means nothing can be reused
  }
  const sealed = entries.map(([name, value]): [string, JsonValue] => {
    if (isSealed(value)) return [name, value];
    const old = before && Object.hasOwn(before, name) ? before[name] : undefined;
    if (isSealed(old)) {
      try {
        if (jsonEqual(unsealValue(old, key), value)) return [name, old];
      } catch {
        // sealed under another key or damaged: seal afresh
      }
    }
    try {
      return [name, sealValue(value, key)];
    } catch (error) {
      return withPath(error, name);
    }
  });
  return { ...data, [STASH]: Object.fromEntries(sealed) };
}

/** Decrypts every sealed direct child of `data.$stash`; other children are left as they are. */
export function unsealStash(data: JsonObject, key: Buffer | null): JsonObject {
  const stash = stashOf(data);
  if (!stash) return data;
  const entries = Object.entries(stash);
  const sealedNames = entries.filter(([, v]) => isSealed(v)).map(([k]) => k);
  if (sealedNames.length === 0) return data;
  if (!key) throw new StashKeyMissingError(`data.$stash holds sealed ${sealedNames.map(keyPath).join(', ')}`);
  const plain = entries.map(([name, value]): [string, JsonValue] => {
    if (!isSealed(value)) return [name, value];
    try {
      return [name, unsealValue(value, key)];
    } catch (error) {
      return withPath(error, name);
    }
  });
  return { ...data, [STASH]: Object.fromEntries(plain) };
}

const MIN_SECRET_CHARS = 4;

/**
 * The texts to mask in logs and messages: every string of at least 4 characters anywhere inside the
 * plaintext `$stash` (and the decimal form of numbers that long), plus the JSON-escaped form of a
 * string when it differs (so `JSON.stringify` output is masked too). Longest first, no duplicates.
 */
export function stashSecrets(plainData: JsonObject): string[] {
  const found = new Set<string>();
  const add = (text: string) => {
    if (text.length < MIN_SECRET_CHARS) return;
    found.add(text);
    const escaped = JSON.stringify(text).slice(1, -1);
    if (escaped !== text) found.add(escaped);
  };
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      if (!isSealed(value)) add(value);
    } else if (typeof value === 'number') {
      if (Number.isFinite(value)) add(String(value));
    } else if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (typeof value === 'object' && value !== null) {
      Object.values(value).forEach(walk);
    }
  };
  if (Object.hasOwn(plainData, STASH)) walk(plainData[STASH]);
  return [...found].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Replaces every occurrence of every secret with `‹secret›`. Occurrences are found in the original
 * text (never inside a mask already written), and overlapping ones become one mask, so no part of a
 * longer secret survives because a shorter one matched first.
 */
export function maskSecrets(text: string, secrets: string[]): string {
  const ranges: [number, number][] = [];
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) ranges.push([at, at + secret.length]);
  }
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let cursor = 0;
  let current: [number, number] | undefined;
  for (const range of ranges) {
    if (current && range[0] < current[1]) {
      current[1] = Math.max(current[1], range[1]);
      continue;
    }
    if (current) {
      out += text.slice(cursor, current[0]) + SECRET_MASK;
      cursor = current[1];
    }
    current = [range[0], range[1]];
  }
  if (current) {
    out += text.slice(cursor, current[0]) + SECRET_MASK;
    cursor = current[1];
  }
  return out + text.slice(cursor);
}

/**
 * For CLI output: every sealed value (wherever it is) becomes `‹sealed <type>›`; a child of `$stash`
 * that is not sealed (data not sealed yet) becomes `‹secret›`, as does a `$stash` that is no object.
 */
export function maskStashForDisplay(data: JsonObject): JsonObject {
  const walk = (value: JsonValue): JsonValue => {
    if (isSealed(value)) return `‹sealed ${sealedType(value)}›`;
    if (Array.isArray(value)) return value.map(walk);
    if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const out = walk(data) as JsonObject;
  if (Object.hasOwn(data, STASH) && data[STASH] !== undefined) {
    const stash = data[STASH];
    out[STASH] = isJsonObject(stash)
      ? Object.fromEntries(Object.entries(stash).map(([k, v]) => [k, isSealed(v) ? `‹sealed ${sealedType(v)}›` : SECRET_MASK]))
      : SECRET_MASK;
  }
  return out;
}

/**
 * Seals every string in `value` that contains a secret, e.g. the arguments of a deferred connector
 * call (they are recorded in history as the call's activity input). `unsealStrings` undoes it.
 */
export function sealSecretStrings(value: JsonValue, secrets: readonly string[], key: Buffer | null): JsonValue {
  if (secrets.length === 0 || key === null) return value;
  if (typeof value === 'string') return secrets.some((secret) => value.includes(secret)) ? sealValue(value, key) : value;
  if (Array.isArray(value)) return value.map((item) => sealSecretStrings(item, secrets, key));
  if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sealSecretStrings(v, secrets, key)]));
  return value;
}

export function unsealStrings(value: JsonValue, key: Buffer | null): JsonValue {
  if (isSealed(value)) {
    if (key === null) throw new StashKeyMissingError('a value is sealed');
    return unsealValue(value, key);
  }
  if (Array.isArray(value)) return value.map((item) => unsealStrings(item, key));
  if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unsealStrings(v, key)]));
  return value;
}
