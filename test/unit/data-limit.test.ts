import { describe, expect, it } from 'vitest';
import { describeOverLimit, jsonBytes, maxDataBytesOf, overDataLimit, sizeText, utf8ByteLength } from '../../src/cycle/data-limit';
import { DEFAULT_TASK_OPTIONS } from '../../src/model/task';
import type { JsonObject } from '../../src/model/json';
import { DEFAULT_MAX_DATA_BYTES } from '../../src/model/defaults';

describe('utf8ByteLength', () => {
  it.each([
    ['', 0],
    ['plain ascii', 11],
    ['données', 8],
    ['€', 3],
    ['🙂', 4],
    ['a🙂b€ç', 1 + 4 + 1 + 3 + 2],
  ])('%j is %i bytes, as Buffer counts', (text, bytes) => {
    expect(utf8ByteLength(text)).toBe(bytes);
    expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });

  it('a lone surrogate counts as its replacement character (3 bytes), as Buffer does', () => {
    expect(utf8ByteLength('\ud83d')).toBe(Buffer.byteLength('\ud83d'));
    expect(utf8ByteLength('x\udc00y')).toBe(Buffer.byteLength('x\udc00y'));
  });

  it('jsonBytes measures JSON text (lone surrogates are escaped by JSON.stringify)', () => {
    const value = { name: 'données-🙂', cut: '🙂'.slice(0, 1), list: [1, null, true] };
    expect(jsonBytes(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
  });
});

describe('overDataLimit', () => {
  const data = { blob: 'x'.repeat(3000), items: ['a', 'b'], note: 'é'.repeat(500), n: 1 };

  it('is null within the limit, also exactly at it', () => {
    const bytes = Buffer.byteLength(JSON.stringify(data));
    expect(overDataLimit(data, bytes)).toBeNull();
    expect(overDataLimit(data, DEFAULT_MAX_DATA_BYTES)).toBeNull();
  });

  it('over it: the exact size and the largest top-level keys, largest first (at most three)', () => {
    const bytes = Buffer.byteLength(JSON.stringify(data));
    const over = overDataLimit(data, bytes - 1);
    expect(over).toEqual({
      bytes,
      limit: bytes - 1,
      largest: [
        { path: 'data.blob', bytes: Buffer.byteLength('"blob":') + 3002 },
        { path: 'data.note', bytes: Buffer.byteLength('"note":') + 1002 },
        { path: 'data.items', bytes: Buffer.byteLength('"items":["a","b"]') },
      ],
    });
  });

  it('decides texts whose length alone cannot, by counting', () => {
    // 400 two-byte characters: 800 characters of JSON would not be enough to say, 1,200 would.
    const accents = { t: 'é'.repeat(400) };
    const bytes = Buffer.byteLength(JSON.stringify(accents));
    expect(overDataLimit(accents, bytes)).toBeNull();
    expect(overDataLimit(accents, bytes - 1)?.bytes).toBe(bytes);
  });

  it('keys that are not identifiers are shown in brackets', () => {
    expect(overDataLimit({ 'big file': 'x'.repeat(100) }, 10)?.largest).toEqual([{ path: 'data["big file"]', bytes: 113 }]);
  });

  it('with the data before: a write that leaves the data no larger passes even over the limit', () => {
    const before: JsonObject = { blob: 'x'.repeat(2000) };
    expect(overDataLimit({ blob: 'x'.repeat(1500) }, 1000, before)).toBeNull();
    expect(overDataLimit(before, 1000, before)).toBeNull();
    expect(overDataLimit({ blob: 'x'.repeat(2000), more: 1 }, 1000, before)?.bytes).toBe(2020);
  });
});

describe('messages', () => {
  it('sizeText: bytes, KiB, MiB', () => {
    expect(sizeText(0)).toBe('0 bytes');
    expect(sizeText(1023)).toBe('1023 bytes');
    expect(sizeText(1024)).toBe('1.0 KiB');
    expect(sizeText(4300)).toBe('4.2 KiB');
    expect(sizeText(DEFAULT_MAX_DATA_BYTES)).toBe('1.5 MiB');
    expect(sizeText(3_000_027)).toBe('2.9 MiB');
  });

  it('names the size, the limit, where the limit is set, and what to trim', () => {
    const over = overDataLimit({ blob: 'x'.repeat(3_000_000), keep: 'me' }, DEFAULT_MAX_DATA_BYTES)!;
    expect(describeOverLimit(over)).toBe(
      '3,000,023 bytes (2.9 MiB) as JSON, over the limit of 1,572,864 bytes (1.5 MiB) set by maxDataBytes ' +
        '(a task option; whenflow.yaml defaults.maxDataBytes); largest keys: data.blob 2.9 MiB, data.keep 11 bytes',
    );
  });

  it('an empty object over a tiny limit names no keys', () => {
    expect(describeOverLimit(overDataLimit({}, 1)!)).toBe(
      '2 bytes as JSON, over the limit of 1 bytes set by maxDataBytes (a task option; whenflow.yaml defaults.maxDataBytes)',
    );
  });
});

describe('maxDataBytesOf', () => {
  it('the default is 1.5 MiB; tasks started before the option existed get it', () => {
    expect(DEFAULT_MAX_DATA_BYTES).toBe(1_572_864);
    expect(DEFAULT_TASK_OPTIONS.maxDataBytes).toBe(DEFAULT_MAX_DATA_BYTES);
    expect(maxDataBytesOf({})).toBe(DEFAULT_MAX_DATA_BYTES);
    expect(maxDataBytesOf({ maxDataBytes: 4096 })).toBe(4096);
  });
});
