/**
 * The `blobs:` section of whenflow.yaml: where `blob.create()` stores content and how large one blob may be.
 *
 * ```yaml
 * blobs:
 *   store: filesystem          # default; or s3
 *   dir: .whenflow/blobs       # filesystem: relative to the workspace (the default)
 *   maxBytes: 10485760         # largest blob (default 10 MiB)
 *   s3:                        # store: s3
 *     bucket: my-bucket
 *     prefix: whenflow/blobs/  # default
 *     region: eu-central-1     # default us-east-1
 *     endpoint: http://127.0.0.1:9000   # an S3-compatible service; absent: AWS
 *     forcePathStyle: true     # default: true with an endpoint
 *     accessKeyId: ${S3_KEY}   # both or neither; neither: the AWS SDK's credential chain
 *     secretAccessKey: ${S3_SECRET}
 * ```
 */
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { JsonValue } from '../model/json';
import { formatJsonPath } from '../model/json';
import { S3BlobStore, type S3BlobStoreOptions } from './s3-store';
import { FilesystemBlobStore, type BlobStore } from './store';

export const DEFAULT_BLOB_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_BLOB_DIR = join('.whenflow', 'blobs');

export interface BlobSettings {
  store: BlobStore;
  /** Largest content `blob.create()` accepts, in bytes. */
  maxBytes: number;
}

const s3Schema = z
  .object({
    bucket: z.string().min(1, 'must name the bucket'),
    prefix: z.string().nullish(),
    region: z.string().min(1).nullish(),
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).nullish(),
    forcePathStyle: z.boolean().nullish(),
    accessKeyId: z.string().min(1).nullish(),
    secretAccessKey: z.string().min(1).nullish(),
  })
  .strict()
  .refine((s) => !!s.accessKeyId === !!s.secretAccessKey, {
    message: 'give both accessKeyId and secretAccessKey, or neither (the AWS credential chain)',
    path: ['secretAccessKey'],
  });

const blobsSchema = z
  .object({
    store: z.enum(['filesystem', 's3'], { error: 'must be "filesystem" or "s3"' }).nullish(),
    dir: z.string().min(1).nullish(),
    maxBytes: z.number({ error: 'must be a number of bytes' }).int('must be a whole number of bytes').min(1).nullish(),
    s3: s3Schema.nullish(),
  })
  .strict()
  .refine((b) => b.store !== 's3' || !!b.s3, { message: 'store "s3" needs an s3: section with at least a bucket', path: ['s3'] });

/** Stores are kept for the life of the process, one per configuration: an S3 client keeps its connections. */
const stores = new Map<string, BlobStore>();

function storeFor(key: string, make: () => BlobStore): BlobStore {
  let store = stores.get(key);
  if (!store) {
    store = make();
    stores.set(key, store);
  }
  return store;
}

/** Validates the raw `blobs:` section; never throws: problems come back located by their dot path. */
export function parseBlobSettings(
  raw: JsonValue | null,
  workspace: string,
): { settings: BlobSettings; problems: { path: string; message: string }[] } {
  const parsed = blobsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => {
      const path = ['blobs', ...issue.path.filter((s): s is string | number => typeof s !== 'symbol')];
      if (issue.code === 'unrecognized_keys')
        return issue.keys.map((key) => ({ path: formatJsonPath([...path, key]), message: `unknown key "${key}"` }));
      return [{ path: formatJsonPath(path), message: issue.message }];
    });
    return { settings: defaultBlobSettings(workspace), problems };
  }
  const b = parsed.data;
  const maxBytes = b.maxBytes ?? DEFAULT_BLOB_MAX_BYTES;
  if (b.store === 's3' && b.s3) {
    const s3 = b.s3;
    const options: S3BlobStoreOptions = {
      bucket: s3.bucket,
      prefix: s3.prefix ?? 'whenflow/blobs/',
      region: s3.region ?? 'us-east-1',
      forcePathStyle: s3.forcePathStyle ?? !!s3.endpoint,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.accessKeyId && s3.secretAccessKey
        ? { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } }
        : {}),
    };
    return { settings: { maxBytes, store: storeFor(`s3\0${JSON.stringify(options)}`, () => new S3BlobStore(options)) }, problems: [] };
  }
  const dir = b.dir ? (isAbsolute(b.dir) ? b.dir : join(workspace, b.dir)) : join(workspace, DEFAULT_BLOB_DIR);
  return { settings: { maxBytes, store: storeFor(`fs\0${dir}`, () => new FilesystemBlobStore(dir)) }, problems: [] };
}

export function defaultBlobSettings(workspace: string): BlobSettings {
  const dir = join(workspace, DEFAULT_BLOB_DIR);
  return { maxBytes: DEFAULT_BLOB_MAX_BYTES, store: storeFor(`fs\0${dir}`, () => new FilesystemBlobStore(dir)) };
}
