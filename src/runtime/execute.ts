import { format } from 'node:util';
import type { JsonObject } from '../model/json';
import type { DeferredCall, StepLog, StepOutcome } from '../model/task';
import { describeOverLimit, maxDataBytesOf, overDataLimit } from '../cycle/data-limit';
import { openStepBlobs } from '../blobs/api';
import type { BlobSettings } from '../blobs/config';
import { diffData } from '../model/patch';
import { CallTracker } from '../connectors/proxy';
import { runInStepScope } from './globals';
import { trackReads } from './read-tracking';
import { dropUnusedStash, offerStash } from './stash-slot';
import { callArgsPlace, sealCallSecrets, sealSecretArgs, sealStash, stashMask, unsealStash, type StashKeys } from './stash';
import { SecretMask } from './mask';
import { createStepApi, type StepApiInput } from './step-api';
import { toJson } from './to-json';
import { FinalError, brandError } from '../model/errors';

export type StepContent = () => unknown;

export interface StepExecution extends StepApiInput {
  data: JsonObject;
  content: StepContent;
  /**
   * Builds the `connectors` global; `defer` records a call made with `into` for the workflow to run, and
   * every other call goes through `calls`, so that the step ends only when all of them have settled.
   */
  /** `maskSecrets` masks the step's secrets in a text; `secrets` lists them (for a connector run in another thread). */
  connectors?: (
    defer: (call: DeferredCall) => void,
    calls: CallTracker,
    maskSecrets: (text: string) => string,
    secrets: () => readonly string[],
  ) => object;
  /** Record the paths the content reads (a step of a parallel batch: its reads are checked against the batch's writes). */
  trackReads?: boolean;
  /** Key for `data.$stash` secrets: the step sees plaintext, the patch carries sealed values only. */
  stash?: { key: StashKeys | null };
  /** Further secrets to keep out of everything the step lets out (the `config:` values marked secret). */
  secretTexts?: readonly string[];
  /** The task's `maxDataBytes`: a step leaving more data than this fails (DataLimitError). Absent: the default. */
  maxDataBytes?: number;
  /** The `lib` global: the workspace's libraries. */
  lib?: object;
  /** Where the `blob` global stores content; absent: `blob` refuses with a clear error. */
  blobs?: BlobSettings;
}

/** A step left the task data over its `maxDataBytes`; the same would happen on every retry. */
export class DataLimitError extends FinalError {
  static {
    brandError(DataLimitError, 'DataLimitError');
  }

  constructor(message: string) {
    super(message);
  }
}

export const LOG_LIMITS = { entries: 200, chars: 4000 };

/** Console output, audit lines and visuals of one execution, bounded so a chatty step cannot bloat history. */
class LogBook {
  readonly entries: StepLog[] = [];
  dropped = 0;

  add = (entry: StepLog): void => {
    if (this.entries.length >= LOG_LIMITS.entries) {
      this.dropped += 1;
      return;
    }
    const message = entry.message.length > LOG_LIMITS.chars ? `${entry.message.slice(0, LOG_LIMITS.chars)}…` : entry.message;
    this.entries.push({ ...entry, message });
  };

  console(): Console {
    const record =
      (level: StepLog['level']) =>
      (...args: unknown[]) =>
        this.add({ level, message: format(...args) });
    return Object.assign(Object.create(globalThis.console) as Console, {
      log: record('log'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
      debug: record('debug'),
    });
  }
}

/**
 * Runs one step's content on a private copy of the data and reports what it changed and which commands
 * it gave. It decides nothing about what runs next: that is the workflow's job.
 */
export async function executeStep(execution: StepExecution): Promise<StepOutcome> {
  const key = execution.stash?.key ?? null;
  const plain = unsealStash(execution.data, key);
  const known = stashMask(plain).with(new SecretMask(execution.secretTexts ?? []));
  // The data the content works on, once it exists: secrets it writes to `$stash` are masked too.
  let working: (() => unknown) | null = null;
  const secretsNow = (): SecretMask => known.with(liveStashMask(working?.()));
  try {
    return await executeUnsealed(execution, plain, key, (data) => (working = data), secretsNow);
  } catch (error) {
    // Every failure leaves as a Temporal failure (history, task error, worker log, spans): never with a secret in it.
    throw secretsNow().error(error);
  }
}

/** The mask for what content wrote under `$stash` so far; read without side effects (no tracked read, no `$stash` created). */
function liveStashMask(data: unknown): SecretMask {
  if (typeof data !== 'object' || data === null) return SecretMask.NONE;
  const slot = Object.getOwnPropertyDescriptor(data, '$stash');
  return slot && 'value' in slot ? SecretMask.of(slot.value) : SecretMask.NONE;
}

async function executeUnsealed(
  execution: StepExecution,
  plain: JsonObject,
  key: StashKeys | null,
  exposeWorking: (data: () => unknown) => void,
  secretsNow: () => SecretMask,
): Promise<StepOutcome> {
  const logs = new LogBook();
  const api = createStepApi(execution, logs.add);
  const calls = new CallTracker();
  const blobs = await openStepBlobs(execution.blobs, plain);
  // offerStash first: the read tracker then sees `$stash` created like any other key.
  const offered = offerStash(structuredClone(plain));
  const reading = execution.trackReads ? trackReads(offered) : null;
  const scope = {
    data: (reading?.data ?? offered) as unknown,
    task: api.task,
    step: api.step,
    audit: api.audit,
    connectors:
      execution.connectors?.(
        (call) => api.commands.push({ type: 'call', call }),
        calls,
        (text) => secretsNow().text(text),
        () => secretsNow().secrets,
      ) ?? {},
    lib: execution.lib ?? {},
    blob: blobs.api,
    console: logs.console(),
  };
  // The tracked proxy is not read from (that would count as the content reading); its target holds the same writes.
  exposeWorking(() => (reading && scope.data === reading.data ? offered : scope.data));
  const started = performance.now();
  await runInStepScope(scope, async () => {
    try {
      await execution.content();
    } catch (error) {
      // The attempt failed; calls it started still finish before the next attempt may start.
      await calls.settle().catch(() => undefined);
      throw error;
    }
    await calls.settle();
  });
  reading?.stop();
  await blobs.settled();
  const durationMs = Math.round(performance.now() - started);
  const after = dropUnusedStash(toJson(scope.data, { step: execution.step }), plain);
  // Unchanged secrets keep their sealed form, so they make no patch; new or changed ones are sealed now.
  const sealed = sealStash(after, key, execution.data);
  const patch = diffData(execution.data, sealed);
  // Measured as the task would hold it (secrets sealed), before any of it leaves the activity. A step that
  // changed nothing leaves the data as large as it was, which the limit lets through: no need to measure.
  const over = patch.length > 0 ? overDataLimit(sealed, maxDataBytesOf(execution), execution.data) : null;
  if (over)
    throw new DataLimitError(
      `step "${execution.step}" would make the task data ${describeOverLimit(over)}; nothing the step wrote was kept`,
    );
  const mask = secretsNow().with(stashMask(after));
  // Secrets also leave through subtask data and deferred connector arguments: both go into history.
  const commands = api.commands.map((command) => {
    if (command.type === 'subtask') return { ...command, request: { ...command.request, data: sealStash(command.request.data, key) } };
    if (command.type === 'call') {
      const { connector, method } = command.call;
      const secrets = sealCallSecrets(mask, key, connector, method);
      const args = sealSecretArgs(command.call.args, mask, key, callArgsPlace(connector, method)) as JsonObject;
      return { ...command, call: { ...command.call, args, ...(secrets !== null ? { secrets } : {}) } };
    }
    return command;
  });
  return {
    patch,
    commands,
    logs: mask.isEmpty ? logs.entries : logs.entries.map((entry) => maskLog(entry, mask)),
    logsDropped: logs.dropped,
    durationMs,
    attempt: execution.attempt,
    ...(reading ? { reads: reading.reads() } : {}),
  };
}

/** A log line, audit line or visual with every secret masked (a visual's data included). */
function maskLog(entry: StepLog, mask: SecretMask): StepLog {
  const masked: StepLog = { ...entry, message: mask.text(entry.message) };
  if (entry.visual) masked.visual = mask.json(entry.visual) as JsonObject;
  return masked;
}
