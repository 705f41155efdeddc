/**
 * Blobs in an S3-compatible bucket, for workers on several machines: every worker (and every step)
 * reads what any other stored. Objects are keyed `<prefix><id>`; S3 writes an object whole or not at
 * all, so a reader never sees part of one.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { BLOB_ID, verified, type BlobStore } from './store';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix, e.g. `whenflow/blobs/`. */
  prefix: string;
  region: string;
  /** An S3-compatible service's URL (MinIO, Ceph, R2, …); absent: AWS. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible services want. */
  forcePathStyle: boolean;
  /** Absent: the AWS SDK's default credential chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

type Sdk = typeof import('@aws-sdk/client-s3');

function isMissing(error: unknown): boolean {
  const name = (error as { name?: unknown }).name;
  if (name === 'NoSuchKey' || name === 'NotFound') return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 404;
}

export class S3BlobStore implements BlobStore {
  readonly description: string;
  /** The AWS SDK is loaded on first use: most workspaces never touch S3, and it is large to load. */
  private connecting: Promise<{ sdk: Sdk; client: S3Client }> | null = null;

  constructor(private readonly options: S3BlobStoreOptions) {
    this.description = `s3 ${options.bucket}/${options.prefix}`;
  }

  private connect(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.connecting ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      client: new sdk.S3Client({
        region: this.options.region,
        forcePathStyle: this.options.forcePathStyle,
        ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
        ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
        // Plain PUT bodies (no aws-chunked trailers): understood by every S3-compatible service.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    }));
    return this.connecting;
  }

  private keyOf(id: string): string {
    if (!BLOB_ID.test(id)) throw new Error(`"${id}" is not a blob ID`);
    return `${this.options.prefix}${id}`;
  }

  async put(id: string, content: Buffer): Promise<void> {
    const Key = this.keyOf(id);
    const { sdk, client } = await this.connect();
    try {
      await client.send(new sdk.HeadObjectCommand({ Bucket: this.options.bucket, Key }));
      return;
    } catch (error) {
      if (!isMissing(error))
        throw new Error(`cannot store blob ${id} in ${this.description}: ${(error as Error).message}`, { cause: error });
    }
    try {
      await client.send(new sdk.PutObjectCommand({ Bucket: this.options.bucket, Key, Body: content, ContentLength: content.length }));
    } catch (error) {
      throw new Error(`cannot store blob ${id} in ${this.description}: ${(error as Error).message}`, { cause: error });
    }
  }

  async get(id: string): Promise<Buffer | null> {
    const body = await this.body(id);
    if (!body) return null;
    return verified(id, Buffer.from(await body.transformToByteArray()), this.description);
  }

  async stream(id: string): Promise<Readable | null> {
    const body = await this.body(id);
    return body ? (body as unknown as Readable) : null;
  }

  private async body(id: string) {
    const Key = this.keyOf(id);
    const { sdk, client } = await this.connect();
    try {
      const response = await client.send(new sdk.GetObjectCommand({ Bucket: this.options.bucket, Key }));
      if (!response.Body) throw new Error('the response has no body');
      return response.Body;
    } catch (error) {
      if (isMissing(error)) return null;
      throw new Error(`cannot read blob ${id} from ${this.description}: ${(error as Error).message}`, { cause: error });
    }
  }

  destroy(): void {
    void this.connecting?.then(({ client }) => client.destroy());
  }
}
