/**
 * Secrets under `data.$stash` (docs/semantics.md "Secrets"): never plaintext in Temporal history.
 *
 * Each direct child of `data.$stash` is stored sealed, as the string
 *   whenflow:sealed:v2:<type>:<keyId>:<payload>
 * `<type>` is the JSON type of the plaintext (so conditions can type-match `$stash: { apiKey: String }`
 * without the key), `<keyId>` names the key that sealed it, and `<payload>` is base64url(iv(12) |
 * authTag(16) | AES-256-GCM ciphertext of JSON.stringify(value)). The GCM additional data is the
 * `whenflow:sealed:v2:<type>:<keyId>:` prefix followed by the value's place (`/$stash/apiKey`, or a
 * deferred call's argument): an edited label, or a sealed value copied to another key or into another
 * call's arguments, does not decrypt.
 *
 * Several keys may be configured: the first seals, any opens (the one named by the value first), so
 * keys can be rotated while tasks are parked. Values sealed before key ids and places existed
 * (`whenflow:sealed:v1:<type>:<payload>`, additional data the prefix alone) still open with any key.
 *
 * Step code sees plaintext: the activity unseals before the step runs and seals what it leaves,
 * reusing the sealed string it started from for every value that did not change, so unchanged
 * secrets make no patch although every sealing draws a fresh IV. A value is sealed with the current
 * first key (and in today's form) when a step changes it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { formatJsonPath, isJsonObject, jsonEqual, type JsonObject, type JsonValue } from '../model/json';
import {
  IV_BYTES,
  isSealed,
  KEY_ID_PATTERN,
  LEGACY_SEALED_PREFIX,
  SEALED_PREFIX,
  sealedParts,
  sealedType,
  TAG_BYTES,
  type SealedType,
} from '../model/sealed';
import { SECRET_MASK, SecretMask } from './mask';
import { FinalError, brandError } from '../model/errors';
import { childPointer, toPointer } from '../model/patch';

export { isSealed, SEALED_PREFIX, SEALED_TYPES, sealedType, type SealedType } from '../model/sealed';
export { SECRET_MASK } from './mask';

const STASH = '$stash';
const KEY_BYTES = 32;
/** The id of a key given alone (`secrets.key`, the machine's own key, a Buffer passed to the client). */
export const DEFAULT_KEY_ID = 'default';

/** One stash key and the id written into every value it seals. */
export interface StashKey {
  id: string;
  key: Buffer;
}
/** One key (its id is `default`), or several: the first seals, any opens. */
export type StashKeys = Buffer | readonly StashKey[];

export type StashErrorReason = 'malformed' | 'undecryptable' | 'not-an-object' | 'not-json' | 'bad-key' | 'key-missing';

export class StashError extends FinalError {
  static {
    brandError(StashError, 'StashError');
  }

  constructor(
    message: string,
    readonly reason: StashErrorReason,
  ) {
    super(message);
  }
}

export class StashKeyMissingError extends StashError {
  static {
    brandError(StashKeyMissingError, 'StashKeyMissingError');
  }

  constructor(what: string) {
    super(
      `${what}, but no stash key is configured: secrets need \`secrets.key\` in whenflow.yaml, e.g.\n` +
        '  secrets:\n    key: ${WHENFLOW_STASH_KEY}\n' +
        'with WHENFLOW_STASH_KEY set to base64 of 32 random bytes (`openssl rand -base64 32`)',
      'key-missing',
    );
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

/** The keys as a list, checked: 32 bytes each, ids well-formed and distinct. */
export function stashKeyring(keys: StashKeys): StashKey[] {
  const ring = Buffer.isBuffer(keys) ? [{ id: DEFAULT_KEY_ID, key: keys }] : [...keys];
  if (ring.length === 0) throw new StashError('no stash key given', 'bad-key');
  const ids = new Set<string>();
  for (const { id, key } of ring) {
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
      throw new StashError(
        `the stash key ${JSON.stringify(id)} must be ${KEY_BYTES} bytes (got ${Buffer.isBuffer(key) ? key.length : typeof key})`,
        'bad-key',
      );
    }
    if (typeof id !== 'string' || !KEY_ID_PATTERN.test(id))
      throw new StashError(`stash key id ${JSON.stringify(id)} must be 1 to 64 letters, digits, "_" or "-"`, 'bad-key');
    if (ids.has(id)) throw new StashError(`stash key id ${JSON.stringify(id)} is given twice`, 'bad-key');
    ids.add(id);
  }
  return ring;
}

function header(type: SealedType, keyId: string): string {
  return `${SEALED_PREFIX}${type}:${keyId}:`;
}

/** Where a `$stash` child is kept: the place its seal is bound to. */
export function stashPlace(name: string): string {
  return toPointer([STASH, name]);
}

/**
 * Seals one value with the first key, bound to `place` (where it is kept, e.g. `/$stash/apiKey`):
 * it opens only with the same place.
 */
export function sealValue(value: JsonValue, keys: StashKeys, place = ''): string {
  const [first] = stashKeyring(keys);
  const { id, key } = first as StashKey;
  const type = jsonType(value);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(header(type, id) + place, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  const payload = Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  return header(type, id) + payload;
}

function decrypt(payload: Buffer, key: Buffer, aad: string): string | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, payload.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(payload.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(payload.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/**
 * Opens a sealed value kept at `place` (as it was sealed). The key the value names is tried first,
 * then the others (a key may have been given another id since); a value sealed before places and
 * key ids (v1) opens wherever it is, with any key.
 */
export function unsealValue(sealed: string, keys: StashKeys, place = ''): JsonValue {
  const ring = stashKeyring(keys);
  const parts = sealedParts(sealed);
  if (!parts) {
    throw new StashError(`malformed sealed value: expected ${SEALED_PREFIX}<type>:<key id>:<base64url payload>`, 'malformed');
  }
  const payload = Buffer.from(parts.payload, 'base64url');
  if (payload.length < IV_BYTES + TAG_BYTES + 1 || payload.toString('base64url') !== parts.payload) {
    throw new StashError('malformed sealed value: the payload is not base64url of iv, tag and ciphertext', 'malformed');
  }
  const aad = parts.keyId === null ? `${LEGACY_SEALED_PREFIX}${parts.type}:` : header(parts.type, parts.keyId) + place;
  const tried = parts.keyId === null ? ring : [...ring.filter((k) => k.id === parts.keyId), ...ring.filter((k) => k.id !== parts.keyId)];
  let plaintext: string | null = null;
  for (const { key } of tried) {
    plaintext = decrypt(payload, key, aad);
    if (plaintext !== null) break;
  }
  if (plaintext === null) {
    // GCM cannot tell these apart: all fail the authentication tag.
    const named =
      parts.keyId === null
        ? ''
        : ` (sealed with key id ${JSON.stringify(parts.keyId)}${ring.some((k) => k.id === parts.keyId) ? '' : `, which is not configured: configured are ${ring.map((k) => JSON.stringify(k.id)).join(', ')}`})`;
    throw new StashError(
      `cannot decrypt sealed value${named}: wrong stash key, the sealed value was altered, or it was sealed for another place (a sealed value opens only where it was sealed${place ? `, and this is ${place}` : ''})`,
      'undecryptable',
    );
  }
  let value: JsonValue;
  try {
    value = JSON.parse(plaintext) as JsonValue;
  } catch {
    throw new StashError('malformed sealed value: the decrypted text is not JSON', 'malformed');
  }
  if (jsonType(value) !== parts.type) {
    throw new StashError(`malformed sealed value: labelled ${parts.type} but holds ${jsonType(value)}`, 'malformed');
  }
  return value;
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
  return formatJsonPath([STASH, name], 'data');
}

function withPath(error: unknown, name: string): never {
  if (error instanceof StashError && !(error instanceof StashKeyMissingError)) {
    throw new StashError(`${keyPath(name)}: ${error.message}`, error.reason);
  }
  throw error;
}

/**
 * Seals every direct child of `data.$stash` that is not sealed yet, each bound to its place. A child
 * whose plaintext equals the plaintext of the sealed value at the same key in `previous` keeps that
 * sealed string, whichever configured key (or form, v1 included) sealed it: re-sealing unchanged values
 * would make every step of a parallel batch write them, which the merge takes for conflicting writes.
 */
export function sealStash(data: JsonObject, keys: StashKeys | null, previous?: JsonObject): JsonObject {
  const stash = stashOf(data);
  if (!stash) return data;
  const entries = Object.entries(stash);
  const toSeal = entries.filter(([, v]) => !isSealed(v));
  if (toSeal.length === 0) return data;
  if (!keys) throw new StashKeyMissingError(`data.$stash holds ${toSeal.map(([k]) => keyPath(k)).join(', ')}`);
  const ring = stashKeyring(keys);
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
        if (jsonEqual(unsealValue(old, ring, stashPlace(name)), value)) return [name, old];
      } catch {
        // sealed under another key or damaged: seal afresh
      }
    }
    try {
      return [name, sealValue(value, ring, stashPlace(name))];
    } catch (error) {
      return withPath(error, name);
    }
  });
  return { ...data, [STASH]: Object.fromEntries(sealed) };
}

/** Decrypts every sealed direct child of `data.$stash` (each at its own place); other children are left as they are. */
export function unsealStash(data: JsonObject, keys: StashKeys | null): JsonObject {
  const stash = stashOf(data);
  if (!stash) return data;
  const entries = Object.entries(stash);
  const sealedNames = entries.filter(([, v]) => isSealed(v)).map(([k]) => k);
  if (sealedNames.length === 0) return data;
  if (!keys) throw new StashKeyMissingError(`data.$stash holds sealed ${sealedNames.map(keyPath).join(', ')}`);
  const ring = stashKeyring(keys);
  const plain = entries.map(([name, value]): [string, JsonValue] => {
    if (!isSealed(value)) return [name, value];
    try {
      return [name, unsealValue(value, ring, stashPlace(name))];
    } catch (error) {
      return withPath(error, name);
    }
  });
  return { ...data, [STASH]: Object.fromEntries(plain) };
}

/** The mask for the secrets of plaintext data: every string and number anywhere under its `$stash`. */
export function stashMask(plainData: JsonObject): SecretMask {
  return Object.hasOwn(plainData, STASH) ? SecretMask.of(plainData[STASH]) : SecretMask.NONE;
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

/** The place a deferred call's sealed arguments are bound to: they open only as that call's arguments. */
export function callArgsPlace(connector: string, method: string): string {
  return `connectors.${connector}.${method}(args)`;
}

/**
 * Seals every string of a deferred call's arguments that holds a secret, and every number that is one
 * (they are recorded in history as the call's activity input), each bound to its place in the
 * arguments. `unsealArgs` undoes it.
 */
export function sealSecretArgs(value: JsonValue, mask: SecretMask, keys: StashKeys | null, place: string): JsonValue {
  if (mask.isEmpty || keys === null) return value;
  if (typeof value === 'string') return !isSealed(value) && mask.finds(value) ? sealValue(value, keys, place) : value;
  if (typeof value === 'number') return mask.finds(String(value)) ? sealValue(value, keys, place) : value;
  if (Array.isArray(value)) return value.map((item, i) => sealSecretArgs(item, mask, keys, `${place}/${i}`));
  if (isJsonObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sealSecretArgs(v, mask, keys, childPointer(place, k))]));
  return value;
}

/** Opens what `sealSecretArgs` sealed; `found` receives every plaintext opened (the call's secrets). */
export function unsealArgs(value: JsonValue, keys: StashKeys | null, place: string, found?: JsonValue[]): JsonValue {
  if (isSealed(value)) {
    if (keys === null) throw new StashKeyMissingError(`a connector argument (${place}) is sealed`);
    const plain = unsealValue(value, keys, place);
    found?.push(plain);
    return plain;
  }
  if (Array.isArray(value)) return value.map((item, i) => unsealArgs(item, keys, `${place}/${i}`, found));
  if (isJsonObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unsealArgs(v, keys, childPointer(place, k), found)]));
  return value;
}

/** The place a deferred call's list of secrets is bound to. */
export function callSecretsPlace(connector: string, method: string): string {
  return `connectors.${connector}.${method}(secrets)`;
}

/**
 * The secrets of the step that deferred a call, sealed for the call's activity: it masks them in the
 * call's failure and result as the step would. Null when there are none.
 */
export function sealCallSecrets(mask: SecretMask, keys: StashKeys | null, connector: string, method: string): string | null {
  if (mask.isEmpty || keys === null) return null;
  return sealValue([...mask.secrets], keys, callSecretsPlace(connector, method));
}

/**
 * The mask a deferred call's activity uses: the step's secrets the call carries; for a call scheduled
 * before calls carried them, every argument that was sealed, whole.
 */
export function callMask(
  sealedSecrets: string | undefined,
  openedArgs: readonly JsonValue[],
  keys: StashKeys | null,
  connector: string,
  method: string,
): SecretMask {
  if (sealedSecrets === undefined || keys === null) return SecretMask.of(openedArgs);
  return SecretMask.of(unsealValue(sealedSecrets, keys, callSecretsPlace(connector, method)));
}
