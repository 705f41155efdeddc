import { describe, expect, it } from 'vitest';
import { checkStepData, checksum, INLINE_DATA_LIMIT, StepDataMismatchError, stepDataInput } from '../../src/cycle/step-data';

const large = () => ({ blob: 'é🙂x'.repeat(Math.ceil(INLINE_DATA_LIMIT / 3)), counter: 1 });

describe('how a step receives the task data', () => {
  it('small data goes inline, as the same object', () => {
    const data = { order: { status: 'open' } };
    const input = stepDataInput(data);
    expect(input).toEqual({ data });
    expect('data' in input && input.data).toBe(data);
  });

  it('data longer than the limit goes by reference: its JSON length and checksum', () => {
    const data = large();
    const json = JSON.stringify(data);
    expect(json.length).toBeGreaterThan(INLINE_DATA_LIMIT);
    expect(stepDataInput(data)).toEqual({ dataRef: { chars: json.length, hash: checksum(json) } });
  });

  it('the limit is on the JSON text: exactly at it stays inline, one character more goes by reference', () => {
    const data = { text: '' };
    const base = JSON.stringify(data).length;
    expect('data' in stepDataInput({ text: 'a'.repeat(100 - base) }, 100)).toBe(true);
    expect('dataRef' in stepDataInput({ text: 'a'.repeat(101 - base) }, 100)).toBe(true);
  });

  it('concurrent steps of a cycle get the same reference for the same snapshot', () => {
    const data = large();
    expect(stepDataInput(data)).toBe(stepDataInput(data));
  });

  it('accepts the data read back after a JSON round trip, non-ASCII text included', () => {
    const data = large();
    const input = stepDataInput(data);
    if (!('dataRef' in input)) throw new Error('expected a reference');
    const received = JSON.parse(JSON.stringify(data)) as unknown;
    expect(checkStepData(received, input.dataRef, 'count')).toEqual(data);
  });

  it('rejects other data, naming the step and both sizes', () => {
    const data = large();
    const input = stepDataInput(data);
    if (!('dataRef' in input)) throw new Error('expected a reference');
    // Same length, one value changed: only the checksum tells.
    expect(() => checkStepData({ ...data, counter: 2 }, input.dataRef, 'count')).toThrow(StepDataMismatchError);
    expect(() => checkStepData({ ...data, counter: 2 }, input.dataRef, 'count')).toThrow(
      /step "count": the data read from the task .* is not the data the step was scheduled with/,
    );
    expect(() => checkStepData({ ...data, counter: 22 }, input.dataRef, 'count')).toThrow(
      /characters\) is not the data|characters, checksum/,
    );
    expect(() => checkStepData(null, input.dataRef, 'count')).toThrow('step "count": the task answered with null instead of its data');
    expect(() => checkStepData([data], input.dataRef, 'count')).toThrow(/instead of its data/);
  });

  it('the checksum depends on every character and on their order', () => {
    expect(checksum('ab')).not.toBe(checksum('ba'));
    expect(checksum('a'.repeat(1000))).not.toBe(checksum(`${'a'.repeat(999)}b`));
    expect(checksum('')).toMatch(/^[0-9a-f]{16}$/);
    expect(checksum('{"a":1}')).toBe(checksum('{"a":1}'));
  });
});
