/**
 * Parallel batches are serializable: for random catalogs of steps that read and write random paths, the
 * data after running them in parallel batches (held steps running again in a later batch) equals the data
 * after running the same steps one after another in rank order. Steps read through the engine's read
 * tracker and produce their patches with the engine's differ, as the step activity does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeBatch, type BatchRun } from '../../src/cycle/merge';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src/model/json';
import { applyPatchTo, diffData } from '../../src/model/patch';
import { trackReads } from '../../src/runtime/read-tracking';

const PATHS = [['a'], ['b'], ['c', 'x'], ['c', 'y'], ['d'], ['e', 'f', 'g'], ['list']] as const;
type Path = readonly string[];

interface StepSpec {
  name: string;
  reads: Path[];
  /** What it writes depends on what it read: `writesIfEven` when the sum of what it read is even. */
  writes: Path[];
  writesIfEven: Path[];
  deletes: Path[];
}

const valueAt = (data: JsonValue, path: Path): JsonValue | undefined =>
  path.reduce<JsonValue | undefined>((node, key) => (isJsonObject(node) ? node[key] : undefined), data);

function setAt(data: Record<string, unknown>, path: Path, value: JsonValue): void {
  let node = data;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function deleteAt(data: Record<string, unknown>, path: Path): void {
  let node: unknown = data;
  for (const key of path.slice(0, -1)) node = isJsonObject(node as JsonValue) ? (node as Record<string, unknown>)[key] : undefined;
  if (typeof node === 'object' && node !== null) delete (node as Record<string, unknown>)[path[path.length - 1]!];
}

/** Runs one step's content on `data` (a copy it may change): a value computed from what it read. */
function content(spec: StepSpec, data: Record<string, unknown>): void {
  let sum = spec.name.length;
  for (const path of spec.reads) {
    const value = valueAt(data as JsonObject, path);
    sum += typeof value === 'number' ? value : Array.isArray(value) ? value.length : value === undefined ? 7 : 3;
  }
  const written = sum % 97;
  for (const path of [...spec.writes, ...(sum % 2 === 0 ? spec.writesIfEven : [])]) {
    if (path[0] === 'list') setAt(data, path, [written, spec.name]);
    else setAt(data, path, written);
  }
  for (const path of spec.deletes) deleteAt(data, path);
}

function runStep(spec: StepSpec, snapshot: JsonObject): BatchRun {
  const tracker = trackReads(structuredClone(snapshot));
  content(spec, tracker.data as Record<string, unknown>);
  tracker.stop();
  const after = JSON.parse(JSON.stringify(tracker.data)) as JsonObject;
  return { step: spec.name, patch: diffData(snapshot, after), reads: tracker.reads() };
}

function inRankOrder(specs: StepSpec[], start: JsonObject): JsonObject {
  let data = start;
  for (const spec of specs) data = applyPatchTo(data, runStep(spec, data).patch);
  return data;
}

function inParallel(specs: StepSpec[], start: JsonObject, concurrency: number): { data: JsonObject; batches: number; held: number } {
  let data = start;
  let pending = [...specs];
  let batches = 0;
  let held = 0;
  while (pending.length > 0) {
    const batch = pending.slice(0, concurrency);
    const merged = mergeBatch(
      data,
      batch.map((spec) => runStep(spec, data)),
    );
    data = merged.data;
    held += merged.held.length;
    const done = new Set(merged.merged.map((m) => m.step));
    // The first step of a batch never meets an earlier write: every batch makes progress.
    expect(done.size).toBeGreaterThan(0);
    pending = pending.filter((spec) => !done.has(spec.name));
    batches += 1;
  }
  return { data, batches, held };
}

const path = fc.constantFrom<Path>(...PATHS);
const stepSpec = (name: string) =>
  fc.record({
    name: fc.constant(name),
    reads: fc.array(path, { maxLength: 3 }),
    writes: fc.array(path, { maxLength: 2 }),
    writesIfEven: fc.array(path, { maxLength: 1 }),
    deletes: fc.array(path, { maxLength: 1 }),
  });
const catalog = fc.integer({ min: 1, max: 8 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => stepSpec(`s${i}`))));
const startData = fc.record({
  a: fc.integer({ min: 0, max: 9 }),
  c: fc.record({ x: fc.integer({ min: 0, max: 9 }) }),
  list: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
});

describe('parallel batches equal rank order', () => {
  it('for random steps reading and writing random paths', () => {
    let sawHeld = 0;
    fc.assert(
      fc.property(catalog, startData, fc.integer({ min: 2, max: 8 }), (specs, start, concurrency) => {
        const parallel = inParallel(specs, start as JsonObject, concurrency);
        sawHeld += parallel.held;
        expect(parallel.data).toEqual(inRankOrder(specs, start as JsonObject));
      }),
      { numRuns: 3000 },
    );
    // The property is only worth something if overlaps happened often.
    expect(sawHeld).toBeGreaterThan(500);
  });

  it('steps that touch different paths all merge in one batch', () => {
    const specs: StepSpec[] = [
      { name: 's0', reads: [['a']], writes: [['b']], writesIfEven: [], deletes: [] },
      { name: 's1', reads: [['c', 'x']], writes: [['c', 'y']], writesIfEven: [], deletes: [] },
      { name: 's2', reads: [], writes: [['d']], writesIfEven: [], deletes: [] },
    ];
    const result = inParallel(specs, { a: 1, c: { x: 2 } }, 3);
    expect(result).toMatchObject({ batches: 1, held: 0 });
  });

  it('a step reading what an earlier one wrote is held with every step after it, naming the writer and paths', () => {
    const snapshot = { a: 1 };
    const specs: StepSpec[] = [
      { name: 'writer', reads: [], writes: [['a']], writesIfEven: [], deletes: [] },
      { name: 'reader', reads: [['a']], writes: [['b']], writesIfEven: [], deletes: [] },
      { name: 'bystander', reads: [], writes: [['d']], writesIfEven: [], deletes: [] },
    ];
    const merged = mergeBatch(
      snapshot,
      specs.map((spec) => runStep(spec, snapshot)),
    );
    expect(merged.merged.map((m) => m.step)).toEqual(['writer']);
    expect(merged.held).toEqual([
      { step: 'reader', blockedBy: 'writer', paths: ['/a'] },
      { step: 'bystander', blockedBy: 'reader', paths: [] },
    ]);
  });
});
