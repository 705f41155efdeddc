/**
 * Blobs in an S3-compatible bucket, for workers on several machines: every worker (and every step)
 * reads what any other stored. Objects are keyed `<prefix><id>`; S3 writes an object whole or not at
 * all, so a reader never sees part of one.
 */
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
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

function isMissing(error: unknown): boolean {
  if (error instanceof NoSuchKey || error instanceof NotFound) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 404;
}

export class S3BlobStore implements BlobStore {
  readonly description: string;
  private readonly client: S3Client;

  constructor(private readonly options: S3BlobStoreOptions) {
    this.description = `s3 ${options.bucket}/${options.prefix}`;
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // Plain PUT bodies (no aws-chunked trailers): understood by every S3-compatible service.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private keyOf(id: string): string {
    if (!BLOB_ID.test(id)) throw new Error(`"${id}" is not a blob ID`);
    return `${this.options.prefix}${id}`;
  }

  async put(id: string, content: Buffer): Promise<void> {
    const Key = this.keyOf(id);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key }));
      return;
    } catch (error) {
      if (!isMissing(error)) throw new Error(`cannot store blob ${id} in ${this.description}: ${(error as Error).message}`, { cause: error });
    }
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key, Body: content, ContentLength: content.length }));
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
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(id) }));
      if (!response.Body) throw new Error('the response has no body');
      return response.Body;
    } catch (error) {
      if (isMissing(error)) return null;
      throw new Error(`cannot read blob ${id} from ${this.description}: ${(error as Error).message}`, { cause: error });
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
