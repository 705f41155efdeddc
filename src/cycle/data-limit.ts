/**
 * The task data size limit (`maxDataBytes`): how large the data is, whether a write may make it that
 * large, and what to tell the user. Pure and workflow-safe (no Node APIs): the client checks a task's
 * data before starting it, the step activity checks what a step leaves behind, and the workflow's
 * update validator checks new data from outside.
 */
import { formatJsonPath, type JsonObject, type JsonValue } from '../model/json';
import type { TaskOptions } from '../model/task';
import { DEFAULT_MAX_DATA_BYTES } from '../model/defaults';

/** The limit of a task; tasks started before the option existed have the default. */
export function maxDataBytesOf(options: Pick<TaskOptions, 'maxDataBytes'>): number {
  return options.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
}

/**
 * UTF-8 length of a string, counted by hand: Buffer is not available in workflow code. JSON.stringify
 * escapes lone surrogates, so for its output every surrogate pair is one 4-byte character.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3; // other BMP characters; a lone surrogate as its replacement character
  }
  return bytes;
}

/** Size of a JSON value as JSON text in UTF-8 bytes. */
export function jsonBytes(value: JsonValue): number {
  return utf8ByteLength(JSON.stringify(value));
}

/**
 * Whether JSON text is over `limit` bytes. Every UTF-16 unit is 1 to 3 bytes, so most texts are
 * decided by their length alone and only the ones in between are counted.
 */
function textOver(text: string, limit: number): boolean {
  if (text.length * 3 <= limit) return false;
  if (text.length > limit) return true;
  return utf8ByteLength(text) > limit;
}

export interface DataOverLimit {
  bytes: number;
  limit: number;
  /** The largest top-level keys (their `"key":value` JSON), largest first: what to trim. */
  largest: { path: string; bytes: number }[];
}

const LARGEST_SHOWN = 3;

/**
 * Null when `data` is within `limit`; otherwise how large it is and its largest keys.
 * With `before` (the data as it was), a write that leaves the data no larger is let through even
 * over the limit, so a step or update that trims data grown past it (by a connector result, say)
 * is not refused.
 */
export function overDataLimit(data: JsonObject, limit: number, before?: JsonObject): DataOverLimit | null {
  const text = JSON.stringify(data);
  if (!textOver(text, limit)) return null;
  const bytes = utf8ByteLength(text);
  if (before !== undefined && bytes <= jsonBytes(before)) return null;
  const largest = Object.entries(data)
    .map(([key, value]) => ({
      path: formatJsonPath([key], 'data'),
      bytes: utf8ByteLength(`${JSON.stringify(key)}:${JSON.stringify(value)}`),
    }))
    .sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1))
    .slice(0, LARGEST_SHOWN);
  return { bytes, limit, largest };
}

/** `1,572,864` — by hand: number formatting by locale differs between machines. */
function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `812 bytes`, `4.2 KiB`, `2.9 MiB`. */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** `3,000,023 bytes (2.9 MiB)`; `812 bytes`. */
function exactSize(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${grouped(bytes)} bytes (${sizeText(bytes)})`;
}

/**
 * `3,000,023 bytes (2.9 MiB) as JSON, over the limit of …`: the size, the limit and where it is set,
 * and the largest keys. Callers say what was measured first (`data: is …`, `step "x" would make the task data …`).
 */
export function describeOverLimit(over: DataOverLimit): string {
  const largest = over.largest.map((key) => `${key.path} ${sizeText(key.bytes)}`).join(', ');
  return (
    `${exactSize(over.bytes)} as JSON, over the limit of ${exactSize(over.limit)} ` +
    `set by maxDataBytes (a task option; whenflow.yaml defaults.maxDataBytes)` +
    (largest ? `; largest keys: ${largest}` : '')
  );
}
