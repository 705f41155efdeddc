/**
 * The `blob` global of step content: content kept outside the task data (and so outside Temporal's
 * history), referred to from the data by a small reference object.
 *
 *   data.report = blob.create({ content: html, contentType: 'text/html', name: 'report.html' });
 *   const html = blob.getContent(data.report);
 *
 * Both work without `await`, as hosted workspaces write them: `create` hashes the content and returns
 * its reference at once while the write proceeds (the step ends only when every write has landed);
 * `getContent` reads a local store directly, and for a remote store (S3) the blobs the task data refers
 * to are fetched before the step starts. `await blob.stream(ref)` reads any blob as a stream.
 */
import { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type { JsonObject, JsonValue } from '../model/json';
import { StepUsageError } from '../runtime/step-api';
import type { BlobSettings } from './config';
import { BLOB_ID, blobIdOf, type BlobStore } from './store';
import { brandError } from '../model/errors';

/** What `blob.create()` returns and the data keeps. */
export interface BlobRef {
  blobId: string;
  size: number;
  contentType: string;
  name?: string;
}

/** Content over `blobs.maxBytes`; the same on every retry. */
export class BlobLimitError extends StepUsageError {
  static {
    brandError(BlobLimitError, 'BlobLimitError');
  }

  constructor(message: string) {
    super(message);
  }
}

/** A reference to a blob the store does not have (a mistyped or foreign ID, or a store that lost it). */
export class BlobNotFoundError extends StepUsageError {
  static {
    brandError(BlobNotFoundError, 'BlobNotFoundError');
  }

  constructor(
    readonly blobId: string,
    where: string,
  ) {
    super(`blob ${blobId} does not exist in ${where}`);
  }
}

export function isBlobRef(value: unknown): value is BlobRef {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { blobId?: unknown }).blobId === 'string' &&
    BLOB_ID.test((value as BlobRef).blobId)
  );
}

const TEXT_TYPE = /^text\/|[/+]json\b|[/+]xml\b|javascript/i;

function toBytes(content: unknown): { bytes: Buffer; contentType: string } {
  if (typeof content === 'string') return { bytes: Buffer.from(content, 'utf8'), contentType: 'text/plain; charset=utf-8' };
  if (Buffer.isBuffer(content)) return { bytes: content, contentType: 'application/octet-stream' };
  if (content instanceof Uint8Array)
    return { bytes: Buffer.from(content.buffer, content.byteOffset, content.byteLength), contentType: 'application/octet-stream' };
  if (content instanceof ArrayBuffer) return { bytes: Buffer.from(content), contentType: 'application/octet-stream' };
  if (content === undefined) throw new StepUsageError('blob.create({ content }) needs content: a string, a Buffer or any JSON value');
  let text: string | undefined;
  try {
    text = JSON.stringify(content);
  } catch (error) {
    throw new StepUsageError(`blob.create(): content is neither text, bytes nor JSON (${(error as Error).message})`);
  }
  if (text === undefined) throw new StepUsageError(`blob.create(): content is neither text, bytes nor JSON (a ${typeof content})`);
  return { bytes: Buffer.from(text, 'utf8'), contentType: 'application/json' };
}

/** Blobs read from remote stores, by ID: content never changes under an ID, so a cached copy is always right. */
const remoteCaches = new WeakMap<BlobStore, LRUCache<string, Buffer>>();
const REMOTE_CACHE_BYTES = 64 * 1024 * 1024;

function remoteCache(store: BlobStore): LRUCache<string, Buffer> {
  let cache = remoteCaches.get(store);
  if (!cache) {
    cache = new LRUCache<string, Buffer>({ maxSize: REMOTE_CACHE_BYTES, sizeCalculation: (b) => Math.max(1, b.length) });
    remoteCaches.set(store, cache);
  }
  return cache;
}

function refsIn(value: JsonValue, found: Set<string>): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) refsIn(item, found);
    return;
  }
  if (isBlobRef(value)) found.add(value.blobId);
  for (const item of Object.values(value)) refsIn(item, found);
}

export interface StepBlobs {
  /** The `blob` global. */
  api: {
    create(input: { content: unknown; contentType?: string; name?: string }): BlobRef;
    getContent(ref: BlobRef | string): string | Buffer;
    stream(ref: BlobRef | string): Promise<Readable>;
  };
  /** Resolves when every blob created by the step is stored; rejects with the first write that failed. */
  settled(): Promise<void>;
}

const NO_STORE = 'no blob store: blobs need a workspace (`.whenflow/blobs` by default, `blobs:` in whenflow.yaml)';

/** The `blob` global of one step execution on `data`; with a remote store, the blobs `data` refers to are fetched first. */
export async function openStepBlobs(settings: BlobSettings | undefined, data: JsonObject): Promise<StepBlobs> {
  const store = settings?.store;
  const here = new Map<string, Buffer>();
  const writes: Promise<void>[] = [];
  const cache = store && !store.getSync ? remoteCache(store) : null;
  if (store && cache) {
    const ids = new Set<string>();
    refsIn(data, ids);
    await Promise.all(
      [...ids]
        .filter((id) => !cache.has(id))
        .map(async (id) => {
          const content = await store.get(id);
          if (content) cache.set(id, content);
        }),
    );
  }

  const idOf = (ref: unknown, method: string): string => {
    const id = typeof ref === 'string' ? ref : isBlobRef(ref) ? ref.blobId : undefined;
    if (!id || !BLOB_ID.test(id))
      throw new StepUsageError(
        `blob.${method}() takes what blob.create() returned (or its blobId), got ${JSON.stringify(ref) ?? String(ref)}`,
      );
    return id;
  };

  const contentOf = (id: string): Buffer => {
    if (!store) throw new StepUsageError(NO_STORE);
    const content = here.get(id) ?? cache?.get(id) ?? store.getSync?.(id) ?? null;
    if (content) return content;
    if (cache) {
      throw new BlobNotFoundError(
        id,
        `${store.description} (blobs the task data refers to are fetched before the step; read others with await blob.stream(id))`,
      );
    }
    throw new BlobNotFoundError(id, store.description);
  };

  const api: StepBlobs['api'] = {
    create(input) {
      if (!settings || !store) throw new StepUsageError(NO_STORE);
      if (input === null || typeof input !== 'object') throw new StepUsageError('blob.create() takes { content, contentType?, name? }');
      const { bytes, contentType } = toBytes(input.content);
      if (bytes.length > settings.maxBytes) {
        throw new BlobLimitError(
          `blob.create(): the content is ${bytes.length} bytes, over the limit of ${settings.maxBytes} bytes (blobs.maxBytes in whenflow.yaml)`,
        );
      }
      if (input.contentType !== undefined && (typeof input.contentType !== 'string' || input.contentType === ''))
        throw new StepUsageError('blob.create(): contentType must be a non-empty string');
      if (input.name !== undefined && typeof input.name !== 'string') throw new StepUsageError('blob.create(): name must be a string');
      const id = blobIdOf(bytes);
      if (!here.has(id)) {
        here.set(id, bytes);
        const write = store.put(id, bytes);
        write.catch(() => undefined); // reported by settled(), which the step awaits
        writes.push(write);
        cache?.set(id, bytes);
      }
      return {
        blobId: id,
        size: bytes.length,
        contentType: input.contentType ?? contentType,
        ...(input.name !== undefined ? { name: input.name } : {}),
      };
    },
    getContent(ref) {
      const content = contentOf(idOf(ref, 'getContent'));
      // Text comes back as a string (bytes, or a bare ID of binary content: as a Buffer only when the reference says so).
      return isBlobRef(ref) && !TEXT_TYPE.test(ref.contentType) ? content : content.toString('utf8');
    },
    async stream(ref) {
      const id = idOf(ref, 'stream');
      if (!store) throw new StepUsageError(NO_STORE);
      const pending = here.get(id);
      if (pending) return Readable.from([pending]);
      const stream = await store.stream(id);
      if (!stream) throw new BlobNotFoundError(id, store.description);
      return stream;
    },
  };

  return {
    api,
    settled: async () => {
      await Promise.all(writes);
    },
  };
}
