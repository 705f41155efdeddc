/**
 * The worker's step threads. Each step execution runs alone in a worker thread with a heap limit and a
 * deadline; a thread that overruns either is terminated, and the worker's main thread (its workflows,
 * heartbeats, other steps) carries on. A thread serves one execution at a time and is reused only when
 * the execution left nothing behind in it (src/isolation/realm-guard.ts); otherwise it is retired.
 */
import { AsyncResource } from 'node:async_hooks';
import { serialize } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { JsonObject } from '../model/json';
import type { StepOutcome } from '../model/task';
import { parseFromThread, receivedError, sendError, type FromThread, type StepJob, type ToThread } from './protocol';
import { attemptVerdict } from './verdict';
import { ConnectorResultError } from '../connectors/types';
import { WhenflowError, brandError } from '../model/errors';

const BOOT = new URL('./boot.mjs', import.meta.url);
/** An idle thread is kept this long for the next execution, then ended (a new one starts when needed). */
const IDLE_MS = 5 * 60_000;
export const DEFAULT_STEP_THREADS = 16;
export const DEFAULT_SPARE_THREADS = 2;
/** How long cancelled content may go on (it sees `step.signal` abort) before its thread is terminated. */
const CANCEL_GRACE_MS = 1000;

export interface ConnectorCallRequest {
  connector: string;
  method: string;
  args: JsonObject;
  idempotencyKey: string;
  /** The step's secrets, for the connector to mask in what it logs or records. */
  secrets: string[];
}

export interface StepRunLimits {
  /** Old-generation heap of the thread, MiB. */
  heapMb: number;
  /** The step's timeout, for the message. */
  timeoutMs: number;
  /** When the thread is stopped, in ms from now (a little before the timeout, so the failure names the timeout). */
  stopAfterMs: number;
  /** The activity's cancellation: the thread is terminated at once. */
  signal: AbortSignal;
  /** Makes a connector call in the main thread. */
  call: (request: ConnectorCallRequest) => Promise<unknown>;
}

/** The step overran one of its limits; it counts as a failed attempt (retried), as a thrown error does. */
export class StepLimitError extends WhenflowError {
  static {
    brandError(StepLimitError, 'StepLimitError');
  }
}

/** The step ran past its timeout and its thread was stopped. */
export class StepTimeoutError extends StepLimitError {
  static {
    brandError(StepTimeoutError, 'StepTimeoutError');
  }
}

/** The step needed more than its heap limit (`maxHeapMb`) and its thread was stopped. */
export class StepHeapError extends StepLimitError {
  static {
    brandError(StepHeapError, 'StepHeapError');
  }
}

/** The step's thread failed or exited while the step ran. */
export class StepThreadError extends StepLimitError {
  static {
    brandError(StepThreadError, 'StepThreadError');
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

interface Execution {
  onMessage(message: FromThread): void;
  onGone(error: Error): void;
}

class StepThread {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  execution: Execution | null = null;
  idleTimer: NodeJS.Timeout | null = null;
  gone = false;
  /** Ended because nobody needed it for a while: not replaced. */
  expired = false;

  constructor(
    readonly heapMb: number,
    onGone: (thread: StepThread) => void,
  ) {
    this.worker = new Worker(BOOT, { resourceLimits: { maxOldGenerationSizeMb: heapMb }, stdout: false, stderr: false });
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (raw: unknown) => {
        let message: FromThread;
        try {
          message = parseFromThread(raw);
        } catch (error) {
          this.execution?.onGone(error as Error);
          void this.stop();
          return;
        }
        if (message.type === 'ready') resolve();
        else this.execution?.onMessage(message);
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', (error: Error & { code?: string }) => {
        const gone =
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new StepHeapError(`heap limit of ${heapMb} MiB reached`)
            : new StepThreadError(`the step thread failed: ${error.message}`);
        reject(gone);
        this.execution?.onGone(gone);
      });
      this.worker.on('exit', (code) => {
        this.gone = true;
        const gone = new StepThreadError(`the step thread stopped (exit code ${code})`);
        reject(gone);
        this.execution?.onGone(gone);
        onGone(this);
      });
    });
    this.ready.catch(() => undefined);
    // Idle threads must not keep a worker process alive. After the listeners: a 'message' listener refs the thread's port again.
    this.worker.unref();
  }

  send(message: ToThread): void {
    if (!this.gone) this.worker.postMessage(message);
  }

  stop(): Promise<number> {
    this.gone = true;
    return this.worker.terminate();
  }
}

/** Runs step executions in worker threads, at most `maxThreads` at once; further executions wait for a thread. */
export class StepThreadPool {
  private readonly threads = new Set<StepThread>();
  private readonly idle: StepThread[] = [];
  /** Threads whose execution has ended, checking what it left behind: free again in a moment. */
  private readonly checking = new Set<StepThread>();
  private readonly waiting: { heapMb: number; take: (thread: StepThread) => void }[] = [];
  /** Threads retired because an execution left something behind in them, for the worker's log and tests. */
  retired = 0;
  /** The heap size of the latest execution: spares are started for it, also when a thread ends. */
  private lastHeapMb: number | null = null;
  private closing = false;

  constructor(
    private readonly maxThreads: number = DEFAULT_STEP_THREADS,
    /** Idle threads kept started for the next executions: a thread takes a while to start (it loads the engine). */
    private readonly spares: number = DEFAULT_SPARE_THREADS,
  ) {
    if (!(Number.isInteger(maxThreads) && maxThreads >= 1))
      throw new RangeError(`StepThreadPool: maxThreads must be a whole number ≥ 1; got ${maxThreads}`);
  }

  /** Runs one execution; rejects with the step's own error, a StepLimitError, or the cancellation. */
  async run(job: StepJob, limits: StepRunLimits): Promise<StepOutcome> {
    const started = performance.now();
    // Calls arrive as thread messages; they run in the caller's async context (its trace span, its activity).
    const call = AsyncResource.bind(limits.call);
    const remaining = () => limits.stopAfterMs - (performance.now() - started);
    // "timed out after N ms" as when Temporal itself ends an attempt at its timeout.
    const timeoutError = (what: string) =>
      new StepTimeoutError(
        `step "${job.step}" timed out after ${limits.timeoutMs} ms: it ${what} its timeout (${seconds(limits.timeoutMs)}) and was stopped`,
      );
    const thread = await this.acquire(limits.heapMb, remaining(), limits.signal, () => timeoutError('waited for a free step thread past'));
    this.lastHeapMb = limits.heapMb;
    this.keepSpares(limits.heapMb);
    // Cancelled while its thread was starting: the thread has run nothing and serves the next execution.
    if (limits.signal.aborted) {
      this.release(thread);
      throw limits.signal.reason instanceof Error ? limits.signal.reason : new Error('the step was cancelled');
    }
    return new Promise<StepOutcome>((resolve, reject) => {
      let settled = false;
      const finish = (end: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        limits.signal.removeEventListener('abort', onAbort);
        thread.execution = null;
        end();
      };
      const stopThread = () => {
        void thread.stop();
      };
      const timer = setTimeout(
        () =>
          finish(() => {
            stopThread();
            reject(timeoutError('ran past'));
          }),
        Math.max(0, remaining()),
      );
      const onAbort = () =>
        finish(() => {
          const reason = limits.signal.reason instanceof Error ? limits.signal.reason : new Error('the step was cancelled');
          // The content sees `step.signal` abort and may wrap up for a moment; then its thread ends, whatever it does.
          thread.send({ type: 'cancel', reason: reason.message });
          const grace = setTimeout(stopThread, CANCEL_GRACE_MS);
          thread.execution = {
            onMessage: (message) => {
              if (message.type === 'done' || message.type === 'failed') {
                clearTimeout(grace);
                stopThread();
              }
            },
            onGone: () => clearTimeout(grace),
          };
          reject(reason);
        });
      limits.signal.addEventListener('abort', onAbort, { once: true });
      thread.execution = {
        onMessage: (message) => {
          if (message.type === 'call') {
            const { id, connector, method, args, idempotencyKey, secrets } = message;
            call({ connector, method, args, idempotencyKey, secrets }).then(
              (value) => {
                let bytes: Uint8Array;
                try {
                  bytes = serialize(value);
                } catch (error) {
                  const unsendable = new ConnectorResultError(
                    `connectors.${connector}.${method}() returned a value that cannot be handed to step content (${(error as Error).message}); return plain data`,
                  );
                  thread.send({ type: 'settled', id, ok: false, error: sendError(unsendable, attemptVerdict) });
                  return;
                }
                thread.send({ type: 'settled', id, ok: true, value: bytes });
              },
              (error: unknown) => thread.send({ type: 'settled', id, ok: false, error: sendError(error, attemptVerdict) }),
            );
            return;
          }
          if (message.type === 'done' || message.type === 'failed') {
            finish(() => {
              // The thread checks what the execution left behind; it serves again only once that check passed.
              this.checking.add(thread);
              thread.execution = {
                onMessage: (after) => {
                  if (after.type !== 'checked') return;
                  thread.execution = null;
                  this.checking.delete(thread);
                  if (after.reusable) this.release(thread);
                  else {
                    this.retired += 1;
                    process.stderr.write(
                      `whenflow: step thread retired after task ${job.taskId} step ${job.step}: ${after.retireReason ?? 'it left something behind'}\n`,
                    );
                    stopThread();
                  }
                },
                onGone: () => this.checking.delete(thread),
              };
              if (message.type === 'done') resolve(message.outcome);
              else {
                reject(receivedError(message.error));
              }
            });
          }
        },
        onGone: (error) =>
          finish(() => {
            if (error instanceof StepHeapError) {
              reject(
                new StepHeapError(
                  `step "${job.step}" ran out of memory: it needed more than its heap limit of ${limits.heapMb} MiB and was stopped (raise options.maxHeapMb in the step file, or defaults.maxHeapMb in whenflow.yaml)`,
                ),
              );
            } else reject(new StepThreadError(`step "${job.step}": ${error.message}`));
          }),
      };
      thread.send({ type: 'run', job });
    });
  }

  /** Ends every thread (a worker shutting down). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.threads].map((thread) => thread.stop()));
  }

  private async acquire(heapMb: number, waitMs: number, signal: AbortSignal, onTimeout: () => Error): Promise<StepThread> {
    for (;;) {
      const thread = await this.nextThread(heapMb, waitMs, signal, onTimeout);
      try {
        await thread.ready;
        if (!thread.gone) return thread;
      } catch {
        // A thread that failed to start is gone; take another.
      }
    }
  }

  private nextThread(heapMb: number, waitMs: number, signal: AbortSignal, onTimeout: () => Error): Promise<StepThread> {
    const index = this.idle.findIndex((t) => t.heapMb === heapMb);
    if (index >= 0) return Promise.resolve(this.claim(this.idle.splice(index, 1)[0]!));
    // A thread checking its last execution is free in a moment, while a new one takes far longer to start:
    // each such thread is waited for by one execution before another thread is started.
    const sameHeap = (t: { heapMb: number }) => t.heapMb === heapMb;
    const soonFree = [...this.checking].filter(sameHeap).length > this.waiting.filter(sameHeap).length;
    if (!soonFree) {
      if (this.threads.size < this.maxThreads) return Promise.resolve(this.spawn(heapMb));
      // A thread of another heap size that nobody uses makes room for one of this size.
      const other = this.idle.shift();
      if (other) {
        this.claim(other);
        this.expire(other);
        this.threads.delete(other);
        return Promise.resolve(this.spawn(heapMb));
      }
    }
    return new Promise<StepThread>((resolve, reject) => {
      const waiter = {
        heapMb,
        take: (thread: StepThread) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(thread);
        },
      };
      const leave = (error: Error) => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(error);
      };
      const timer = setTimeout(() => leave(onTimeout()), Math.max(0, waitMs));
      const onAbort = () => {
        clearTimeout(timer);
        leave(signal.reason instanceof Error ? signal.reason : new Error('the step was cancelled'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Starts idle threads of this heap size until there are `spares` of them (within the thread limit). */
  private keepSpares(heapMb: number): void {
    let idle = this.idle.filter((t) => t.heapMb === heapMb).length;
    while (idle < this.spares && this.threads.size < this.maxThreads) {
      const thread = this.spawn(heapMb);
      this.idle.push(thread);
      thread.idleTimer = setTimeout(() => this.expire(thread), IDLE_MS);
      thread.idleTimer.unref();
      idle += 1;
    }
  }

  private expire(thread: StepThread): void {
    thread.expired = true;
    void thread.stop();
  }

  private spawn(heapMb: number): StepThread {
    const thread = new StepThread(heapMb, (gone) => {
      this.threads.delete(gone);
      const at = this.idle.indexOf(gone);
      if (at >= 0) this.idle.splice(at, 1);
      this.serveWaiter();
      // A thread stopped at a limit, cancelled or retired is replaced now, not when the next step needs it.
      if (!this.closing && !gone.expired && this.lastHeapMb !== null) this.keepSpares(this.lastHeapMb);
    });
    this.threads.add(thread);
    return thread;
  }

  private claim(thread: StepThread): StepThread {
    if (thread.idleTimer) clearTimeout(thread.idleTimer);
    thread.idleTimer = null;
    return thread;
  }

  private release(thread: StepThread): void {
    if (thread.gone) return;
    const waiter = this.waiting.findIndex((w) => w.heapMb === thread.heapMb);
    if (waiter >= 0) {
      this.waiting.splice(waiter, 1)[0]!.take(thread);
      return;
    }
    this.idle.push(thread);
    thread.idleTimer = setTimeout(() => this.expire(thread), IDLE_MS);
    thread.idleTimer.unref();
    this.serveWaiter();
  }

  /** A waiter for another heap size gets a thread when one can be started or an idle one ended. */
  private serveWaiter(): void {
    const waiter = this.waiting[0];
    if (!waiter) return;
    if (this.threads.size >= this.maxThreads) {
      const other = this.idle.shift();
      if (!other) return;
      this.claim(other);
      this.expire(other);
      this.threads.delete(other);
    }
    this.waiting.shift();
    waiter.take(this.spawn(waiter.heapMb));
  }
}
