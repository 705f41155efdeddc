/**
 * The form of a sealed `$stash` value, without any cryptography: the workflow (conditions type-match
 * sealed values) must recognise one without holding the key. Sealing itself lives in runtime/stash.ts.
 *
 *   whenflow:sealed:v2:<type>:<keyId>:<payload>   sealed today: the key's id, bound to where it is kept
 *   whenflow:sealed:v1:<type>:<payload>           sealed before key ids; still read
 */
export const SEALED_PREFIX = 'whenflow:sealed:v2:';
export const LEGACY_SEALED_PREFIX = 'whenflow:sealed:v1:';
export const SEALED_TYPES = ['string', 'number', 'boolean', 'null', 'array', 'object'] as const;
export type SealedType = (typeof SEALED_TYPES)[number];

export const IV_BYTES = 12;
export const TAG_BYTES = 16;
/** iv + tag + at least one byte of ciphertext (JSON text is never empty), in base64url. */
const MIN_PAYLOAD_CHARS = Math.ceil(((IV_BYTES + TAG_BYTES + 1) * 4) / 3);
/** What a key id may be: it is written into every sealed value. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const SEALED_PATTERN = /^whenflow:sealed:v2:(string|number|boolean|null|array|object):([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]+)$/;
export const LEGACY_SEALED_PATTERN = /^whenflow:sealed:v1:(string|number|boolean|null|array|object):([A-Za-z0-9_-]+)$/;

export interface SealedParts {
  version: 1 | 2;
  type: SealedType;
  /** null for v1 values, which do not say which key sealed them. */
  keyId: string | null;
  payload: string;
}

/** The parts of a well-formed sealed value (prefix, known type, payload long enough); null otherwise. No crypto. */
export function sealedParts(value: unknown): SealedParts | null {
  if (typeof value !== 'string') return null;
  let parts: SealedParts | null = null;
  if (value.startsWith(SEALED_PREFIX)) {
    const m = SEALED_PATTERN.exec(value);
    if (m) parts = { version: 2, type: m[1] as SealedType, keyId: m[2] as string, payload: m[3] as string };
  } else if (value.startsWith(LEGACY_SEALED_PREFIX)) {
    const m = LEGACY_SEALED_PATTERN.exec(value);
    if (m) parts = { version: 1, type: m[1] as SealedType, keyId: null, payload: m[2] as string };
  }
  return parts && parts.payload.length >= MIN_PAYLOAD_CHARS ? parts : null;
}

/** True for a well-formed sealed value of either version. */
export function isSealed(value: unknown): value is string {
  return sealedParts(value) !== null;
}

/** The JSON type of a sealed value's plaintext, read from its label; null when not sealed. */
export function sealedType(value: unknown): SealedType | null {
  return sealedParts(value)?.type ?? null;
}
