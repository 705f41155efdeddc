/**
 * The form of a sealed `$stash` value, without any cryptography: the workflow (conditions type-match
 * sealed values) must recognise one without holding the key. Sealing itself lives in runtime/stash.ts.
 */
export const SEALED_PREFIX = 'whenflow:sealed:v1:';
export const SEALED_TYPES = ['string', 'number', 'boolean', 'null', 'array', 'object'] as const;
export type SealedType = (typeof SEALED_TYPES)[number];

export const IV_BYTES = 12;
export const TAG_BYTES = 16;
/** iv + tag + at least one byte of ciphertext (JSON text is never empty), in base64url. */
const MIN_PAYLOAD_CHARS = Math.ceil(((IV_BYTES + TAG_BYTES + 1) * 4) / 3);
export const SEALED_PATTERN = /^whenflow:sealed:v1:(string|number|boolean|null|array|object):([A-Za-z0-9_-]+)$/;

/** True for a well-formed sealed value (prefix, known type, payload long enough); no crypto. */
export function isSealed(value: unknown): value is string {
  if (typeof value !== 'string' || !value.startsWith(SEALED_PREFIX)) return false;
  const m = SEALED_PATTERN.exec(value);
  return m !== null && (m[2] ?? '').length >= MIN_PAYLOAD_CHARS;
}

/** The JSON type of a sealed value's plaintext, read from its label; null when not sealed. */
export function sealedType(value: unknown): SealedType | null {
  if (!isSealed(value)) return null;
  return (SEALED_PATTERN.exec(value)?.[1] as SealedType | undefined) ?? null;
}
