import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/model/json';
import { maskText, SECRET_MASK, SecretMask } from '../../src/runtime/mask';
import {
  callArgsPlace,
  isSealed,
  sealedType,
  sealStash,
  sealValue,
  StashError,
  stashMask,
  stashPlace,
  unsealArgs,
  unsealStash,
  unsealValue,
  sealSecretArgs,
} from '../../src/runtime/stash';
import { executeStep } from '../../src/runtime/execute';
import { thrown } from '../support/errors';

const KEY_A = Buffer.alloc(32, 1);
const KEY_B = Buffer.alloc(32, 2);

/** A value sealed the way releases before key ids did: `whenflow:sealed:v1:<type>:<payload>`, the prefix as additional data. */
function sealV1(value: unknown, key: Buffer): string {
  const type = typeof value === 'number' ? 'number' : 'string';
  const header = `whenflow:sealed:v1:${type}:`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(header, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return header + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
}

describe('the secret mask', () => {
  it('masks long secrets wherever they occur, also inside words, in their JSON-escaped and URL-encoded forms', () => {
    const mask = SecretMask.of({ apiKey: 'sk-live-9f8e7d', quote: 'pa"ss word' });
    expect(mask.text('GET http://x/?k=sk-live-9f8e7d failed')).toBe(`GET http://x/?k=${SECRET_MASK} failed`);
    expect(mask.text('prefixsk-live-9f8e7dsuffix')).toBe(`prefix${SECRET_MASK}suffix`);
    expect(mask.text(JSON.stringify({ q: 'pa"ss word' }))).toBe(`{"q":"${SECRET_MASK}"}`);
    expect(mask.text(`?q=${encodeURIComponent('pa"ss word')}`)).toBe(`?q=${SECRET_MASK}`);
  });

  it('masks nested strings and numbers of any length; booleans and null are not secrets', () => {
    const mask = SecretMask.of({ deep: [{ pin: 4242 }, 'tok-deep'], tiny: 7, flag: true, none: null });
    expect(mask.secrets).toEqual(['tok-deep', '4242', '7']);
    expect(mask.text('pin 4242, token tok-deep, retry 7 of 9, flag true')).toBe(
      `pin ${SECRET_MASK}, token ${SECRET_MASK}, retry ${SECRET_MASK} of 9, flag true`,
    );
  });

  it('masks a secret of 1 to 3 characters only where it stands as a whole token', () => {
    const mask = SecretMask.of({ pin: 'abc' });
    expect(mask.text('key=abc&x=1')).toBe(`key=${SECRET_MASK}&x=1`);
    expect(mask.text('"abc"')).toBe(`"${SECRET_MASK}"`);
    expect(mask.text('abc')).toBe(SECRET_MASK);
    // The documented limit: inside a longer word it stays.
    expect(mask.text('abcdef xabc abc_1')).toBe('abcdef xabc abc_1');
    expect(SecretMask.of({ one: 'x' }).text('x-ray x box')).toBe(`${SECRET_MASK}-ray ${SECRET_MASK} box`);
  });

  it('overlapping secrets leave nothing of either, and a secret inside the mask text does not mangle it', () => {
    expect(maskText('xxabcdefghxx', ['abcdef', 'cdefgh'])).toBe(`xx${SECRET_MASK}xx`);
    expect(maskText('mysecretvalue and secret', ['mysecretvalue', 'secret'])).toBe(`${SECRET_MASK} and ${SECRET_MASK}`);
    expect(SecretMask.of({}).text('nothing to hide')).toBe('nothing to hide');
  });

  it('masks JSON values: strings in place, a number that is a secret becomes the mask', () => {
    const mask = SecretMask.of({ n: 31337, s: 'hunter2-x' });
    expect(mask.json({ a: [31337, 31338], b: 'pw hunter2-x', c: true })).toEqual({
      a: [SECRET_MASK, 31338],
      b: `pw ${SECRET_MASK}`,
      c: true,
    });
  });

  it('masks an error in place (message, stack, causes), keeping its class', () => {
    class HttpLikeError extends Error {}
    const cause = new Error('connect ECONNREFUSED for sk-live-9f8e7d');
    const error = new HttpLikeError('GET http://127.0.0.1:1/?key=sk-live-9f8e7d failed', { cause });
    const masked = SecretMask.of(['sk-live-9f8e7d']).error(error);
    expect(masked).toBe(error);
    expect(masked).toBeInstanceOf(HttpLikeError);
    expect(`${masked.message}\n${masked.stack}\n${(masked.cause as Error).message}\n${(masked.cause as Error).stack}`).not.toContain(
      'sk-live-9f8e7d',
    );
    expect(SecretMask.of(['abc']).error('thrown abc').message).toBe(`thrown ${SECRET_MASK}`);
  });

  it('walks a value that refers to itself once', () => {
    const looped: Record<string, unknown> = { token: 'tok-looped' };
    looped.self = looped;
    expect(SecretMask.of(looped).secrets).toEqual(['tok-looped']);
  });

  it('stashMask takes the secrets of the plaintext $stash only', () => {
    expect(stashMask({ visible: 'plain-text-value', $stash: { k: 'hidden-value' } }).secrets).toEqual(['hidden-value']);
    expect(stashMask({ a: 1 }).isEmpty).toBe(true);
  });
});

describe('seals bound to their place, with key ids', () => {
  it('a sealed value names its key id and opens only at the place it was sealed for', () => {
    const sealed = sealValue('sk-bound', [{ id: 'k1', key: KEY_A }], stashPlace('apiKey'));
    expect(sealed).toMatch(/^whenflow:sealed:v2:string:k1:[A-Za-z0-9_-]+$/);
    expect(isSealed(sealed)).toBe(true);
    expect(sealedType(sealed)).toBe('string');
    expect(unsealValue(sealed, KEY_A, stashPlace('apiKey'))).toBe('sk-bound');
    const wrongPlace = thrown(() => unsealValue(sealed, KEY_A, stashPlace('other')));
    expect(wrongPlace).toBeInstanceOf(StashError);
    expect((wrongPlace as StashError).reason).toBe('undecryptable');
    expect(wrongPlace.message).toContain('/$stash/other');
  });

  it('a sealed value copied into another task under another key name refuses to open there', () => {
    const first = sealStash({ $stash: { apiKey: 'sk-task-one' } }, KEY_A);
    const copied = { $stash: { stolen: (first.$stash as JsonObject).apiKey! } };
    const error = thrown(() => unsealStash(copied, KEY_A));
    expect(error).toBeInstanceOf(StashError);
    expect(error.message).toContain('data.$stash.stolen');
    // Nor does it open as a deferred call's argument.
    expect(() => unsealArgs({ url: (first.$stash as JsonObject).apiKey! }, KEY_A, callArgsPlace('fetch', 'get'))).toThrow(StashError);
  });

  it('rotation: the first key seals, any key opens; an unchanged value keeps its old seal, a changed one gets the new key', () => {
    const oldRing = [{ id: 'old', key: KEY_A }];
    const parked = sealStash({ $stash: { token: 'tok-parked', other: 'tok-other' } }, oldRing);
    const rotated = [
      { id: 'new', key: KEY_B },
      { id: 'old', key: KEY_A },
    ];
    const opened = unsealStash(parked, rotated);
    expect(opened.$stash).toEqual({ token: 'tok-parked', other: 'tok-other' });
    const next = sealStash({ ...opened, $stash: { token: 'tok-parked', other: 'tok-changed' } }, rotated, parked);
    const nextStash = next.$stash as JsonObject;
    expect(nextStash.token).toBe((parked.$stash as JsonObject).token);
    expect(nextStash.other).toMatch(/^whenflow:sealed:v2:string:new:/);
    expect(unsealValue(nextStash.other as string, [{ id: 'new', key: KEY_B }], stashPlace('other'))).toBe('tok-changed');
    // Without the old key, the parked value does not open, and the error names the key it needs.
    const missing = thrown(() => unsealStash(parked, [{ id: 'new', key: KEY_B }]));
    expect(missing.message).toContain('"old"');
    expect(missing.message).toContain('not configured');
  });

  it('a single key is the key with id "default": values it sealed open from a list that gives it that id', () => {
    const sealed = sealStash({ $stash: { token: 'tok-single' } }, KEY_A);
    expect((sealed.$stash as JsonObject).token).toMatch(/^whenflow:sealed:v2:string:default:/);
    expect(
      unsealStash(sealed, [
        { id: 'next', key: KEY_B },
        { id: 'default', key: KEY_A },
      ]).$stash,
    ).toEqual({ token: 'tok-single' });
  });

  it('values sealed in the v1 form (before places and key ids) still open, with any configured key', () => {
    const parked: JsonObject = { $stash: { token: sealV1('tok-v1-parked', KEY_A), pin: sealV1(1234, KEY_A) } };
    expect(sealedType((parked.$stash as JsonObject).pin)).toBe('number');
    expect(unsealStash(parked, KEY_A).$stash).toEqual({ token: 'tok-v1-parked', pin: 1234 });
    expect(
      unsealStash(parked, [
        { id: 'new', key: KEY_B },
        { id: 'old', key: KEY_A },
      ]).$stash,
    ).toEqual({ token: 'tok-v1-parked', pin: 1234 });
    // Unchanged, they keep their v1 seal (no patch); changed, a value is sealed in today's form, bound to its place.
    const next = sealStash({ $stash: { token: 'tok-v1-parked', pin: 4321 } }, KEY_A, parked);
    expect((next.$stash as JsonObject).token).toBe((parked.$stash as JsonObject).token);
    expect((next.$stash as JsonObject).pin).toMatch(/^whenflow:sealed:v2:number:default:/);
  });

  it('refuses a keyring with a bad id, a repeated id or a key of the wrong length', () => {
    expect(() => sealValue('x', [{ id: 'bad id', key: KEY_A }])).toThrow(/key id/);
    expect(() =>
      sealValue('x', [
        { id: 'a', key: KEY_A },
        { id: 'a', key: KEY_B },
      ]),
    ).toThrow(/twice/);
    expect(() => sealValue('x', [{ id: 'a', key: Buffer.alloc(16) }])).toThrow(/32 bytes/);
  });

  it('deferred-call arguments: strings holding a secret and numbers that are one are sealed, each bound to its place', () => {
    const mask = SecretMask.of({ pin: 4242, code: 'abc' });
    const args = { url: 'http://h/?code=abc', amount: 4242, other: 42, label: 'abcdef' };
    const sealed = sealSecretArgs(args, mask, KEY_A, callArgsPlace('fetch', 'post')) as JsonObject;
    expect(isSealed(sealed.url)).toBe(true);
    expect(sealedType(sealed.amount)).toBe('number');
    expect(sealed.other).toBe(42);
    expect(sealed.label).toBe('abcdef');
    expect(JSON.stringify(sealed)).not.toContain('4242');
    expect(unsealArgs(sealed, KEY_A, callArgsPlace('fetch', 'post'))).toEqual(args);
    expect(() => unsealArgs(sealed, KEY_A, callArgsPlace('fetch', 'get'))).toThrow(StashError);
  });
});

describe('executeStep lets no secret out', () => {
  const key = randomBytes(32);

  it('a step that throws with a secret in its message fails with it masked, in message and stack', async () => {
    const data = sealStash({ $stash: { apiKey: 'sk-thrown-0451', pin: 'q7z' } }, key);
    const error = await executeStep({
      step: 'thrower',
      taskId: 't',
      attempt: 1,
      data,
      stash: { key },
      content: async () => {
        const stash = (globalThis as unknown as { data: { $stash: Record<string, string> } }).data.$stash;
        throw new TypeError(`bad key ${stash.apiKey} (pin ${stash.pin})`);
      },
    }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.message).toBe(`bad key ${SECRET_MASK} (pin ${SECRET_MASK})`);
    expect(error!.stack).not.toContain('sk-thrown-0451');
    expect(error!.stack).not.toContain('q7z');
  });

  it('masks a secret the step itself wrote to $stash before failing, and config values marked secret', async () => {
    const error = await executeStep({
      step: 'writer',
      taskId: 't',
      attempt: 1,
      data: {},
      stash: { key },
      config: { API_TOKEN: 'cfg-token-777' },
      secretTexts: ['cfg-token-777'],
      content: async () => {
        const scope = globalThis as unknown as { data: { $stash: Record<string, string> }; task: { config(k: string): string } };
        scope.data.$stash.fresh = 'fresh-secret-99';
        throw new Error(`${scope.data.$stash.fresh} / ${scope.task.config('API_TOKEN')}`);
      },
    }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error!.message).toBe(`${SECRET_MASK} / ${SECRET_MASK}`);
  });

  it('masks visual data, logs of config secrets, and seals a numeric secret in a deferred call and the call secrets', async () => {
    const data = sealStash({ $stash: { pin: 902_114, short: 'k9' } }, key);
    const outcome = await executeStep({
      step: 'shows',
      taskId: 't',
      attempt: 1,
      data,
      stash: { key },
      config: { API_TOKEN: 'cfg-token-777' },
      secretTexts: ['cfg-token-777'],
      connectors: (defer) => ({
        api: { send: async (args: JsonObject) => defer({ connector: 'api', method: 'send', args, into: 'reply' }) },
      }),
      content: async () => {
        const scope = globalThis as unknown as {
          data: { $stash: { pin: number; short: string } };
          task: { visualize(v: unknown): void; config(k: string): string };
          connectors: { api: { send(a: unknown): Promise<void> } };
        };
        const { pin, short } = scope.data.$stash;
        scope.task.visualize({ type: 'table', name: 'creds', data: [{ pin, short, token: scope.task.config('API_TOKEN') }] });
        console.log('token', scope.task.config('API_TOKEN'), 'short', short);
        await scope.connectors.api.send({ amount: pin, note: `code ${short}` });
      },
    });
    const everything = JSON.stringify(outcome);
    expect(everything).not.toContain('902114');
    expect(everything).not.toContain('cfg-token-777');
    expect(everything).not.toMatch(/\bk9\b/);
    const visual = outcome.logs.find((l) => l.level === 'visual');
    expect(visual?.visual).toEqual({ type: 'table', name: 'creds', data: [{ pin: SECRET_MASK, short: SECRET_MASK, token: SECRET_MASK }] });
    const call = outcome.commands.find((c) => c.type === 'call');
    const args = call?.type === 'call' ? call.call.args : {};
    expect(sealedType(args.amount)).toBe('number');
    expect(unsealArgs(args, key, callArgsPlace('api', 'send'))).toEqual({ amount: 902_114, note: 'code k9' });
    expect(call?.type === 'call' && isSealed(call.call.secrets)).toBe(true);
  });
});
