import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runInNewContext } from 'node:vm';
import { transform } from 'esbuild';
import { tsImport } from 'tsx/esm/api';
import { describe, expect, it } from 'vitest';
import { BlobLimitError, BlobNotFoundError } from '../../src/blobs/api';
import { UsageError } from '../../src/cli/errors';
import { TaskClosedError, TaskInputError, TaskWaitTimeoutError } from '../../src/client';
import { ConditionError } from '../../src/conditions/types';
import { WorkLimitError } from '../../src/conditions/work-meter';
import { HttpError, HttpTimeoutError } from '../../src/connectors/builtins';
import { CircuitOpenError } from '../../src/connectors/circuit';
import { ConnectorError, ConnectorResultError } from '../../src/connectors/types';
import { StepDataMismatchError } from '../../src/cycle/step-data';
import { ExplainError } from '../../src/explain';
import { StepHeapError, StepLimitError, StepThreadError, StepTimeoutError } from '../../src/isolation/pool';
import { CrossedError, CrossedFinalError, receivedError, sendError } from '../../src/isolation/protocol';
import { attemptVerdict } from '../../src/isolation/verdict';
import { FinalError, isFinalError, WhenflowError } from '../../src/model/errors';
import { DataPatchError } from '../../src/model/patch';
import { DataLimitError } from '../../src/runtime/execute';
import { OutsideStepError } from '../../src/runtime/globals';
import { StashError, StashKeyMissingError } from '../../src/runtime/stash';
import { StepFinalError, StepUsageError } from '../../src/runtime/step-api';
import { DataValueError } from '../../src/runtime/to-json';
import { LibraryError } from '../../src/steps/libraries';
import { StepFileError } from '../../src/steps/step-files';
import { PortInUseError } from '../../src/temporal/dev-server';
import { TimeSkippingUnavailableError } from '../../src/temporal/time-skipping';
import { WorkspaceConfigError } from '../../src/workspace/workspace';

const ERRORS_MODULE = new URL('../../src/model/errors.ts', import.meta.url);

/** One instance of every error class of the engine, with whether a failed attempt that throws it is final. */
const every: { error: Error; final: boolean }[] = [
  { error: new DataLimitError('too big'), final: true },
  { error: new DataValueError('s', [{ path: 'data.f', message: 'a function' }]), final: true },
  { error: new StepFinalError('unusable'), final: true },
  { error: new StepUsageError('task.park("soon")'), final: true },
  { error: new BlobLimitError('over blobs.maxBytes'), final: true },
  { error: new BlobNotFoundError('b1', 'the store'), final: true },
  { error: new StashError('bad', 'malformed'), final: true },
  { error: new StashKeyMissingError('data.$stash is set'), final: true },
  { error: new ConnectorError('crm', 'find', 'bad argument', 'id'), final: true },
  { error: new ConnectorResultError('connectors.crm.find() returned a function'), final: true },
  { error: new StepFileError([{ file: 'steps/a.mjs', step: 'a', message: 'missing export `condition`' }]), final: true },
  {
    error: new WorkspaceConfigError('/ws', [
      { kind: 'config', file: 'whenflow.yaml', path: 'defaults.timeout', message: 'not a duration' },
    ]),
    final: true,
  },
  { error: new LibraryError([{ file: 'libraries/x.js', library: 'x', message: 'cannot load' }]), final: true },
  { error: new ConditionError([{ path: 'order.total', message: 'a function is not allowed' }]), final: true },
  { error: new DataPatchError('cannot apply', '/a'), final: false },
  { error: new OutsideStepError('data'), final: false },
  { error: new StepTimeoutError('timed out'), final: false },
  { error: new StepHeapError('out of memory'), final: false },
  { error: new StepThreadError('the thread stopped'), final: false },
  { error: new StepDataMismatchError('not the data'), final: false },
  { error: new HttpError('GET', 'http://127.0.0.1/x', 503, 'Service Unavailable', ''), final: false },
  { error: new HttpTimeoutError('GET', 'http://127.0.0.1/x', 10), final: false },
  { error: new CircuitOpenError('crm', 'find', 3, 2_000, 1_000, 'boom'), final: false },
  { error: new WorkLimitError(10), final: false },
  { error: new UsageError('bad flag'), final: false },
  { error: new TaskInputError([{ path: 'data', message: 'not an object' }]), final: false },
  { error: new TaskWaitTimeoutError('t1', 5), final: false },
  { error: new TaskClosedError('t1', 'done'), final: false },
  { error: new ExplainError('no cycle 9'), final: false },
  { error: new PortInUseError(7233, '--port'), final: false },
  { error: new TimeSkippingUnavailableError('no launcher'), final: false },
];

describe('whenflow errors', () => {
  it('every engine error is a WhenflowError, and a failed attempt is final exactly when its class is a FinalError', () => {
    for (const { error, final } of every) {
      expect(error, error.name).toBeInstanceOf(WhenflowError);
      expect(error, error.name).toBeInstanceOf(Error);
      expect(error instanceof FinalError, error.name).toBe(final);
      expect(attemptVerdict(error).nonRetryable, error.name).toBe(final);
    }
  });

  it('each class has its own name, which its stack starts with and which no other class has', () => {
    const names = every.map(({ error }) => error.name);
    expect(new Set(names).size).toBe(names.length);
    for (const { error } of every) expect(error.stack?.startsWith(`${error.name}: `), error.name).toBe(true);
    // Names recorded in task histories and named in the docs stay as they were.
    expect(names).toEqual(
      expect.arrayContaining([
        'ConnectorError',
        'DataLimitError',
        'DataValueError',
        'HttpError',
        'CircuitOpenError',
        'TaskInputError',
        'TaskClosedError',
      ]),
    );
    expect([new StepTimeoutError('t').name, new StepHeapError('h').name, new StepThreadError('x').name]).toEqual([
      'StepTimeoutError',
      'StepHeapError',
      'StepThreadError',
    ]);
  });

  it('instanceof checks the class asked about: a subclass is not its sibling, its parent is not it', () => {
    const stepFile = new StepFileError([]);
    const config = new WorkspaceConfigError('/ws', []);
    expect(stepFile).not.toBeInstanceOf(WorkspaceConfigError);
    expect(config).not.toBeInstanceOf(StepFileError);
    expect(new StepUsageError('x')).not.toBeInstanceOf(BlobLimitError);
    expect(new BlobLimitError('x')).toBeInstanceOf(StepUsageError);
    expect(new StepHeapError('x')).toBeInstanceOf(StepLimitError);
    expect(new StepHeapError('x')).not.toBeInstanceOf(StepTimeoutError);
    expect(new Error('plain')).not.toBeInstanceOf(WhenflowError);
    expect(Object.assign(new Error('named like one'), { name: 'ConnectorError' })).not.toBeInstanceOf(ConnectorError);
    for (const value of [null, undefined, 'ConnectorError', 42, {}]) expect(value instanceof WhenflowError).toBe(false);
    // A subclass without a brand of its own (as a user might write) gets the ordinary prototype check.
    class OwnError extends FinalError {}
    expect(new OwnError('x')).toBeInstanceOf(OwnError);
    expect(new OwnError('x')).toBeInstanceOf(FinalError);
    expect(new FinalError('x')).not.toBeInstanceOf(OwnError);
  });

  it('instanceof holds for an error made by another copy of the module, loaded in a fresh namespace as step files are', async () => {
    const copy = (await tsImport(ERRORS_MODULE.href, import.meta.url)) as typeof import('../../src/model/errors');
    const otherCopy = (await tsImport(
      pathToFileURL(fileURLToPath(new URL('../../src/steps/step-files.ts', import.meta.url))).href,
      import.meta.url,
    )) as typeof import('../../src/steps/step-files');
    expect(copy.FinalError).not.toBe(FinalError);
    expect(otherCopy.StepFileError).not.toBe(StepFileError);
    expect(new copy.FinalError('x')).toBeInstanceOf(FinalError);
    expect(new copy.WhenflowError('x')).not.toBeInstanceOf(FinalError);
    expect(new FinalError('x')).toBeInstanceOf(copy.FinalError);
    const fromCopy = new otherCopy.StepFileError([]);
    expect(fromCopy).toBeInstanceOf(StepFileError);
    expect(fromCopy).not.toBeInstanceOf(WorkspaceConfigError);
    expect(isFinalError(fromCopy)).toBe(true);
    expect(attemptVerdict(fromCopy).nonRetryable).toBe(true);
  });

  it('instanceof holds across realms: an error made in another vm context is recognised, and ours there', async () => {
    const { code } = await transform(await readFile(ERRORS_MODULE, 'utf8'), { loader: 'ts', format: 'cjs', target: 'es2022' });
    const realm = runInNewContext(
      `const module = { exports: {} }; const exports = module.exports; ${code}; module.exports`,
    ) as typeof import('../../src/model/errors');
    const foreign = runInNewContext('new FinalError("from another realm")', { FinalError: realm.FinalError }) as Error;
    expect(Object.getPrototypeOf(Object.getPrototypeOf(Object.getPrototypeOf(foreign))).constructor).not.toBe(Error);
    expect(foreign).toBeInstanceOf(FinalError);
    expect(foreign).toBeInstanceOf(WhenflowError);
    expect(attemptVerdict(foreign).nonRetryable).toBe(true);
    expect(new ConnectorError('crm', 'find', 'bad') instanceof realm.FinalError).toBe(true);
    expect(new HttpError('GET', 'http://127.0.0.1/', 500, '', '') instanceof realm.FinalError).toBe(false);
  });

  it('mistakes in code and errors marked final are final by name and property, whatever their class', () => {
    expect(isFinalError(new ReferenceError('dta is not defined'))).toBe(true);
    expect(isFinalError(new SyntaxError('Unexpected token'))).toBe(true);
    expect(isFinalError(Object.assign(new Error('give up'), { final: true }))).toBe(true);
    expect(isFinalError(new TypeError('fetch failed'))).toBe(false);
    expect(isFinalError('a string')).toBe(false);
    const hostile = new Proxy(new Error('x'), {
      get: () => {
        throw new Error('trap');
      },
    });
    expect(isFinalError(hostile)).toBe(false);
  });

  it('an error crossing between threads keeps its name, message, plain properties and verdict, also when thrown again', () => {
    const final = receivedError(sendError(new ConnectorError('crm', 'find', 'bad argument', 'id'), attemptVerdict));
    expect(final).toBeInstanceOf(CrossedFinalError);
    expect(final).toBeInstanceOf(FinalError);
    expect([final.name, final.message, final.connector, final.field]).toEqual([
      'ConnectorError',
      'connectors.crm.find: bad argument',
      'crm',
      'id',
    ]);
    // Step content catches it and throws it again in the other thread: still final there, and back.
    const back = receivedError(sendError(final, attemptVerdict));
    expect(attemptVerdict(back)).toEqual({ nonRetryable: true, retryAt: null });

    const open = receivedError(sendError(new CircuitOpenError('crm', 'find', 3, 5_000, 1_000, null), attemptVerdict));
    expect(open).toBeInstanceOf(CrossedError);
    expect(open.name).toBe('CircuitOpenError');
    expect(attemptVerdict(open)).toEqual({ nonRetryable: false, retryAt: 5_000 });
    expect(attemptVerdict(receivedError(sendError(open, attemptVerdict)))).toEqual({ nonRetryable: false, retryAt: 5_000 });

    // An error's own `retryAt` property crosses as a property; only an open circuit sets when to retry.
    const own = receivedError(sendError(Object.assign(new Error('busy'), { retryAt: 9 }), attemptVerdict));
    expect(own.retryAt).toBe(9);
    expect(attemptVerdict(own)).toEqual({ nonRetryable: false, retryAt: null });
    expect(attemptVerdict(receivedError(sendError(new ReferenceError('x is not defined'), attemptVerdict))).nonRetryable).toBe(true);
  });
});
