import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../../src/model/json';
import { diffData } from '../../src/model/patch';
import { thrown } from '../support/errors';
import {
  isSealed,
  maskStashForDisplay,
  SEALED_PREFIX,
  sealedType,
  sealStash,
  sealValue,
  StashError,
  StashKeyMissingError,
  stashPlace,
  unsealStash,
  unsealValue,
} from '../../src/runtime/stash';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 9);

const EXAMPLES: [string, JsonValue][] = [
  ['string', 'sk_live_4f9a8b7c6d5e'],
  ['number', 31415926],
  ['boolean', true],
  ['null', null],
  ['array', ['tok-aaaa', 42, { deep: 'tok-bbbb' }]],
  ['object', { user: 'svc-account', password: 'hunter2-hunter2' }],
];

/** A sealed value with one base64url character of its payload replaced. */
function tamper(sealed: string, index: number): string {
  const payloadStart = sealed.lastIndexOf(':') + 1;
  const at = payloadStart + index;
  const replacement = sealed[at] === 'A' ? 'B' : 'A';
  return sealed.slice(0, at) + replacement + sealed.slice(at + 1);
}

describe('sealValue / unsealValue', () => {
  it.each(EXAMPLES)('round-trips a %s and labels it with its type', (type, value) => {
    const sealed = sealValue(value, KEY);
    expect(sealed.startsWith(`${SEALED_PREFIX}${type}:`)).toBe(true);
    expect(isSealed(sealed)).toBe(true);
    expect(sealedType(sealed)).toBe(type);
    expect(unsealValue(sealed, KEY)).toEqual(value);
  });

  it.each(EXAMPLES)('a sealed %s holds no plaintext: not the JSON text, nor its base64 or base64url', (_type, value) => {
    const json = JSON.stringify(value);
    const sealed = sealValue(value, KEY);
    const forms = [json, Buffer.from(json).toString('base64').replace(/=+$/, ''), Buffer.from(json).toString('base64url')];
    // The type label is public by design (conditions match on it); the payload must hide the rest.
    const payloadText = sealed.slice(sealed.lastIndexOf(':') + 1);
    for (const form of forms) expect(payloadText.includes(form), form).toBe(false);
    if (typeof value === 'string') expect(sealed.includes(value)).toBe(false);
    // The payload is iv(12) + tag(16) + exactly as many ciphertext bytes as the JSON text (GCM is a stream mode).
    const payload = Buffer.from(payloadText, 'base64url');
    expect(payload.includes(Buffer.from(json))).toBe(false);
    expect(payload.length).toBe(12 + 16 + Buffer.byteLength(json));
  });

  it('draws a fresh IV each time: sealing the same value twice gives different strings', () => {
    expect(sealValue('same', KEY)).not.toBe(sealValue('same', KEY));
  });

  it('the wrong key is a StashError (undecryptable)', () => {
    const error = thrown(() => unsealValue(sealValue('s3cr3t-value', KEY), OTHER_KEY));
    expect(error).toBeInstanceOf(StashError);
    expect((error as StashError).reason).toBe('undecryptable');
    expect(error.message).toMatch(/wrong stash key/);
  });

  it.each([
    ['the iv', 2],
    ['the auth tag', 20],
    ['the ciphertext', 40],
  ])('a payload altered in %s is a StashError (undecryptable)', (_where, index) => {
    const sealed = sealValue('a-secret-long-enough-for-the-index', KEY);
    const error = thrown(() => unsealValue(tamper(sealed, index), KEY));
    expect(error).toBeInstanceOf(StashError);
    expect((error as StashError).reason).toBe('undecryptable');
    expect(error.message).toMatch(/altered/);
  });

  it('an edited type label does not decrypt (the label is authenticated)', () => {
    const sealed = sealValue('12345', KEY);
    const relabelled = sealed.replace(':string:', ':number:');
    expect(sealedType(relabelled)).toBe('number');
    const error = thrown(() => unsealValue(relabelled, KEY));
    expect((error as StashError).reason).toBe('undecryptable');
  });

  it.each([
    ['no prefix', 'hello'],
    ['unknown type', `${SEALED_PREFIX}date:${'A'.repeat(60)}`],
    ['payload too short', `${SEALED_PREFIX}string:AAAA`],
    ['payload not base64url', `${SEALED_PREFIX}string:${'A'.repeat(50)}+/`],
  ])('a malformed sealed value (%s) is a StashError (malformed)', (_what, text) => {
    const error = thrown(() => unsealValue(text, KEY));
    expect(error).toBeInstanceOf(StashError);
    expect((error as StashError).reason).toBe('malformed');
  });

  it('a key that is not 32 bytes is refused', () => {
    expect((thrown(() => sealValue('x', Buffer.alloc(16))) as StashError).reason).toBe('bad-key');
  });

  it('isSealed / sealedType need the full form, not just the prefix', () => {
    expect(isSealed(`${SEALED_PREFIX}string:`)).toBe(false);
    expect(isSealed(`${SEALED_PREFIX}string:short`)).toBe(false);
    expect(isSealed(42)).toBe(false);
    expect(sealedType('plain text')).toBeNull();
    expect(sealedType(sealValue([1], KEY))).toBe('array');
  });
});

describe('sealStash / unsealStash', () => {
  const plain: JsonObject = { order: { id: 7 }, $stash: { apiKey: 'key-abcdef-123456', pin: 4321, creds: { u: 'me', p: 'pw-pw-pw' } } };

  it('seals every direct child of $stash and nothing else; unsealStash restores them', () => {
    const sealed = sealStash(plain, KEY);
    const stash = sealed.$stash as JsonObject;
    expect(Object.keys(stash)).toEqual(['apiKey', 'pin', 'creds']);
    expect(Object.values(stash).every(isSealed)).toBe(true);
    expect(Object.values(stash).map(sealedType)).toEqual(['string', 'number', 'object']);
    expect(sealed.order).toEqual({ id: 7 });
    expect(JSON.stringify(sealed)).not.toContain('key-abcdef-123456');
    expect(JSON.stringify(sealed)).not.toContain('pw-pw-pw');
    expect(plain.$stash).toEqual({ apiKey: 'key-abcdef-123456', pin: 4321, creds: { u: 'me', p: 'pw-pw-pw' } }); // input untouched
    expect(unsealStash(sealed, KEY)).toEqual(plain);
  });

  it('reuses the sealed string of an unchanged value and re-seals a changed one: the diff names only the changed key', () => {
    const previous = sealStash({ a: 1, $stash: { keep: 'unchanged-secret', change: 'old-secret', obj: { x: 1, y: 2 } } }, KEY);
    const stepView = unsealStash(previous, KEY);
    // The step changes one secret; key order inside an unchanged object does not count as a change.
    const after: JsonObject = { ...stepView, $stash: { keep: 'unchanged-secret', change: 'new-secret', obj: { y: 2, x: 1 } } };
    const next = sealStash(after, KEY, previous);
    const prevStash = previous.$stash as JsonObject;
    const nextStash = next.$stash as JsonObject;
    expect(nextStash.keep).toBe(prevStash.keep);
    expect(nextStash.obj).toBe(prevStash.obj);
    expect(nextStash.change).not.toBe(prevStash.change);
    expect(unsealValue(nextStash.change as string, KEY, stashPlace('change'))).toBe('new-secret');
    expect(diffData(previous, next).map((op) => [op.op, op.path])).toEqual([['replace', '/$stash/change']]);
  });

  it('without previous, every value is sealed afresh (so reuse is what keeps the patch empty)', () => {
    const previous = sealStash({ $stash: { keep: 'unchanged-secret' } }, KEY);
    const again = sealStash(unsealStash(previous, KEY), KEY);
    expect((again.$stash as JsonObject).keep).not.toBe((previous.$stash as JsonObject).keep);
    expect(diffData(previous, sealStash(unsealStash(previous, KEY), KEY, previous))).toEqual([]);
  });

  it('does not reuse a previous value sealed under another key', () => {
    const previous = sealStash({ $stash: { s: 'same-plaintext' } }, OTHER_KEY);
    const next = sealStash({ $stash: { s: 'same-plaintext' } }, KEY, previous);
    expect((next.$stash as JsonObject).s).not.toBe((previous.$stash as JsonObject).s);
    expect(unsealStash(next, KEY)).toEqual({ $stash: { s: 'same-plaintext' } });
  });

  it('already-sealed values pass through untouched, even without a key', () => {
    const sealedChild = sealValue('from-outside', KEY);
    const data: JsonObject = { $stash: { s: sealedChild } };
    expect(sealStash(data, null)).toEqual(data);
    const mixed = sealStash({ $stash: { s: sealedChild, t: 'new-value' } }, KEY);
    expect((mixed.$stash as JsonObject).s).toBe(sealedChild);
    expect(isSealed((mixed.$stash as JsonObject).t)).toBe(true);
  });

  it('data without $stash comes back as it is', () => {
    const data: JsonObject = { a: { b: [1, 2] } };
    expect(sealStash(data, null)).toBe(data);
    expect(unsealStash(data, null)).toBe(data);
    expect(sealStash({ $stash: {} }, null)).toEqual({ $stash: {} });
  });

  it.each([
    ['a string', 'oops'],
    ['null', null],
    ['an array', ['x']],
  ])('$stash that is %s is a StashError', (_what, value) => {
    const error = thrown(() => sealStash({ $stash: value }, KEY));
    expect(error).toBeInstanceOf(StashError);
    expect((error as StashError).reason).toBe('not-an-object');
    expect((thrown(() => unsealStash({ $stash: value }, KEY)) as StashError).reason).toBe('not-an-object');
  });

  it('sealing without a key is StashKeyMissingError pointing at secrets.key in whenflow.yaml', () => {
    const error = thrown(() => sealStash({ $stash: { apiKey: 'abc-def-ghi' } }, null));
    expect(error).toBeInstanceOf(StashKeyMissingError);
    expect(error).toBeInstanceOf(StashError);
    expect(error.message).toContain('secrets.key');
    expect(error.message).toContain('whenflow.yaml');
    expect(error.message).toContain('key: ${WHENFLOW_STASH_KEY}');
    expect(error.message).toContain('data.$stash.apiKey');
    expect(error.message).not.toContain('abc-def-ghi');
  });

  it('unsealing sealed values without a key is StashKeyMissingError; wrong key names the value', () => {
    const sealed = sealStash({ $stash: { token: 'tok-123456' } }, KEY);
    expect(thrown(() => unsealStash(sealed, null))).toBeInstanceOf(StashKeyMissingError);
    const wrong = thrown(() => unsealStash(sealed, OTHER_KEY));
    expect((wrong as StashError).reason).toBe('undecryptable');
    expect(wrong.message).toContain('data.$stash.token');
  });

  it('property: unsealStash(sealStash(x, k), k) equals x, and every $stash child of the sealed form is sealed with the right type', () => {
    // JSON text round trip: task data holds no -0 (to-json normalises it) and no undefined.
    const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);
    const typeOf = (v: JsonValue) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
    fc.assert(
      fc.property(fc.dictionary(fc.string(), json, { maxKeys: 4 }), fc.dictionary(fc.string(), json, { maxKeys: 5 }), (rest, stash) => {
        const data: JsonObject = { ...rest, $stash: stash };
        const sealed = sealStash(data, KEY);
        for (const [k, v] of Object.entries(stash)) {
          const s = (sealed.$stash as JsonObject)[k];
          expect(isSealed(s)).toBe(true);
          expect(sealedType(s)).toBe(typeOf(v));
        }
        expect(unsealStash(sealed, KEY)).toEqual(data);
        expect(sealStash(unsealStash(sealed, KEY), KEY, sealed)).toEqual(sealed);
      }),
      { numRuns: 200 },
    );
  });
});

describe('maskStashForDisplay', () => {
  it('shows sealed values as their type only, masks plaintext stash values, leaves the rest', () => {
    const key = randomBytes(32);
    const sealed = sealStash({ order: 'A-1', $stash: { apiKey: 'k-123456', limits: [1, 2] } }, key);
    const withPlain: JsonObject = { ...sealed, $stash: { ...(sealed.$stash as JsonObject), raw: 'plain-secret' } };
    const shown = maskStashForDisplay(withPlain);
    expect(shown).toEqual({ order: 'A-1', $stash: { apiKey: '‹sealed string›', limits: '‹sealed array›', raw: '‹secret›' } });
    expect(JSON.stringify(shown)).not.toContain(SEALED_PREFIX);
    expect((withPlain.$stash as JsonObject).raw).toBe('plain-secret'); // input untouched
    expect(maskStashForDisplay({ a: 1 })).toEqual({ a: 1 });
  });
});
