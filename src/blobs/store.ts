/**
 * Where blob content lives. Blobs are content-addressed (the ID is the SHA-256 of the bytes), so a
 * store never overwrites anything with something else: writing an ID that exists is a no-op, and
 * content read back is checked against its ID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';

export interface BlobStore {
  /** For messages: `filesystem /srv/ws/.whenflow/blobs`, `s3 bucket/prefix`. */
  readonly description: string;
  /** Stores the content under its ID, atomically (a reader never sees part of it); a no-op when it exists. */
  put(id: string, content: Buffer): Promise<void>;
  /** The content, or null when the store has no such blob. */
  get(id: string): Promise<Buffer | null>;
  /** A stream of the content, or null when the store has no such blob. */
  stream(id: string): Promise<Readable | null>;
  /** The content read without waiting, when the store is on this machine (else absent). */
  getSync?(id: string): Buffer | null;
}

export const BLOB_ID = /^sha256-[0-9a-f]{64}$/;

export function blobIdOf(content: Buffer): string {
  return `sha256-${createHash('sha256').update(content).digest('hex')}`;
}

/** Content that does not hash to its ID was damaged (or replaced) in the store: never hand it to a step. */
export function verified(id: string, content: Buffer, where: string): Buffer {
  if (blobIdOf(content) !== id) throw new Error(`blob ${id} in ${where} is damaged: its content does not match its ID`);
  return content;
}

/** The default store: files under `<workspace>/.whenflow/blobs/<2 hex>/<id>`. */
export class FilesystemBlobStore implements BlobStore {
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = `filesystem ${dir}`;
  }

  private pathOf(id: string): string {
    if (!BLOB_ID.test(id)) throw new Error(`"${id}" is not a blob ID`);
    return join(this.dir, id.slice(7, 9), id);
  }

  async put(id: string, content: Buffer): Promise<void> {
    const path = this.pathOf(id);
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    )
      return;
    await mkdir(dirname(path), { recursive: true });
    // Written under a private name, then renamed: rename is atomic within a file system.
    const temporary = `${path}.${randomBytes(6).toString('hex')}.partial`;
    try {
      await writeFile(temporary, content, { flag: 'wx' });
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(id: string): Promise<Buffer | null> {
    try {
      return verified(id, await readFile(this.pathOf(id)), this.description);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  getSync(id: string): Buffer | null {
    try {
      return verified(id, readFileSync(this.pathOf(id)), this.description);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async stream(id: string): Promise<Readable | null> {
    const path = this.pathOf(id);
    if (
      !(await stat(path).then(
        () => true,
        () => false,
      ))
    )
      return null;
    return createReadStream(path);
  }
}
