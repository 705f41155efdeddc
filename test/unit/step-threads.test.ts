import { afterAll, describe, expect, it, vi } from 'vitest';
import { StepThreadPool, type StepRunLimits } from '../../src/isolation/pool';
import type { StepJob } from '../../src/isolation/protocol';
import { realmChange, realmIntact, snapshotRealm } from '../../src/isolation/realm-guard';
import { stepOptionsSchema } from '../../src/steps/options';
import { scratchWorkspaces } from '../support/scratch-workspaces';

const { workspace, load } = scratchWorkspaces('step-threads');

describe('maxHeapMb settings', () => {
  it('whenflow.yaml defaults.maxHeapMb sets the heap limit of step threads, 512 MiB unless given', async () => {
    expect((await load('defaults: { maxHeapMb: 128 }')).config.defaults.maxHeapMb).toBe(128);
    expect((await load('defaults: { timeout: 5s }')).config.defaults.maxHeapMb).toBe(512);
  });

  it('a heap limit too small for the engine is refused, naming where', async () => {
    const { problems } = await load('defaults: { maxHeapMb: 16 }');
    expect(problems).toEqual([{ file: 'whenflow.yaml', path: 'defaults.maxHeapMb', message: 'must be at least 64 (MiB)' }]);
    const options = stepOptionsSchema.safeParse({ maxHeapMb: 1.5 });
    expect(options.success).toBe(false);
    expect(options.error?.issues[0]).toMatchObject({ path: ['maxHeapMb'], message: 'must be a whole number of MiB' });
  });
});

describe('the realm guard', () => {
  it('sees a changed prototype, a new global and a changed built-in, and nothing once they are undone', () => {
    const before = snapshotRealm();
    expect(realmChange(before, snapshotRealm())).toBeNull();
    const proto = Object.prototype as { toJSON?: () => string };
    proto.toJSON = () => 'poisoned';
    try {
      expect(realmChange(before, snapshotRealm())).toBe('globalThis.Object.prototype.toJSON was added');
    } finally {
      delete proto.toJSON;
    }
    const scope = globalThis as { leakedByAStep?: string };
    scope.leakedByAStep = 'data of another task';
    try {
      expect(realmChange(before, snapshotRealm())).toBe('globalThis.leakedByAStep was added');
    } finally {
      delete scope.leakedByAStep;
    }
    const stringify = JSON.stringify;
    JSON.stringify = () => 'poisoned';
    try {
      expect(realmChange(before, snapshotRealm())).toBe('globalThis.JSON.stringify was changed');
    } finally {
      JSON.stringify = stringify;
    }
    expect(realmChange(before, snapshotRealm())).toBeNull();
  });

  it('the quick check agrees: intact until something is added, changed or deleted, and intact again once undone', () => {
    const before = snapshotRealm();
    expect(realmIntact(before)).toBe(true);
    const proto = Object.prototype as { toJSON?: () => string };
    proto.toJSON = () => 'poisoned';
    expect(realmIntact(before)).toBe(false);
    delete proto.toJSON;
    const stringify = JSON.stringify;
    JSON.stringify = () => 'poisoned';
    expect(realmIntact(before)).toBe(false);
    JSON.stringify = stringify;
    const descriptor = Object.getOwnPropertyDescriptor(Array.prototype, 'at')!;
    delete (Array.prototype as { at?: unknown }).at;
    try {
      expect(realmIntact(before)).toBe(false);
      expect(realmChange(before, snapshotRealm())).toBe('globalThis.Array.prototype.at was deleted');
    } finally {
      Object.defineProperty(Array.prototype, 'at', descriptor);
    }
    // Put back, the property comes last among Array.prototype's keys: an order a step could observe, so a change too.
    expect(realmIntact(before)).toBe(false);
    const now = snapshotRealm();
    // A hidden intrinsic (not reachable as a global by name) changed.
    const generatorPrototype = Object.getPrototypeOf(function* () {}) as { leaked?: string };
    generatorPrototype.leaked = 'data of another task';
    try {
      expect(realmIntact(now)).toBe(false);
    } finally {
      delete generatorPrototype.leaked;
    }
    expect(realmIntact(now)).toBe(true);
  });
});

describe('StepThreadPool', () => {
  const pool = new StepThreadPool(2, 0);
  afterAll(() => pool.close());

  const job = (dir: string, step: string, data: StepJob['data'] = {}): StepJob => ({
    workspace: dir,
    step,
    file: `steps/${step}.mjs`,
    taskId: `task-${step}`,
    executionId: `execution-${step}`,
    attempt: 1,
    name: 'task',
    tags: [],
    config: {},
    data,
    stashKeys: null,
    secretTexts: [],
    trackReads: false,
    blobs: null,
    connectors: [{ name: 'echo', methods: ['say'], source: 'connectors/echo.mjs' }],
  });
  const limits = (overrides: Partial<StepRunLimits> = {}): StepRunLimits => ({
    heapMb: 128,
    timeoutMs: 1000,
    stopAfterMs: 60_000,
    signal: new AbortController().signal,
    call: async (request) => ({ said: request.args, at: new Date(0), bytes: Buffer.from('hi') }),
    ...overrides,
  });

  it('runs content in a thread, with connector calls made by the caller; stops a busy loop at its deadline and a cancelled step at once', async () => {
    const dir = await workspace({
      'steps/greet.mjs': `export const condition = {};
        export const content = async () => {
          const answer = await connectors.echo.say({ to: data.who });
          data.greeting = 'hello ' + answer.said.to;
          data.types = [answer.at instanceof Date, Buffer.isBuffer(answer.bytes) ? 'buffer' : typeof answer.bytes];
        };`,
      'steps/spin.mjs': `export const condition = {};
        export const content = async () => { while (true) {} };`,
      'steps/call_then_spin.mjs': `export const condition = {};
        export const content = async () => { await connectors.echo.say({}); while (true) {} };`,
    });
    const outcome = await pool.run(job(dir, 'greet', { who: 'Ada' }), limits());
    expect(outcome.patch).toEqual([
      { op: 'add', path: '/greeting', value: 'hello Ada' },
      { op: 'add', path: '/types', value: [true, 'buffer'] },
    ]);

    await expect(pool.run(job(dir, 'spin'), limits({ timeoutMs: 700, stopAfterMs: 500 }))).rejects.toThrow(
      'step "spin" timed out after 700 ms: it ran past its timeout (0.7 s) and was stopped',
    );

    // Cancelled once it is surely spinning: after the call it makes first has been answered.
    const cancel = new AbortController();
    const calledFirst = async () => {
      setTimeout(() => cancel.abort(new Error('the task was stopped')), 200);
      return { said: {} };
    };
    await expect(pool.run(job(dir, 'call_then_spin'), limits({ signal: cancel.signal, call: calledFirst }))).rejects.toThrow(
      'the task was stopped',
    );

    // The pool still serves executions after both threads were stopped.
    expect((await pool.run(job(dir, 'greet', { who: 'Bob' }), limits())).patch[0]).toEqual({
      op: 'add',
      path: '/greeting',
      value: 'hello Bob',
    });
  });

  it('retires a thread whose execution changed its built-ins, so the next execution does not see them', async () => {
    const dir = await workspace({
      'steps/poison.mjs': `export const condition = {};
        export const content = async () => { Object.defineProperty(Array.prototype, 'poisoned', { value: 'yes' }); globalThis.lastTask = data.secret; };`,
      'steps/look.mjs': `export const condition = {};
        export const content = async () => { data.saw = [typeof [].poisoned, typeof globalThis.lastTask]; };`,
    });
    const retired = pool.retired;
    await pool.run(job(dir, 'poison', { secret: 's3cr3t' }), limits());
    // The outcome comes first; the thread's check of what the execution left behind follows it.
    await vi.waitFor(() => expect(pool.retired).toBe(retired + 1));
    const outcome = await pool.run(job(dir, 'look'), limits());
    expect(outcome.patch).toEqual([{ op: 'add', path: '/saw', value: ['undefined', 'undefined'] }]);
    expect(pool.retired).toBe(retired + 1);
  });
});
