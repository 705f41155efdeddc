// ../../tmp/proto14c/entry.ts
import { parentPort } from "node:worker_threads";

// src/runtime/execute.ts
import { format } from "node:util";

// src/model/task.ts
var TERMINAL_STATES = ["done", "ignored", "stopped", "expired"];
var SETTLED_STATES = [...TERMINAL_STATES, "attention", "error"];
var DEFAULT_MAX_DATA_BYTES = 1572864;

// src/model/json.ts
function isJsonObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// src/runtime/task-id.ts
var STRING_VALUE = /* @__PURE__ */ Symbol("whenflow.stringValue");
function taskIdValue(id) {
  const value = () => id;
  Object.defineProperties(value, {
    [STRING_VALUE]: { value: id },
    toString: { value: () => id },
    valueOf: { value: () => id },
    toJSON: { value: () => id },
    [Symbol.toPrimitive]: { value: () => id },
    length: { value: id.length }
  });
  return value;
}
function stringValueOf(value) {
  return typeof value === "function" && STRING_VALUE in value ? value[STRING_VALUE] : void 0;
}

// src/runtime/to-json.ts
var MAX_PROBLEMS = 20;
var DataValueError = class extends Error {
  /** Every problem found, up to MAX_PROBLEMS; `total` counts all of them. */
  constructor(step2, problems, total = problems.length, subject) {
    super(formatMessage(step2, problems, total, subject));
    this.step = step2;
    this.problems = problems;
    this.total = total;
    this.name = "DataValueError";
  }
  step;
  problems;
  total;
};
function formatMessage(step2, problems, total, subject = "task.complete()") {
  const what = (p) => p.path === "data" ? `set data to ${p.message}` : /^result\b/.test(p.path) ? `got ${p.message} from ${subject} at ${p.path}` : `wrote ${p.message} at ${p.path}`;
  const first = problems[0];
  if (problems.length === 1 && total === 1 && first) {
    const must = first.path === "data" ? "data must be a JSON object" : "step data must be JSON";
    return `step "${step2}" ${what(first)}; ${must}`;
  }
  const more = total > problems.length ? `; and ${total - problems.length} more` : "";
  return `step "${step2}" left ${total} values that are not JSON (step data must be JSON): ` + problems.map(what).join("; ") + more;
}
var IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
function formatDataPath(segments, root = "data") {
  let out = root;
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (IDENTIFIER.test(s)) out += `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}
function isDate(value) {
  try {
    if (Object.prototype.toString.call(value) !== "[object Date]") return false;
    Date.prototype.getTime.call(value);
    return true;
  } catch {
    return false;
  }
}
function isThenable(value) {
  try {
    return typeof value.then === "function";
  } catch {
    return false;
  }
}
function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}
function className(value) {
  try {
    const ctor = value.constructor;
    if (typeof ctor === "function" && ctor.name) return ctor.name;
  } catch {
  }
  return "an unknown class";
}
function describePrimitive(value) {
  switch (typeof value) {
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    case "bigint":
      return `a BigInt (${String(value)}n)`;
    case "number":
      return Number.isFinite(value) ? void 0 : String(value);
    default:
      return void 0;
  }
}
function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}
var DROP = /* @__PURE__ */ Symbol("drop");
var Converter = class {
  constructor(root = "data") {
    this.root = root;
  }
  root;
  problems = [];
  total = 0;
  path = [];
  /** Objects on the current path (not all visited ones), so shared references are not cycles. */
  ancestors = /* @__PURE__ */ new Map();
  problem(message) {
    this.total++;
    if (this.problems.length < MAX_PROBLEMS) {
      this.problems.push({ path: formatDataPath(this.path, this.root), message });
    }
  }
  rootProblem(message) {
    this.total++;
    this.problems.unshift({ path: "data", message });
    this.problems.length = Math.min(this.problems.length, MAX_PROBLEMS);
  }
  /** Returns DROP for `undefined` (and after reporting a problem) so callers decide. */
  convert(value, key, useToJSON = true) {
    if (value === void 0) return DROP;
    if (value === null || typeof value === "string" || typeof value === "boolean") return value;
    if (typeof value === "number" && Number.isFinite(value)) return value === 0 ? 0 : value;
    const asString = stringValueOf(value);
    if (asString !== void 0) return asString;
    const bad = describePrimitive(value);
    if (bad !== void 0 || typeof value !== "object") {
      this.problem(bad ?? `a ${typeof value}`);
      return DROP;
    }
    if (Array.isArray(value)) return this.within(value, () => this.array(value));
    if (isDate(value)) {
      const time = value.getTime();
      if (Number.isNaN(time)) {
        this.problem("an invalid Date");
        return DROP;
      }
      return new Date(time).toISOString();
    }
    const toJSON = useToJSON ? this.read(value, "toJSON") : void 0;
    if (typeof toJSON === "function") {
      let replaced;
      try {
        replaced = toJSON.call(value, key);
      } catch (err) {
        this.problem(`an object whose toJSON() threw: ${errorText(err)}`);
        return DROP;
      }
      if (replaced === value) return this.convert(replaced, key, false);
      return this.within(value, () => this.convert(replaced, key, false));
    }
    if (isThenable(value)) {
      this.problem("a Promise (missing await?)");
      return DROP;
    }
    if (!isPlainObject(value)) {
      this.problem(`an instance of ${className(value)} (only plain objects, arrays and Dates)`);
      return DROP;
    }
    return this.within(value, () => this.object(value));
  }
  within(value, walk) {
    const depth = this.ancestors.get(value);
    if (depth !== void 0) {
      this.problem(`a circular reference (back to ${formatDataPath(this.path.slice(0, depth), this.root)})`);
      return DROP;
    }
    this.ancestors.set(value, this.path.length);
    try {
      return walk();
    } finally {
      this.ancestors.delete(value);
    }
  }
  array(value) {
    const out = [];
    for (let i = 0; i < value.length; i++) {
      this.path.push(i);
      const item = this.convert(this.read(value, i), String(i));
      this.path.pop();
      out.push(item === DROP ? null : item);
    }
    return out;
  }
  object(value) {
    const out = {};
    let keys;
    try {
      keys = Object.keys(value);
    } catch (err) {
      this.problem(`an object whose keys cannot be listed: ${errorText(err)}`);
      return out;
    }
    for (const key of keys) {
      this.path.push(key);
      if (key === "__proto__") {
        this.problem("the key __proto__ (not allowed in task data)");
      } else {
        const item = this.convert(this.read(value, key), key);
        if (item !== DROP) out[key] = item;
      }
      this.path.pop();
    }
    return out;
  }
  /** Property read that reports a throwing getter (or proxy trap) instead of aborting. */
  read(target, key) {
    try {
      return target[key];
    } catch (err) {
      this.problem(`a property whose getter threw: ${errorText(err)}`);
      return void 0;
    }
  }
};
function describeRoot(value) {
  if (value === null) return "null";
  if (value === void 0) return "undefined";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return isDate(value) ? "a Date" : `an instance of ${className(value)}`;
  return `a ${typeof value}`;
}
function toJson(value, where) {
  const converter = new Converter();
  const result = converter.convert(value, "");
  if (result !== DROP && !isJsonObject(result)) {
    converter.rootProblem(describeRoot(value));
  } else if (result === DROP && converter.total === 0) {
    converter.rootProblem("undefined");
  }
  if (converter.total > 0 || result === DROP || !isJsonObject(result)) {
    throw new DataValueError(where.step, converter.problems, converter.total);
  }
  return result;
}
function resultToJson(value, where, subject = "task.complete()") {
  if (value === void 0) return null;
  const converter = new Converter("result");
  const result = converter.convert(value, "");
  if (converter.total > 0 || result === DROP) {
    const problems = converter.problems.length > 0 ? converter.problems : [{ path: "result", message: describeRoot(value) }];
    throw new DataValueError(where.step, problems, Math.max(1, converter.total), subject);
  }
  return result;
}

// src/cycle/data-limit.ts
function maxDataBytesOf(options) {
  return options.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
}
function utf8ByteLength(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 128) bytes += 1;
    else if (unit < 2048) bytes += 2;
    else if (unit >= 55296 && unit <= 56319 && i + 1 < text.length && (text.charCodeAt(i + 1) & 64512) === 56320) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
function jsonBytes(value) {
  return utf8ByteLength(JSON.stringify(value));
}
function textOver(text, limit) {
  if (text.length * 3 <= limit) return false;
  if (text.length > limit) return true;
  return utf8ByteLength(text) > limit;
}
var LARGEST_SHOWN = 3;
function overDataLimit(data, limit, before) {
  const text = JSON.stringify(data);
  if (!textOver(text, limit)) return null;
  const bytes = utf8ByteLength(text);
  if (before !== void 0 && bytes <= jsonBytes(before)) return null;
  const largest = Object.entries(data).map(([key, value]) => ({ path: formatDataPath([key]), bytes: utf8ByteLength(`${JSON.stringify(key)}:${JSON.stringify(value)}`) })).sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1)).slice(0, LARGEST_SHOWN);
  return { bytes, limit, largest };
}
function grouped(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
function exactSize(bytes) {
  return bytes < 1024 ? `${bytes} bytes` : `${grouped(bytes)} bytes (${sizeText(bytes)})`;
}
function describeOverLimit(over) {
  const largest = over.largest.map((key) => `${key.path} ${sizeText(key.bytes)}`).join(", ");
  return `${exactSize(over.bytes)} as JSON, over the limit of ${exactSize(over.limit)} set by maxDataBytes (a task option; whenflow.yaml defaults.maxDataBytes)` + (largest ? `; largest keys: ${largest}` : "");
}

// src/blobs/api.ts
import { Readable } from "node:stream";
import { LRUCache } from "lru-cache";

// src/runtime/step-api.ts
import ms from "ms";
var StepFinalError = class extends Error {
  final = true;
  constructor(message) {
    super(message);
    this.name = "StepFinalError";
  }
};
var StepUsageError = class extends Error {
  constructor(message) {
    super(message);
    this.name = "StepUsageError";
  }
};
function duration(method2, value) {
  const parsed = typeof value === "string" ? ms(value) : value;
  if (typeof parsed !== "number" || !Number.isFinite(parsed) || parsed < 0) {
    throw new StepUsageError(`${method2} takes milliseconds or a duration such as "30s", got ${JSON.stringify(value)}`);
  }
  return parsed;
}
function createStepApi(input, log) {
  const commands = [];
  let name = input.name ?? "task";
  let tags = [...input.tags ?? []];
  const config = input.config ?? {};
  const where = { step: input.step };
  const task = {
    id: taskIdValue(input.taskId),
    complete: (result) => {
      commands.push({ type: "complete", result: resultToJson(result, where) });
    },
    ignore: () => {
      commands.push({ type: "ignore" });
    },
    park: (wait) => {
      commands.push({ type: "park", ms: duration("task.park()", wait) });
    },
    name: (value) => {
      if (value === void 0) return name;
      if (typeof value !== "string" || value.length === 0) throw new StepUsageError(`task.name() takes a non-empty string, got ${JSON.stringify(value)}`);
      name = value;
      commands.push({ type: "name", name: value });
      return name;
    },
    tags: (value) => {
      if (value === void 0) return [...tags];
      if (!Array.isArray(value) || !value.every((t) => typeof t === "string" && t.length > 0)) {
        throw new StepUsageError(`task.tags() takes a list of non-empty strings, got ${JSON.stringify(value)}`);
      }
      tags = [...value];
      commands.push({ type: "tags", tags: [...tags] });
      return [...tags];
    },
    timeout: (wait) => {
      const after = duration("task.timeout()", wait);
      if (after === 0) throw new StepUsageError("task.timeout() needs a duration longer than 0");
      commands.push({ type: "timeout", ms: after });
    },
    completeOnExpire: (result) => {
      commands.push({ type: "completeOnExpire", result: resultToJson(result, where) });
    },
    subtask: (subtaskName, data, options = {}) => {
      if (typeof subtaskName !== "string" || subtaskName.length === 0) throw new StepUsageError("task.subtask() needs a name (a non-empty string) first");
      if (!isJsonObject(data)) throw new StepUsageError(`task.subtask("${subtaskName}", data) needs data to be an object`);
      const opts = isJsonObject(options) ? options : {};
      if (opts.into !== void 0 && (typeof opts.into !== "string" || !/^[^.]+(\.[^.]+)*$/.test(opts.into))) {
        throw new StepUsageError(`task.subtask("${subtaskName}") option into must be a dot path such as "companies.3.research"`);
      }
      commands.push({
        type: "subtask",
        request: { name: subtaskName, data: toJson(data, where), into: opts.into ?? null, waitFor: opts.waitFor === true }
      });
    },
    config: (key) => {
      if (typeof key !== "string" || !Object.hasOwn(config, key)) {
        const known = Object.keys(config);
        throw new StepUsageError(`task.config(${JSON.stringify(key)}): no such value under config: in whenflow.yaml${known.length ? ` (known: ${known.join(", ")})` : ""}`);
      }
      return structuredClone(config[key]);
    },
    visualize: (visual) => {
      if (!isJsonObject(visual) || typeof visual.type !== "string") throw new StepUsageError("task.visualize() takes { type, name, data, options } with a string type");
      const clean = toJson(visual, where);
      log({ level: "visual", message: `${String(clean.type)}${typeof clean.name === "string" ? ` ${clean.name}` : ""}`, visual: clean });
    }
  };
  const step2 = {
    name: input.step,
    attempt: input.attempt,
    signal: input.signal ?? new AbortController().signal,
    redo: () => {
      commands.push({ type: "redo" });
    },
    /** Fails the step for good: no retry, the task goes to `error` with this message. */
    fail: (message) => {
      throw new StepFinalError(typeof message === "string" ? message : JSON.stringify(message));
    }
  };
  const audit = {
    log: (message) => {
      log({ level: "audit", message: typeof message === "string" ? message : JSON.stringify(message) });
    }
  };
  return { task, step: step2, audit, commands };
}

// src/blobs/store.ts
import { createHash, randomBytes } from "node:crypto";
var BLOB_ID = /^sha256-[0-9a-f]{64}$/;
function blobIdOf(content) {
  return `sha256-${createHash("sha256").update(content).digest("hex")}`;
}

// src/blobs/api.ts
var BlobLimitError = class extends StepUsageError {
  constructor(message) {
    super(message);
    this.name = "BlobLimitError";
  }
};
var BlobNotFoundError = class extends StepUsageError {
  constructor(blobId, where) {
    super(`blob ${blobId} does not exist in ${where}`);
    this.blobId = blobId;
    this.name = "BlobNotFoundError";
  }
  blobId;
};
function isBlobRef(value) {
  return value !== null && typeof value === "object" && typeof value.blobId === "string" && BLOB_ID.test(value.blobId);
}
var TEXT_TYPE = /^text\/|[/+]json\b|[/+]xml\b|javascript/i;
function toBytes(content) {
  if (typeof content === "string") return { bytes: Buffer.from(content, "utf8"), contentType: "text/plain; charset=utf-8" };
  if (Buffer.isBuffer(content)) return { bytes: content, contentType: "application/octet-stream" };
  if (content instanceof Uint8Array) return { bytes: Buffer.from(content.buffer, content.byteOffset, content.byteLength), contentType: "application/octet-stream" };
  if (content instanceof ArrayBuffer) return { bytes: Buffer.from(content), contentType: "application/octet-stream" };
  if (content === void 0) throw new StepUsageError("blob.create({ content }) needs content: a string, a Buffer or any JSON value");
  let text;
  try {
    text = JSON.stringify(content);
  } catch (error) {
    throw new StepUsageError(`blob.create(): content is neither text, bytes nor JSON (${error.message})`);
  }
  if (text === void 0) throw new StepUsageError(`blob.create(): content is neither text, bytes nor JSON (a ${typeof content})`);
  return { bytes: Buffer.from(text, "utf8"), contentType: "application/json" };
}
var remoteCaches = /* @__PURE__ */ new WeakMap();
var REMOTE_CACHE_BYTES = 64 * 1024 * 1024;
function remoteCache(store) {
  let cache = remoteCaches.get(store);
  if (!cache) {
    cache = new LRUCache({ maxSize: REMOTE_CACHE_BYTES, sizeCalculation: (b) => Math.max(1, b.length) });
    remoteCaches.set(store, cache);
  }
  return cache;
}
function refsIn(value, found) {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const item of value) refsIn(item, found);
    return;
  }
  if (isBlobRef(value)) found.add(value.blobId);
  for (const item of Object.values(value)) refsIn(item, found);
}
var NO_STORE = "no blob store: blobs need a workspace (`.whenflow/blobs` by default, `blobs:` in whenflow.yaml)";
async function openStepBlobs(settings, data) {
  const store = settings?.store;
  const here = /* @__PURE__ */ new Map();
  const writes = [];
  const cache = store && !store.getSync ? remoteCache(store) : null;
  if (store && cache) {
    const ids = /* @__PURE__ */ new Set();
    refsIn(data, ids);
    await Promise.all(
      [...ids].filter((id) => !cache.has(id)).map(async (id) => {
        const content = await store.get(id);
        if (content) cache.set(id, content);
      })
    );
  }
  const idOf = (ref, method2) => {
    const id = typeof ref === "string" ? ref : isBlobRef(ref) ? ref.blobId : void 0;
    if (!id || !BLOB_ID.test(id)) throw new StepUsageError(`blob.${method2}() takes what blob.create() returned (or its blobId), got ${JSON.stringify(ref) ?? String(ref)}`);
    return id;
  };
  const contentOf = (id) => {
    if (!store) throw new StepUsageError(NO_STORE);
    const content = here.get(id) ?? cache?.get(id) ?? store.getSync?.(id) ?? null;
    if (content) return content;
    if (cache) {
      throw new BlobNotFoundError(id, `${store.description} (blobs the task data refers to are fetched before the step; read others with await blob.stream(id))`);
    }
    throw new BlobNotFoundError(id, store.description);
  };
  const api = {
    create(input) {
      if (!settings || !store) throw new StepUsageError(NO_STORE);
      if (input === null || typeof input !== "object") throw new StepUsageError("blob.create() takes { content, contentType?, name? }");
      const { bytes, contentType } = toBytes(input.content);
      if (bytes.length > settings.maxBytes) {
        throw new BlobLimitError(`blob.create(): the content is ${bytes.length} bytes, over the limit of ${settings.maxBytes} bytes (blobs.maxBytes in whenflow.yaml)`);
      }
      if (input.contentType !== void 0 && (typeof input.contentType !== "string" || input.contentType === "")) throw new StepUsageError("blob.create(): contentType must be a non-empty string");
      if (input.name !== void 0 && typeof input.name !== "string") throw new StepUsageError("blob.create(): name must be a string");
      const id = blobIdOf(bytes);
      if (!here.has(id)) {
        here.set(id, bytes);
        const write = store.put(id, bytes);
        write.catch(() => void 0);
        writes.push(write);
        cache?.set(id, bytes);
      }
      return { blobId: id, size: bytes.length, contentType: input.contentType ?? contentType, ...input.name !== void 0 ? { name: input.name } : {} };
    },
    getContent(ref) {
      const content = contentOf(idOf(ref, "getContent"));
      return isBlobRef(ref) && !TEXT_TYPE.test(ref.contentType) ? content : content.toString("utf8");
    },
    async stream(ref) {
      const id = idOf(ref, "stream");
      if (!store) throw new StepUsageError(NO_STORE);
      const pending = here.get(id);
      if (pending) return Readable.from([pending]);
      const stream = await store.stream(id);
      if (!stream) throw new BlobNotFoundError(id, store.description);
      return stream;
    }
  };
  return {
    api,
    settled: async () => {
      await Promise.all(writes);
    }
  };
}

// src/runtime/diff.ts
import { createPatch } from "rfc6902";
var DataPatchError = class extends Error {
  constructor(message, path) {
    super(message);
    this.path = path;
    this.name = "DataPatchError";
  }
  path;
};
var SKIPPED_TOKENS = /* @__PURE__ */ new Set(["__proto__", "constructor", "prototype"]);
function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}
function clone(value) {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(clone);
  const out = {};
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item === void 0) continue;
    if (key === "__proto__") {
      Object.defineProperty(out, key, { value: clone(item), enumerable: true, writable: true, configurable: true });
    } else {
      out[key] = clone(item);
    }
  }
  return out;
}
function hasProtoKey(value) {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  return Object.keys(value).some((k) => k === "__proto__" || hasProtoKey(value[k]));
}
function coarseDiff(input, output, ptr) {
  const last = ptr.tokens.length > 1 ? ptr.tokens[ptr.tokens.length - 1] : void 0;
  const opaque = last !== void 0 && SKIPPED_TOKENS.has(last);
  if (opaque || Array.isArray(input) || Array.isArray(output)) {
    return jsonEqual(input, output) ? [] : [{ op: "replace", path: ptr.toString(), value: output }];
  }
  return void 0;
}
function diffData(before, after) {
  const ops = createPatch(before, after, coarseDiff);
  return ops.map((op) => {
    if (op.op === "remove") return { op: "remove", path: op.path };
    if (op.op !== "add" && op.op !== "replace") {
      throw new DataPatchError(`unexpected ${op.op} operation in a data diff`, op.path);
    }
    const value = op.value;
    if (pathTokens(op.path).includes("__proto__") || hasProtoKey(value)) {
      throw new DataPatchError(
        `cannot patch the key __proto__ (at ${op.path}); task data may not use it`,
        op.path
      );
    }
    return { op: op.op, path: op.path, value: clone(value) };
  });
}
function pathTokens(pointer) {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new DataPatchError(`invalid JSON Pointer "${pointer}"`, pointer);
  return pointer.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

// src/connectors/registry.ts
import { transform } from "esbuild";
import { tsImport } from "tsx/esm/api";

// src/runtime/globals.ts
import { AsyncLocalStorage } from "node:async_hooks";
var SCOPED_GLOBALS = ["data", "task", "step", "connectors", "audit", "lib", "blob"];
var storage = new AsyncLocalStorage();
var installed = false;
var OutsideStepError = class extends Error {
  constructor(global) {
    super(
      `\`${global}\` is only available while a step's content runs` + (global === "data" ? '; a condition refers to another field with { $data: "path.to.field" }' : "")
    );
    this.global = global;
    this.name = "OutsideStepError";
  }
  global;
};
function installStepGlobals() {
  if (installed) return;
  installed = true;
  const realConsole = globalThis.console;
  for (const name of SCOPED_GLOBALS) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        const scope = storage.getStore();
        if (!scope) throw new OutsideStepError(name);
        return scope[name];
      },
      set(value) {
        const scope = storage.getStore();
        if (!scope) throw new OutsideStepError(name);
        if (name !== "data") throw new TypeError(`step content cannot reassign \`${name}\``);
        scope.data = value;
      }
    });
  }
  Object.defineProperty(globalThis, "console", {
    configurable: true,
    get: () => storage.getStore()?.console ?? realConsole,
    set: () => {
      throw new TypeError("step content cannot reassign `console`");
    }
  });
}
function runInStepScope(scope, fn) {
  installStepGlobals();
  return storage.run(scope, fn);
}
function runOutsideStep(fn) {
  installStepGlobals();
  return storage.exit(fn);
}

// src/connectors/builtins.ts
import { z } from "zod";

// src/connectors/types.ts
var ConnectorError = class extends Error {
  connector;
  method;
  /** The offending argument (dot path; `into` for a bad deferral target), when one is to blame. */
  field;
  constructor(connector, method2, message, field) {
    super(`connectors.${connector}.${method2}: ${message}`);
    this.name = "ConnectorError";
    this.connector = connector;
    this.method = method2;
    this.field = field;
  }
};

// src/connectors/builtins.ts
function parseArgs(schema, connector, method2, args) {
  const parsed = schema.safeParse(args ?? {});
  if (parsed.success) return parsed.data;
  const described = parsed.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => [...issue.path.map(String), k].join("."));
      return { field: keys.join(", "), text: `unknown argument${keys.length === 1 ? "" : "s"} ${keys.map((k) => `\`${k}\``).join(", ")}` };
    }
    const field = issue.path.map(String).join(".");
    return { field, text: field ? `bad argument \`${field}\`: ${issue.message}` : issue.message };
  });
  throw new ConnectorError(connector, method2, described.map((d) => d.text).join("; "), described[0]?.field || void 0);
}
var HttpError = class extends Error {
  status;
  url;
  method;
  /** The start of the response body (at most 500 characters), for the message and the error record. */
  bodyExcerpt;
  constructor(method2, url, status, statusText, body) {
    const bodyExcerpt = body.length > 500 ? `${body.slice(0, 500)}\u2026` : body;
    super(`${method2} ${url} \u2192 ${status}${statusText ? ` ${statusText}` : ""}${bodyExcerpt ? `: ${bodyExcerpt.slice(0, 200)}` : ""}`);
    this.name = "HttpError";
    this.status = status;
    this.url = url;
    this.method = method2;
    this.bodyExcerpt = bodyExcerpt;
  }
};
var HttpTimeoutError = class extends Error {
  url;
  timeoutMs;
  constructor(method2, url, timeoutMs) {
    super(`${method2} ${url} timed out after ${timeoutMs} ms`);
    this.name = "HttpTimeoutError";
    this.url = url;
    this.timeoutMs = timeoutMs;
  }
};
var DEFAULT_FETCH_TIMEOUT_MS = 3e4;
var MAX_TIMER_MS = 2147483647;
var METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
var common = {
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  headers: z.record(z.string(), z.string()).optional(),
  timeoutMs: z.number().int().positive().max(MAX_TIMER_MS).default(DEFAULT_FETCH_TIMEOUT_MS),
  responseType: z.enum(["json", "text", "auto"]).default("auto"),
  throwOnError: z.boolean().default(false)
};
var payload = {
  /** Raw request body, sent as is. */
  body: z.string().optional(),
  /** Any JSON value: sent as JSON with `content-type: application/json` (unless a content-type header is given). */
  json: z.json().optional()
};
var method = z.string().transform((m) => m.toUpperCase()).pipe(z.enum(METHODS)).default("GET");
var requestSchema = z.object({ ...common, ...payload, method }).strict();
var getSchema = z.object(common).strict();
var postSchema = z.object({ ...common, ...payload }).strict();
var fetchFormSchema = z.object({
  url: common.url,
  options: z.object({
    method,
    headers: z.record(z.string(), z.string()).optional(),
    body: z.string().optional()
  }).strict().default({ method: "GET" }),
  timeoutMs: common.timeoutMs,
  responseType: common.responseType,
  throwOnError: common.throwOnError
}).strict();
var isJsonType = (contentType) => !!contentType && /^application\/(?:[\w.-]+\+)?json\b|\+json\b/i.test(contentType.split(";")[0].trim());
async function request(args, context, label) {
  const hasJson = args.json !== void 0;
  if (hasJson && args.body !== void 0) throw new ConnectorError("fetch", label, "give either `body` or `json`, not both", "json");
  if ((hasJson || args.body !== void 0) && (args.method === "GET" || args.method === "HEAD")) {
    throw new ConnectorError("fetch", label, `a ${args.method} request cannot have a body`, hasJson ? "json" : "body");
  }
  const headers = new Headers(args.headers ?? {});
  let body = args.body;
  if (hasJson) {
    body = JSON.stringify(args.json);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  context.signal.throwIfAborted();
  const timeout = AbortSignal.timeout(args.timeoutMs);
  const signal = AbortSignal.any([context.signal, timeout]);
  let response;
  let text;
  try {
    response = await fetch(args.url, { method: args.method, headers, body, signal });
    text = await response.text();
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason ?? error;
    if (timeout.aborted) throw new HttpTimeoutError(args.method, args.url, args.timeoutMs);
    const cause = error.cause;
    const why = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
    throw new Error(`${args.method} ${args.url} failed: ${why}`, { cause: error });
  }
  if (args.throwOnError && !response.ok) throw new HttpError(args.method, args.url, response.status, response.statusText, text);
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    headers: Object.fromEntries(response.headers),
    body: decodeBody(text, args.responseType, response.headers.get("content-type"), `${args.method} ${args.url}`)
  };
}
function decodeBody(text, responseType, contentType, what) {
  if (responseType === "text") return text;
  const wantsJson = responseType === "json" || isJsonType(contentType);
  if (!wantsJson) return text;
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    if (responseType === "auto") return text;
    throw new Error(`${what}: response is not JSON (${error.message}): ${text.slice(0, 200)}`);
  }
}
var fetchConnector = {
  name: "fetch",
  source: "builtin",
  callable: "fetch",
  methods: {
    /** `connectors.fetch({ url, options })`: the connector called as a function runs this. */
    fetch: async (args, context) => {
      const { url, options, ...rest } = parseArgs(fetchFormSchema, "fetch", "fetch", args);
      return request({ ...rest, url, method: options.method, ...options.headers ? { headers: options.headers } : {}, ...options.body !== void 0 ? { body: options.body } : {} }, context, "fetch");
    },
    request: async (args, context) => request(parseArgs(requestSchema, "fetch", "request", args), context, "request"),
    get: async (args, context) => request({ ...parseArgs(getSchema, "fetch", "get", args), method: "GET" }, context, "get"),
    post: async (args, context) => request({ ...parseArgs(postSchema, "fetch", "post", args), method: "POST" }, context, "post")
  }
};
var duration2 = z.number().finite().nonnegative().max(MAX_TIMER_MS);
var sleepSchema = z.object({ ms: duration2.optional(), milliseconds: duration2.optional() }).strict().refine((a) => a.ms === void 0 !== (a.milliseconds === void 0), { message: "give the time to wait once: { ms } or { milliseconds }", path: ["ms"] });
var nowSchema = z.object({}).strict();
var sleep = async (args, context) => {
  const parsed = parseArgs(sleepSchema, "utils", "sleep", args);
  const ms3 = parsed.ms ?? parsed.milliseconds ?? 0;
  const { signal } = context;
  return new Promise((resolve5, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve5(null);
    }, ms3);
    signal.addEventListener("abort", onAbort, { once: true });
  });
};
var utilsConnector = {
  name: "utils",
  source: "builtin",
  methods: {
    /** Waits `ms` (or `milliseconds`) milliseconds, resolves to null; rejects with the signal's reason when aborted. */
    sleep,
    /** The current time as an ISO string. */
    now: async (args) => {
      parseArgs(nowSchema, "utils", "now", args);
      return (/* @__PURE__ */ new Date()).toISOString();
    }
  }
};
var BUILTIN_CONNECTORS = [fetchConnector, utilsConnector];
var BUILTIN_NAMES = BUILTIN_CONNECTORS.map((c) => c.name);

// src/connectors/proxy.ts
var ConnectorCall = class extends Promise {
  observed = false;
  // Promises derived from a call (`.then`, `.catch`, `await`) are plain promises.
  static get [Symbol.species]() {
    return Promise;
  }
  then(onFulfilled, onRejected) {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
};
var CallTracker = class {
  calls = [];
  track(connector, method2, result) {
    const call = new ConnectorCall((resolve5, reject) => {
      result.then(resolve5, reject);
    });
    Promise.prototype.then.call(call, void 0, () => void 0);
    this.calls.push({ call, connector, method: method2 });
    return call;
  }
  /**
   * Waits until every call has settled (calls started while waiting included). A call that failed and
   * that the step never awaited fails the step, naming the connector and method.
   */
  async settle() {
    for (let i = 0; i < this.calls.length; i++) {
      const { call, connector, method: method2 } = this.calls[i];
      const outcome = await Promise.prototype.then.call(
        call,
        () => null,
        (error) => ({ error })
      );
      if (outcome && !call.observed) {
        const error = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
        error.message = `connectors.${connector}.${method2}() was not awaited and failed: ${error.message}`;
        throw error;
      }
    }
  }
};

// src/runtime/read-tracking.ts
var MAX_READS = 500;
var escapeToken = (token) => token.replace(/~/g, "~0").replace(/\//g, "~1");
function trackReads(data) {
  const reads = /* @__PURE__ */ new Set();
  let recording = true;
  const note = (pointer) => {
    if (recording) reads.add(pointer);
  };
  const proxies = /* @__PURE__ */ new WeakMap();
  const isProxy = /* @__PURE__ */ new WeakSet();
  const wrap = (value, pointer) => {
    if (typeof value !== "object" || value === null || isProxy.has(value)) return value;
    if (Array.isArray(value)) {
      note(pointer);
      return value;
    }
    const known = proxies.get(value);
    if (known) return known;
    const child = (key) => `${pointer}/${escapeToken(key)}`;
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        const found = Reflect.get(target, key, receiver);
        if (typeof key === "symbol") return found;
        if (!Object.hasOwn(target, key)) {
          if (found === void 0) note(child(key));
          return found;
        }
        if (typeof found === "object" && found !== null) return wrap(found, child(key));
        note(child(key));
        return found;
      },
      // An assignment or deletion is recorded too, even when it leaves the value as it was: run after an
      // earlier step that changed the value, it would change it back. (The target as receiver keeps
      // assignment from looking the key up through the proxy.)
      set(target, key, value2) {
        if (typeof key === "string") note(child(key));
        return Reflect.set(target, key, value2);
      },
      deleteProperty(target, key) {
        if (typeof key === "string") note(child(key));
        return Reflect.deleteProperty(target, key);
      },
      defineProperty(target, key, descriptor) {
        if (typeof key === "string") note(child(key));
        return Reflect.defineProperty(target, key, descriptor);
      },
      has(target, key) {
        if (typeof key === "string") note(child(key));
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        note(pointer);
        return Reflect.ownKeys(target);
      },
      getOwnPropertyDescriptor(target, key) {
        if (typeof key === "string") note(child(key));
        return Reflect.getOwnPropertyDescriptor(target, key);
      }
    });
    proxies.set(value, proxy);
    isProxy.add(proxy);
    return proxy;
  };
  return {
    data: wrap(data, ""),
    reads: () => minimalPointers([...reads]),
    stop: () => {
      recording = false;
    }
  };
}
function minimalPointers(pointers) {
  const byDepth = [...new Set(pointers)].sort((a, b) => a.split("/").length - b.split("/").length);
  const kept = /* @__PURE__ */ new Set();
  for (const pointer of byDepth) {
    const tokens = pointer.split("/");
    let covered = false;
    for (let i = 1; i < tokens.length && !covered; i++) covered = kept.has(tokens.slice(0, i).join("/"));
    if (!covered) kept.add(pointer);
  }
  const list2 = [...kept].sort();
  if (list2.length <= MAX_READS) return list2;
  return minimalPointers(list2.map((pointer) => pointer.split("/").slice(0, 2).join("/")));
}

// src/runtime/stash-slot.ts
function offerStash(data) {
  if (!isJsonObject(data) || Object.hasOwn(data, "$stash")) return data;
  const materialize = (target, value) => {
    Object.defineProperty(target, "$stash", { value, writable: true, enumerable: true, configurable: true });
    return value;
  };
  Object.defineProperty(data, "$stash", {
    configurable: true,
    enumerable: false,
    get() {
      return materialize(this, {});
    },
    set(value) {
      materialize(this, value);
    }
  });
  return data;
}
function dropUnusedStash(after, before) {
  const stash = after.$stash;
  if (Object.hasOwn(before, "$stash") || !isJsonObject(stash) || Object.keys(stash).length > 0) return after;
  const { $stash: _unused, ...rest } = after;
  return rest;
}

// src/runtime/stash.ts
import { createCipheriv, createDecipheriv, randomBytes as randomBytes2 } from "node:crypto";

// src/model/sealed.ts
var SEALED_PREFIX = "whenflow:sealed:v1:";
var IV_BYTES = 12;
var TAG_BYTES = 16;
var MIN_PAYLOAD_CHARS = Math.ceil((IV_BYTES + TAG_BYTES + 1) * 4 / 3);
var SEALED_PATTERN = /^whenflow:sealed:v1:(string|number|boolean|null|array|object):([A-Za-z0-9_-]+)$/;
function isSealed(value) {
  if (typeof value !== "string" || !value.startsWith(SEALED_PREFIX)) return false;
  const m = SEALED_PATTERN.exec(value);
  return m !== null && (m[2] ?? "").length >= MIN_PAYLOAD_CHARS;
}
function sealedType(value) {
  if (!isSealed(value)) return null;
  return SEALED_PATTERN.exec(value)?.[1] ?? null;
}

// src/runtime/stash.ts
var STASH = "$stash";
var KEY_BYTES = 32;
var SECRET_MASK = "\u2039secret\u203A";
var StashError = class extends Error {
  constructor(message, reason) {
    super(message);
    this.reason = reason;
    this.name = "StashError";
  }
  reason;
};
var StashKeyMissingError = class extends StashError {
  constructor(what) {
    super(
      `${what}, but no stash key is configured: secrets need \`secrets.key\` in whenflow.yaml, e.g.
  secrets:
    key: \${WHENFLOW_STASH_KEY}
with WHENFLOW_STASH_KEY set to base64 of 32 random bytes (\`openssl rand -base64 32\`)`,
      "key-missing"
    );
    this.name = "StashKeyMissingError";
  }
};
function jsonType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  switch (typeof value) {
    case "string":
      return "string";
    case "number":
      if (!Number.isFinite(value)) throw new StashError(`cannot seal ${String(value)}: not a JSON number`, "not-json");
      return "number";
    case "boolean":
      return "boolean";
    case "object":
      return "object";
    default:
      throw new StashError(`cannot seal a value of type ${typeof value}: not JSON`, "not-json");
  }
}
function checkKey(key) {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new StashError(`the stash key must be ${KEY_BYTES} bytes (got ${Buffer.isBuffer(key) ? key.length : typeof key})`, "bad-key");
  }
}
function header(type) {
  return `${SEALED_PREFIX}${type}:`;
}
function sealValue(value, key) {
  checkKey(key);
  const type = jsonType(value);
  const iv = randomBytes2(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(header(type), "utf8"));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
  const payload2 = Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64url");
  return header(type) + payload2;
}
function unsealValue(sealed, key) {
  checkKey(key);
  const m = typeof sealed === "string" ? SEALED_PATTERN.exec(sealed) : null;
  const type = m?.[1];
  const payloadText = m?.[2];
  if (!type || payloadText === void 0) {
    throw new StashError(`malformed sealed value: expected ${SEALED_PREFIX}<type>:<base64url payload>`, "malformed");
  }
  const payload2 = Buffer.from(payloadText, "base64url");
  if (payload2.length < IV_BYTES + TAG_BYTES + 1 || payload2.toString("base64url") !== payloadText) {
    throw new StashError("malformed sealed value: the payload is not base64url of iv, tag and ciphertext", "malformed");
  }
  let plaintext;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, payload2.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(header(type), "utf8"));
    decipher.setAuthTag(payload2.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    plaintext = Buffer.concat([decipher.update(payload2.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new StashError("cannot decrypt sealed value: wrong stash key, or the sealed value was altered", "undecryptable");
  }
  let value;
  try {
    value = JSON.parse(plaintext);
  } catch {
    throw new StashError("malformed sealed value: the decrypted text is not JSON", "malformed");
  }
  if (jsonType(value) !== type) {
    throw new StashError(`malformed sealed value: labelled ${type} but holds ${jsonType(value)}`, "malformed");
  }
  return value;
}
function jsonEqual2(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual2(item, b[i]));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && jsonEqual2(a[k], b[k]));
}
function stashOf(data) {
  if (!Object.hasOwn(data, STASH) || data[STASH] === void 0) return void 0;
  const stash = data[STASH];
  if (!isJsonObject(stash)) {
    const found = stash === null ? "null" : Array.isArray(stash) ? "an array" : `a ${typeof stash}`;
    throw new StashError(`data.$stash must be an object (one secret per key), not ${found}`, "not-an-object");
  }
  return stash;
}
function keyPath(name) {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `data.$stash.${name}` : `data.$stash[${JSON.stringify(name)}]`;
}
function withPath(error, name) {
  if (error instanceof StashError && !(error instanceof StashKeyMissingError)) {
    throw new StashError(`${keyPath(name)}: ${error.message}`, error.reason);
  }
  throw error;
}
function sealStash(data, key, previous) {
  const stash = stashOf(data);
  if (!stash) return data;
  const entries = Object.entries(stash);
  const toSeal = entries.filter(([, v]) => !isSealed(v));
  if (toSeal.length === 0) return data;
  if (!key) throw new StashKeyMissingError(`data.$stash holds ${toSeal.map(([k]) => keyPath(k)).join(", ")}`);
  let before;
  try {
    before = previous ? stashOf(previous) : void 0;
  } catch {
    before = void 0;
  }
  const sealed = entries.map(([name, value]) => {
    if (isSealed(value)) return [name, value];
    const old = before && Object.hasOwn(before, name) ? before[name] : void 0;
    if (isSealed(old)) {
      try {
        if (jsonEqual2(unsealValue(old, key), value)) return [name, old];
      } catch {
      }
    }
    try {
      return [name, sealValue(value, key)];
    } catch (error) {
      return withPath(error, name);
    }
  });
  return { ...data, [STASH]: Object.fromEntries(sealed) };
}
function unsealStash(data, key) {
  const stash = stashOf(data);
  if (!stash) return data;
  const entries = Object.entries(stash);
  const sealedNames = entries.filter(([, v]) => isSealed(v)).map(([k]) => k);
  if (sealedNames.length === 0) return data;
  if (!key) throw new StashKeyMissingError(`data.$stash holds sealed ${sealedNames.map(keyPath).join(", ")}`);
  const plain = entries.map(([name, value]) => {
    if (!isSealed(value)) return [name, value];
    try {
      return [name, unsealValue(value, key)];
    } catch (error) {
      return withPath(error, name);
    }
  });
  return { ...data, [STASH]: Object.fromEntries(plain) };
}
var MIN_SECRET_CHARS = 4;
function stashSecrets(plainData) {
  const found = /* @__PURE__ */ new Set();
  const add = (text) => {
    if (text.length < MIN_SECRET_CHARS) return;
    found.add(text);
    const escaped = JSON.stringify(text).slice(1, -1);
    if (escaped !== text) found.add(escaped);
  };
  const walk = (value) => {
    if (typeof value === "string") {
      if (!isSealed(value)) add(value);
    } else if (typeof value === "number") {
      if (Number.isFinite(value)) add(String(value));
    } else if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (typeof value === "object" && value !== null) {
      Object.values(value).forEach(walk);
    }
  };
  if (Object.hasOwn(plainData, STASH)) walk(plainData[STASH]);
  return [...found].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
}
function maskSecrets(text, secrets) {
  const ranges = [];
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) ranges.push([at, at + secret.length]);
  }
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = "";
  let cursor = 0;
  let current;
  for (const range of ranges) {
    if (current && range[0] < current[1]) {
      current[1] = Math.max(current[1], range[1]);
      continue;
    }
    if (current) {
      out += text.slice(cursor, current[0]) + SECRET_MASK;
      cursor = current[1];
    }
    current = [range[0], range[1]];
  }
  if (current) {
    out += text.slice(cursor, current[0]) + SECRET_MASK;
    cursor = current[1];
  }
  return out + text.slice(cursor);
}
function sealSecretStrings(value, secrets, key) {
  if (secrets.length === 0 || key === null) return value;
  if (typeof value === "string") return secrets.some((secret) => value.includes(secret)) ? sealValue(value, key) : value;
  if (Array.isArray(value)) return value.map((item) => sealSecretStrings(item, secrets, key));
  if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sealSecretStrings(v, secrets, key)]));
  return value;
}

// src/runtime/execute.ts
var DataLimitError = class extends Error {
  constructor(message) {
    super(message);
    this.name = "DataLimitError";
  }
};
var LOG_LIMITS = { entries: 200, chars: 4e3 };
var LogBook = class {
  entries = [];
  dropped = 0;
  add = (entry) => {
    if (this.entries.length >= LOG_LIMITS.entries) {
      this.dropped += 1;
      return;
    }
    const message = entry.message.length > LOG_LIMITS.chars ? `${entry.message.slice(0, LOG_LIMITS.chars)}\u2026` : entry.message;
    this.entries.push({ ...entry, message });
  };
  console() {
    const record = (level) => (...args) => this.add({ level, message: format(...args) });
    return Object.assign(Object.create(globalThis.console), {
      log: record("log"),
      info: record("info"),
      warn: record("warn"),
      error: record("error"),
      debug: record("debug")
    });
  }
};
async function executeStep(execution) {
  const key = execution.stash?.key ?? null;
  const plain = unsealStash(execution.data, key);
  const logs = new LogBook();
  const api = createStepApi(execution, logs.add);
  const calls = new CallTracker();
  const blobs = await openStepBlobs(execution.blobs, plain);
  const reading = execution.trackReads ? trackReads(offerStash(structuredClone(plain))) : null;
  const scope = {
    data: reading?.data ?? offerStash(structuredClone(plain)),
    task: api.task,
    step: api.step,
    audit: api.audit,
    connectors: execution.connectors?.((call) => api.commands.push({ type: "call", call }), calls) ?? {},
    lib: execution.lib ?? {},
    blob: blobs.api,
    console: logs.console()
  };
  const started = performance.now();
  await runInStepScope(scope, async () => {
    try {
      await execution.content();
    } catch (error) {
      await calls.settle().catch(() => void 0);
      throw error;
    }
    await calls.settle();
  });
  reading?.stop();
  await blobs.settled();
  const durationMs2 = Math.round(performance.now() - started);
  const after = dropUnusedStash(toJson(scope.data, { step: execution.step }), plain);
  const sealed = sealStash(after, key, execution.data);
  const patch = diffData(execution.data, sealed);
  const over = patch.length > 0 ? overDataLimit(sealed, maxDataBytesOf(execution), execution.data) : null;
  if (over) throw new DataLimitError(`step "${execution.step}" would make the task data ${describeOverLimit(over)}; nothing the step wrote was kept`);
  const secrets = [.../* @__PURE__ */ new Set([...stashSecrets(plain), ...stashSecrets(after)])];
  const commands = api.commands.map((command) => {
    if (command.type === "subtask") return { ...command, request: { ...command.request, data: sealStash(command.request.data, key) } };
    if (command.type === "call") return { ...command, call: { ...command.call, args: sealSecretStrings(command.call.args, secrets, key) } };
    return command;
  });
  return {
    patch,
    commands,
    logs: secrets.length === 0 ? logs.entries : logs.entries.map((entry) => ({ ...entry, message: maskSecrets(entry.message, secrets) })),
    logsDropped: logs.dropped,
    durationMs: durationMs2,
    attempt: execution.attempt,
    ...reading ? { reads: reading.reads() } : {}
  };
}

// src/steps/library.ts
import { join as join3, resolve as resolve3 } from "node:path";

// src/steps/file-stamps.ts
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
var RECENT_CHANGE_MS = 2e3;
async function fileStamp(path, now = Date.now()) {
  try {
    const s = await stat(path, { bigint: true });
    const changedMs = Number((s.ctimeNs > s.mtimeNs ? s.ctimeNs : s.mtimeNs) / 1000000n);
    if (now - changedMs < RECENT_CHANGE_MS) return null;
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    const code = error.code;
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw error;
  }
}
var WORKSPACE_FILES = ["whenflow.yaml", "whenflow.yml", join(".whenflow", "stash.key")];

// src/steps/load.ts
import { createHash as createHash2 } from "node:crypto";
import { readdir as readdir2, readFile } from "node:fs/promises";
import { basename, extname, join as join2, relative, resolve as resolve2 } from "node:path";
import { pathToFileURL } from "node:url";
import { transform as transform2 } from "esbuild";
import { tsImport as tsImport2 } from "tsx/esm/api";

// src/conditions/leaf-tests.ts
import sift from "sift";

// src/conditions/paths.ts
var hasOwn = Object.prototype.hasOwnProperty;
function isPlainRecord(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function valueAt(subject, path) {
  let current = subject;
  for (let i = 0; i < path.length; i++) {
    if (!isPlainRecord(current)) return void 0;
    const key = path[i];
    if (!hasOwn.call(current, key)) return void 0;
    current = current[key];
  }
  return current;
}
function parentIsObject(subject, path) {
  let current = subject;
  for (let i = 0; i < path.length; i++) {
    if (!isPlainRecord(current)) return false;
    if (i === path.length - 1) return true;
    const key = path[i];
    current = hasOwn.call(current, key) ? current[key] : void 0;
  }
  return true;
}
var INDEX = /^(0|[1-9][0-9]*)$/;
function parseReference(path) {
  if (path.length === 0) return null;
  const segments = path.split(".");
  return segments.every((s) => s.length > 0) ? segments : null;
}
function resolveReference(root, segments) {
  let current = root;
  for (let i = 0; i < segments.length; i++) {
    const key = segments[i];
    if (Array.isArray(current)) {
      if (key === "length") current = current.length;
      else if (INDEX.test(key)) current = current[Number(key)];
      else return void 0;
    } else if (typeof current === "string") {
      if (key !== "length") return void 0;
      current = current.length;
    } else if (isPlainRecord(current)) {
      if (!hasOwn.call(current, key)) return void 0;
      current = current[key];
    } else {
      return void 0;
    }
    if (current === void 0) return void 0;
  }
  return current;
}
function formatPath(path) {
  return path.join(".");
}

// src/conditions/values.ts
var REGEXP_TAG = "$re";
var DATA_TAG = "$data";
function isRecord(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function encodeRegExp(re) {
  return { [REGEXP_TAG]: { source: re.source, flags: re.flags } };
}
function asEncodedRegExp(value) {
  if (!isRecord(value)) return null;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== REGEXP_TAG) return null;
  const inner = value[REGEXP_TAG];
  if (!isRecord(inner) || typeof inner.source !== "string" || typeof inner.flags !== "string") return null;
  return { source: inner.source, flags: inner.flags };
}
function asReference(value) {
  if (!isRecord(value)) return null;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== DATA_TAG) return null;
  const path = value[DATA_TAG];
  return typeof path === "string" ? path : null;
}
function regExpTester(encoded) {
  const re = new RegExp(encoded.source, encoded.flags);
  return (value) => {
    if (typeof value !== "string") return false;
    re.lastIndex = 0;
    const result = re.test(value);
    re.lastIndex = 0;
    return result;
  };
}
function formatRegExp(encoded) {
  return `/${encoded.source}/${encoded.flags}`;
}
function jsonEquals(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEquals(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a;
  const rb = b;
  const keys = Object.keys(ra);
  if (keys.length !== Object.keys(rb).length) return false;
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(rb, key) || !jsonEquals(ra[key], rb[key])) return false;
  }
  return true;
}
function compileTemplate(encoded) {
  const refs = [];
  const build = templateBuilder(encoded, refs);
  const isStatic = refs.length === 0;
  const fixed = isStatic ? build([]) : void 0;
  return {
    refs,
    instantiate: isStatic ? () => fixed : build,
    resolveRefs(root) {
      if (isStatic) return [];
      const values = new Array(refs.length);
      for (let i = 0; i < refs.length; i++) {
        const value = resolveReference(root, refs[i]);
        if (value === void 0) return null;
        values[i] = value;
      }
      return values;
    }
  };
}
function templateBuilder(encoded, refs) {
  const reference2 = asReference(encoded);
  if (reference2 !== null) {
    const index = refs.length;
    refs.push(parseReference(reference2) ?? [reference2]);
    return (values) => values[index];
  }
  const re = asEncodedRegExp(encoded);
  if (re !== null) {
    const regExp = new RegExp(re.source, re.flags);
    return () => regExp;
  }
  if (Array.isArray(encoded)) {
    const items = encoded.map((item) => templateBuilder(item, refs));
    return (values) => items.map((item) => item(values));
  }
  if (isRecord(encoded)) {
    const entries = Object.entries(encoded).map(([key, item]) => [key, templateBuilder(item, refs)]);
    return (values) => {
      const out = {};
      for (const [key, item] of entries) out[key] = item(values);
      return out;
    };
  }
  return () => encoded;
}
function formatValue(encoded) {
  const reference2 = asReference(encoded);
  if (reference2 !== null) return `{ $data: ${JSON.stringify(reference2)} }`;
  const re = asEncodedRegExp(encoded);
  if (re !== null) return formatRegExp(re);
  if (Array.isArray(encoded)) return `[${encoded.map(formatValue).join(", ")}]`;
  if (isRecord(encoded)) {
    const parts = Object.entries(encoded).map(([k, v]) => `${k}: ${formatValue(v)}`);
    return parts.length ? `{ ${parts.join(", ")} }` : "{}";
  }
  return JSON.stringify(encoded);
}

// src/conditions/leaf-tests.ts
var TYPE_CHECKS = {
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number" && Number.isFinite(v),
  boolean: (v) => typeof v === "boolean",
  array: (v) => Array.isArray(v),
  object: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  null: (v) => v === null
};
var TYPE_LABELS = {
  string: "a String",
  number: "a Number",
  boolean: "a Boolean",
  array: "an Array",
  object: "an Object",
  null: "null"
};
function isTypeName(name) {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(TYPE_CHECKS, name);
}
function valueTester(arg, compare) {
  const template = compileTemplate(arg);
  if (template.refs.length === 0) {
    const expected = template.instantiate([]);
    return (value) => compare(value, expected);
  }
  return (value, root) => {
    const values = template.resolveRefs(root);
    return values !== null && compare(value, template.instantiate(values));
  };
}
function equalsValue(actual, expected) {
  return actual === expected || jsonEquals(actual, expected);
}
function containsValue(actual, expected) {
  if (!Array.isArray(actual)) return false;
  for (let i = 0; i < actual.length; i++) if (equalsValue(actual[i], expected)) return true;
  return false;
}
var ORDERED = /* @__PURE__ */ new Set(["$gt", "$gte", "$lt", "$lte"]);
var createSift = sift;
var siftTester = (query) => createSift(query, {
  operations: {
    $where: () => {
      throw new Error("whenflow: $where is not allowed in a compiled condition");
    }
  }
});
function mongoTester(arg) {
  const template = compileTemplate(arg);
  const operator = Object.keys(arg)[0] ?? "";
  const wrap = (tester) => (value) => tester(value === void 0 ? {} : { v: value });
  if (template.refs.length === 0) return wrap(siftTester({ v: template.instantiate([]) }));
  let lastValues = null;
  let lastTester = () => false;
  return (value, root) => {
    const values = template.resolveRefs(root);
    if (values === null) return false;
    if (lastValues === null || !sameValues(lastValues, values)) {
      const query = template.instantiate(values);
      const operand = query[operator];
      lastTester = ORDERED.has(operator) && typeof operand !== "number" && typeof operand !== "string" ? () => false : wrap(siftTester({ v: query }));
      lastValues = values;
    }
    return lastTester(value, root);
  };
}
function sameValues(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function describeMongo(arg) {
  const query = arg;
  if (typeof query.$regex === "string") {
    const flags = typeof query.$options === "string" ? query.$options : "";
    return `$regex ${formatRegExp({ source: query.$regex, flags })}`;
  }
  return Object.entries(query).map(([op, operand]) => `${op} ${formatValue(operand)}`).join(", ");
}
var LEAF_TESTS = {
  /** Pattern literal or `$data` reference: deep JSON equality, no array traversal. */
  eq: {
    build: (arg) => valueTester(arg, equalsValue),
    describe: (arg) => formatValue(arg)
  },
  /** `String` `Number` `Boolean` `Array` `Object` patterns and `$type`. */
  type: {
    build: (arg) => {
      if (!isTypeName(arg)) throw new Error(`whenflow: unknown type ${JSON.stringify(arg)} in compiled condition`);
      const check = TYPE_CHECKS[arg];
      return (value) => {
        const sealed = sealedType(value);
        return sealed === null ? check(value) : sealed === arg;
      };
    },
    describe: (arg) => isTypeName(arg) ? TYPE_LABELS[arg] : String(arg)
  },
  /** `null` pattern: null or missing. */
  absent: {
    build: () => (value) => value === null || value === void 0,
    describe: () => "null or missing"
  },
  /** RegExp pattern: a string that matches. Arg: `{ source, flags }`. */
  regexp: {
    build: (arg) => regExpTester(arg),
    describe: (arg) => `a string matching ${formatRegExp(arg)}`
  },
  /** Primitive element of an array pattern: the value is an array holding that element. */
  has: {
    build: (arg) => valueTester(arg, containsValue),
    describe: (arg) => `an array containing ${formatValue(arg)}`
  },
  /** `$elemMatch` (and object array patterns compiled before `every`): some element matches the sub-query. */
  some: {
    build: (arg, env) => {
      const sub = env.subQuery(arg);
      return (value, root) => {
        if (!Array.isArray(value)) return false;
        for (let i = 0; i < value.length; i++) if (sub(value[i], root)) return true;
        return false;
      };
    },
    describe: (arg, env) => `an array with an element matching ${env.describeQuery(arg)}`
  },
  /**
   * Object element of an array pattern (`[{ sku: String }]`): the array is not empty and every element
   * matches the sub-query. Conditions compiled before this rule recorded `some`, which stays for replay.
   */
  every: {
    build: (arg, env) => {
      const sub = env.subQuery(arg);
      return (value, root) => {
        if (!Array.isArray(value) || value.length === 0) return false;
        for (let i = 0; i < value.length; i++) if (!sub(value[i], root)) return false;
        return true;
      };
    },
    describe: (arg, env) => `a non-empty array whose every element matches ${env.describeQuery(arg)}`
  },
  /** `$not`: the sub-query (operators or RegExp applied to the same value) does not match. */
  not: {
    build: (arg, env) => {
      const sub = env.subQuery(arg);
      return (value, root) => !sub(value, root);
    },
    describe: (arg, env) => `not ${env.describeQuery(arg)}`
  },
  /** One MongoDB operator, evaluated by sift. Arg: `{ $op: operand }` (`$regex` may carry `$options`). */
  mongo: {
    build: (arg) => mongoTester(arg),
    describe: (arg) => describeMongo(arg)
  }
};
function isLeafTestName(name) {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(LEAF_TESTS, name);
}

// src/conditions/types.ts
var ConditionError = class extends Error {
  constructor(problems) {
    super(problems.map((p) => `${p.path || "(root)"}: ${p.message}`).join("; "));
    this.problems = problems;
    this.name = "ConditionError";
  }
  problems;
};
var LEAF_OPERATION = "$wf";
var LEVEL_OPERATION = "$at";

// src/conditions/compile.ts
var isTaskRoot = (at) => at.subject === "task" && at.path.length === 0;
var DATA_KEYS = /* @__PURE__ */ new Set(["$via", "$stash"]);
var isOperatorKey = (key) => key.startsWith("$") && !DATA_KEYS.has(key);
var Problems = class {
  list = [];
  /** Objects and arrays being visited (cycle detection). */
  ancestors = /* @__PURE__ */ new Set();
  add(where, message) {
    this.list.push({ path: formatKeyPath(where), message });
    return [];
  }
};
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
function canonSet(nodes) {
  const byString = /* @__PURE__ */ new Map();
  for (const node of nodes) byString.set(canonicalJson(node.canon), node.canon);
  return [...byString.keys()].sort().map((k) => byString.get(k));
}
function uniqueNodes(nodes) {
  const seen = /* @__PURE__ */ new Set();
  return nodes.filter((node) => {
    const key = canonicalJson(node.canon);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
function leaf(at, test, arg, canonArg = arg) {
  return { kind: "leaf", path: at.path, test, arg, canon: { path: at.path, test, arg: canonArg } };
}
function subLeaf(at, test, sub) {
  return leaf(at, test, toQuery(sub), canonSet(sub));
}
function group(at, op, branches) {
  const branchCanons = /* @__PURE__ */ new Map();
  for (const branch of branches) {
    const canon = canonSet(branch);
    branchCanons.set(canonicalJson(canon), canon);
  }
  const arg = [...branchCanons.keys()].sort().map((k) => branchCanons.get(k));
  return { kind: "group", op, path: at.path, branches, canon: { path: at.path, test: op, arg } };
}
function nodeQuery(node) {
  if (node.kind === "leaf") {
    const params = { path: node.path, test: node.test, arg: node.arg };
    return { [LEAF_OPERATION]: params };
  }
  return { [node.op]: node.branches.map(toQuery), [LEVEL_OPERATION]: node.path };
}
function toQuery(nodes) {
  const unique = uniqueNodes(nodes);
  return unique.length === 0 ? {} : { $and: unique.map(nodeQuery) };
}
var TYPE_CONSTRUCTORS = /* @__PURE__ */ new Map([
  [String, "string"],
  [Number, "number"],
  [Boolean, "boolean"],
  [Array, "array"],
  [Object, "object"]
]);
var TYPE_CONSTRUCTOR_NAMES = {
  String: "string",
  Number: "number",
  Boolean: "boolean",
  Array: "array",
  Object: "object"
};
function typeConstructorName(value) {
  const known = TYPE_CONSTRUCTORS.get(value);
  if (known) return known;
  if (typeof value !== "function") return null;
  const name = Object.prototype.hasOwnProperty.call(TYPE_CONSTRUCTOR_NAMES, value.name) ? TYPE_CONSTRUCTOR_NAMES[value.name] : void 0;
  return name && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(value)) ? name : null;
}
var tagOf = (value) => Object.prototype.toString.call(value);
var isRegExp = (value) => tagOf(value) === "[object RegExp]";
function isPlainObject2(value) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}
var isReferenceObject = (value) => isPlainObject2(value) && Object.prototype.hasOwnProperty.call(value, DATA_TAG);
var isPrimitive = (value) => value === null || typeof value === "string" || typeof value === "boolean" || typeof value === "number" && Number.isFinite(value);
var FUNCTION_MESSAGE = 'a condition cannot compute values; to compare with another field write { $data: "path.to.field" }';
function invalidValueMessage(value) {
  switch (typeof value) {
    case "function":
      return `a function (${value.name || "anonymous"}) is not allowed: ${FUNCTION_MESSAGE} (the only functions allowed are the type checks String, Number, Boolean, Array, Object)`;
    case "symbol":
      return "a Symbol is not allowed: conditions hold JSON values, RegExps and type checks";
    case "bigint":
      return "a BigInt is not allowed: task data is JSON, use a Number";
    case "undefined":
      return "undefined is not allowed: use null (null or missing) or { $exists: false }";
    case "number":
      return Number.isFinite(value) ? null : `${String(value)} is not allowed: numbers must be finite`;
    case "object": {
      if (value === null || Array.isArray(value) || isPlainObject2(value) || isRegExp(value)) return null;
      if (tagOf(value) === "[object Date]") {
        return 'a Date object is not allowed: task data holds dates as ISO strings, compare with a string (e.g. { $gte: "2024-01-01" })';
      }
      const name = value.constructor?.name;
      return `an instance of ${typeof name === "string" && name ? name : "a class"} is not allowed: use plain objects, arrays, JSON values, RegExps or type checks`;
    }
    default:
      return null;
  }
}
function visit(value, where, problems, fallback, body) {
  if (typeof value !== "object" || value === null) return body();
  if (problems.ancestors.has(value)) {
    problems.add(where, "cycle: this value contains itself");
    return fallback;
  }
  problems.ancestors.add(value);
  try {
    return body();
  } finally {
    problems.ancestors.delete(value);
  }
}
function checkSymbolKeys(obj, where, problems) {
  if (Object.getOwnPropertySymbols(obj).length > 0) problems.add(where, "symbol keys are not allowed");
}
function reference(value, where, problems) {
  const others = Object.keys(value).filter((k) => k !== DATA_TAG);
  if (others.length > 0) problems.add(where, `a { $data } reference takes no other keys (found ${others.join(", ")})`);
  checkSymbolKeys(value, where, problems);
  const path = value[DATA_TAG];
  if (typeof path !== "string") {
    problems.add([...where, DATA_TAG], '$data needs a string: a dot path into the task data, e.g. "companies.length"');
    return { [DATA_TAG]: "" };
  }
  if (parseReference(path) === null) {
    problems.add([...where, DATA_TAG], `$data path ${JSON.stringify(path)} is not a dot path (e.g. "order.items.0.sku")`);
  }
  return { [DATA_TAG]: path };
}
var PATTERN_RULES = [
  {
    name: "null",
    applies: (value) => value === null,
    compile: (_value, at) => [leaf(at, "absent", null)]
  },
  {
    name: "literal",
    applies: (value) => isPrimitive(value),
    compile: (value, at) => [leaf(at, "eq", value)]
  },
  {
    name: "type",
    applies: (value) => typeConstructorName(value) !== null,
    compile: (value, at) => [leaf(at, "type", typeConstructorName(value))]
  },
  {
    name: "regexp",
    applies: isRegExp,
    compile: (value, at) => {
      const re = value;
      return [leaf(at, "regexp", { source: re.source, flags: re.flags })];
    }
  },
  {
    name: "reference",
    applies: isReferenceObject,
    compile: (value, at, problems) => [leaf(at, "eq", reference(value, at.where, problems))]
  },
  {
    name: "array",
    applies: Array.isArray,
    compile: (value, at, problems) => compileArray(value, at, problems)
  },
  {
    name: "object",
    applies: isPlainObject2,
    compile: (value, at, problems) => compileObject(value, at, problems)
  }
];
function compilePattern(value, at, problems) {
  const rule = PATTERN_RULES.find((r) => r.applies(value));
  if (!rule) return problems.add(at.where, invalidValueMessage(value) ?? "this value cannot be matched");
  if (isTaskRoot(at) && rule.name !== "object") {
    return problems.add(at.where, "a pattern over the whole task data must be a plain object of field patterns");
  }
  return visit(value, at.where, problems, [], () => rule.compile(value, at, problems));
}
function compileArray(items, at, problems) {
  if (items.length === 0) return [leaf(at, "type", "array")];
  const elementTest = items.every((item, i) => i in items && isPlainObject2(item) && !isReferenceObject(item)) ? "every" : "some";
  const nodes = [];
  for (let i = 0; i < items.length; i++) {
    const where = [...at.where, i];
    const item = items[i];
    if (!(i in items)) {
      problems.add(where, "empty array slot");
    } else if (isPrimitive(item)) {
      nodes.push(leaf(at, "has", item));
    } else if (isReferenceObject(item)) {
      nodes.push(leaf(at, "has", reference(item, where, problems)));
    } else {
      nodes.push(subLeaf(at, elementTest, compilePattern(item, { path: [], where, subject: "value" }, problems)));
    }
  }
  return nodes;
}
function compileObject(obj, at, problems) {
  checkSymbolKeys(obj, at.where, problems);
  const keys = Object.keys(obj);
  if (keys.length === 0) return isTaskRoot(at) ? [] : [leaf(at, "type", "object")];
  const operators = keys.filter((k) => isOperatorKey(k) && !Object.prototype.hasOwnProperty.call(LOGICAL, k));
  const fields = keys.filter((k) => !isOperatorKey(k));
  if (operators.length > 0 && fields.length > 0 && !isTaskRoot(at)) {
    problems.add(
      at.where,
      `mixes operators (${operators.join(", ")}) with field names (${fields.join(", ")}); put the operators under a field, or combine with $and`
    );
  }
  if (operators.length > 0 && isTaskRoot(at)) {
    problems.add(at.where, `operators (${operators.join(", ")}) must be under a field name: they cannot apply to the task data itself`);
  }
  const nodes = [];
  for (const key of keys) {
    const where = [...at.where, key];
    const value = obj[key];
    if (Object.prototype.hasOwnProperty.call(LOGICAL, key)) {
      nodes.push(...LOGICAL[key](value, at, where, problems));
    } else if (isOperatorKey(key)) {
      const rule = Object.prototype.hasOwnProperty.call(OPERATORS, key) ? OPERATORS[key] : void 0;
      if (rule) nodes.push(...rule(value, { ...at, where }, obj, problems));
      else problems.add(where, `unknown operator ${key} (known: ${KNOWN_OPERATORS})`);
    } else {
      nodes.push(...compilePattern(value, { path: [...at.path, key], where, subject: at.subject }, problems));
    }
  }
  return nodes;
}
function encodeLiteral(value, where, problems, options) {
  if (isPrimitive(value)) return value;
  const typeName = typeConstructorName(value);
  if (typeName !== null) {
    problems.add(where, `${value.name} is a type check, not a value: use { $type: ${value.name} }`);
    return null;
  }
  const invalid = invalidValueMessage(value);
  if (invalid !== null) {
    problems.add(where, invalid);
    return null;
  }
  if (isRegExp(value)) {
    if (options.regexp) return encodeRegExp(value);
    problems.add(where, "a RegExp is not allowed here (only in $eq, $ne, $in, $nin, $all, $regex, $not and as a pattern)");
    return null;
  }
  if (isReferenceObject(value)) return reference(value, where, problems);
  return visit(value, where, problems, null, () => {
    if (Array.isArray(value)) {
      return Array.from(value, (item, i) => encodeLiteral(item, [...where, i], problems, { regexp: false }));
    }
    const obj = value;
    checkSymbolKeys(obj, where, problems);
    const out = {};
    for (const key of Object.keys(obj)) {
      if (isOperatorKey(key)) problems.add([...where, key], `operator arguments cannot hold $ keys (${key}); only { $data: "path" } references`);
      out[key] = encodeLiteral(obj[key], [...where, key], problems, { regexp: false });
    }
    return out;
  });
}
var opName = (at) => String(at.where[at.where.length - 1]);
var malformed = (arg, at, problems, needs) => problems.add(at.where, invalidValueMessage(arg) ?? needs);
var mongoLeaf = (at, operand) => leaf(at, "mongo", operand);
var anyValue = (arg, at, _owner, problems) => [
  mongoLeaf(at, { [opName(at)]: encodeLiteral(arg, at.where, problems, { regexp: true }) })
];
var ordered = (arg, at, _owner, problems) => {
  if (typeof arg === "number" || typeof arg === "string" || isReferenceObject(arg)) return anyValue(arg, at, _owner, problems);
  return malformed(arg, at, problems, `${opName(at)} needs a number, a string or a { $data: "path" } reference`);
};
var list = (arg, at, _owner, problems) => {
  if (!Array.isArray(arg)) return malformed(arg, at, problems, `${opName(at)} needs an array`);
  const items = visit(
    arg,
    at.where,
    problems,
    [],
    () => Array.from(arg, (item, i) => encodeLiteral(item, [...at.where, i], problems, { regexp: true }))
  );
  return [mongoLeaf(at, { [opName(at)]: items })];
};
var REGEX_OPTIONS = /^[imsu]*$/;
var OPERATORS = {
  $eq: anyValue,
  $ne: anyValue,
  $gt: ordered,
  $gte: ordered,
  $lt: ordered,
  $lte: ordered,
  $in: list,
  $nin: list,
  $all: list,
  $exists: (arg, at, _owner, problems) => typeof arg === "boolean" ? [mongoLeaf(at, { $exists: arg })] : malformed(arg, at, problems, "$exists needs true or false"),
  $regex: (arg, at, owner, problems) => {
    let source;
    let flags = "";
    if (typeof arg === "string") source = arg;
    else if (isRegExp(arg)) ({ source, flags } = arg);
    else return malformed(arg, at, problems, "$regex needs a string or a RegExp");
    const options = owner.$options;
    if (options !== void 0) {
      if (typeof options !== "string" || !REGEX_OPTIONS.test(options)) {
        problems.add([...at.where.slice(0, -1), "$options"], "$options needs a string of regex flags among i, m, s, u");
      } else {
        for (const flag of options) if (!flags.includes(flag)) flags += flag;
      }
    }
    try {
      new RegExp(source, flags);
    } catch (error) {
      return problems.add(at.where, `invalid regular expression: ${error.message}`);
    }
    return [mongoLeaf(at, flags ? { $regex: source, $options: flags } : { $regex: source })];
  },
  $options: (_arg, at, owner, problems) => Object.prototype.hasOwnProperty.call(owner, "$regex") ? [] : problems.add(at.where, "$options needs a $regex next to it"),
  $size: (arg, at, _owner, problems) => {
    if (typeof arg === "number" && Number.isInteger(arg) && arg >= 0 || isReferenceObject(arg)) {
      return [mongoLeaf(at, { $size: encodeLiteral(arg, at.where, problems, { regexp: false }) })];
    }
    return malformed(arg, at, problems, '$size needs a non-negative integer or a { $data: "path" } reference');
  },
  $type: (arg, at, _owner, problems) => {
    const name = typeConstructorName(arg) ?? (isTypeName(arg) ? arg : null);
    if (name === null) {
      return problems.add(at.where, '$type needs String, Number, Boolean, Array, Object or one of "string", "number", "boolean", "array", "object", "null"');
    }
    return [leaf(at, "type", name)];
  },
  $elemMatch: (arg, at, _owner, problems) => {
    if (!isPlainObject2(arg)) {
      return malformed(arg, at, problems, "$elemMatch needs an object: a sub-pattern ({ sku: String }) or operators ({ $gt: 5 })");
    }
    return [subLeaf(at, "some", compilePattern(arg, { path: [], where: at.where, subject: "value" }, problems))];
  },
  $not: (arg, at, _owner, problems) => {
    const operatorObject = isPlainObject2(arg) && Object.keys(arg).length > 0 && Object.keys(arg).every(isOperatorKey);
    if (!isRegExp(arg) && !operatorObject) {
      return malformed(arg, at, problems, "$not needs a RegExp or an object of operators (e.g. { $gt: 5 })");
    }
    return [subLeaf(at, "not", compilePattern(arg, { path: [], where: at.where, subject: "value" }, problems))];
  }
};
function logical(op) {
  return (arg, at, where, problems) => {
    if (!Array.isArray(arg) || arg.length === 0) {
      return problems.add(where, invalidValueMessage(arg) ?? `${op} needs a non-empty array of patterns`);
    }
    const branches = visit(
      arg,
      where,
      problems,
      [],
      () => Array.from(arg, (item, i) => compilePattern(item, { path: at.path, where: [...where, i], subject: at.subject }, problems))
    );
    return op === "$and" ? branches.flat() : [group(at, op, branches)];
  };
}
var LOGICAL = {
  $and: logical("$and"),
  $or: logical("$or"),
  $nor: logical("$nor")
};
var KNOWN_OPERATORS = [...Object.keys(OPERATORS), ...Object.keys(LOGICAL), DATA_TAG].join(" ");
function formatKeyPath(where) {
  let out = "";
  for (const key of where) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}
function compileCondition(condition) {
  const problems = new Problems();
  let nodes = [];
  if (!isPlainObject2(condition)) {
    const invalid = invalidValueMessage(condition);
    problems.add([], `a condition must be a plain object of field patterns${invalid ? `; ${invalid}` : ""}`);
  } else {
    nodes = compilePattern(condition, { path: [], where: [], subject: "task" }, problems);
  }
  if (problems.list.length > 0) throw new ConditionError(problems.list);
  const constraints = canonSet(nodes).map(canonicalJson);
  return { query: toQuery(nodes), specificity: constraints.length, constraints };
}

// src/conditions/match.ts
import sift2 from "sift";
var createSiftTester = sift2;
var LeafOperation = class {
  constructor(path, test) {
    this.path = path;
    this.test = test;
  }
  path;
  test;
  keep = false;
  done = false;
  propop = true;
  reset() {
    this.keep = false;
    this.done = false;
  }
  next(item) {
    const frame = item;
    this.keep = parentIsObject(frame.s, this.path) && this.test(valueAt(frame.s, this.path), frame.r);
    this.done = true;
  }
};
function asLeaf(params) {
  const leaf2 = params;
  if (typeof leaf2 !== "object" || leaf2 === null || !Array.isArray(leaf2.path) || !leaf2.path.every((k) => typeof k === "string") || !isLeafTestName(leaf2.test)) {
    throw new Error(`whenflow: malformed ${LEAF_OPERATION} leaf in compiled condition: ${JSON.stringify(params)}`);
  }
  return leaf2;
}
var rejectOperation = (name) => () => {
  throw new Error(`whenflow: ${name} is not allowed in a compiled condition`);
};
var OPERATIONS = {
  [LEAF_OPERATION]: (params) => {
    const leaf2 = asLeaf(params);
    const test = LEAF_TESTS[leaf2.test].build(leaf2.arg, ENV);
    return new LeafOperation(leaf2.path, test);
  },
  [LEVEL_OPERATION]: () => null,
  // Never produced by the compiler; refuse them if a stored query was tampered with.
  $where: rejectOperation("$where")
};
function buildTester(query) {
  if (Object.keys(query).length === 0) return () => true;
  const tester = createSiftTester(query, { operations: OPERATIONS });
  return (subject, root) => tester({ s: subject, r: root });
}
var ENV = {
  subQuery: buildTester,
  describeQuery
};
function queryItems(query) {
  const and = query.$and;
  if (Array.isArray(and)) return and;
  return Object.keys(query).length === 0 ? [] : [query];
}
function groupOf(item) {
  for (const op of ["$or", "$nor", "$and"]) {
    const branches = item[op];
    if (Array.isArray(branches)) {
      const at = item[LEVEL_OPERATION];
      return { op, branches, path: Array.isArray(at) ? at : [] };
    }
  }
  return null;
}
function describeItem(item) {
  const params = item[LEAF_OPERATION];
  if (params !== void 0) {
    const leaf2 = asLeaf(params);
    const expected = LEAF_TESTS[leaf2.test].describe(leaf2.arg, ENV);
    return leaf2.path.length ? `${formatPath(leaf2.path)}: ${expected}` : expected;
  }
  const group2 = groupOf(item);
  if (group2) return `${group2.op} [ ${group2.branches.map(describeQuery).join(" | ")} ]`;
  return JSON.stringify(item);
}
function describeQuery(query) {
  const parts = queryItems(query).map(describeItem);
  if (parts.length === 0) return "anything";
  return parts.length === 1 ? parts[0] : `{ ${parts.join(", ")} }`;
}

// src/model/problems.ts
function formatProblem(problem) {
  return `  ${problem.file}${problem.path ? ` (${problem.path})` : ""}: ${problem.message}`;
}
function describeProblems(problems, where) {
  return `${problems.length} problem${problems.length === 1 ? "" : "s"} in ${where}:
${problems.map(formatProblem).join("\n")}`;
}

// src/steps/options.ts
import ms2 from "ms";
import { z as z2 } from "zod";
var durationMs = z2.union([z2.number().nonnegative().finite(), z2.string().min(1)]).transform((value, ctx) => {
  if (typeof value === "number") return value;
  const parsed = ms2(value);
  if (typeof parsed !== "number" || !Number.isFinite(parsed) || parsed < 0) {
    ctx.addIssue({ code: "custom", message: `"${value}" is not a duration (use milliseconds or e.g. "30s", "2m")` });
    return z2.NEVER;
  }
  return parsed;
});
var DEFAULT_RETRY = {
  initialIntervalMs: 1e3,
  backoffCoefficient: 2,
  maximumAttempts: 3,
  nonRetryableErrorTypes: []
};
var positiveDurationMs = durationMs.refine((ms3) => ms3 > 0, "must be longer than 0");
var retryOptionsSchema = z2.object({
  initialInterval: positiveDurationMs.optional(),
  backoffCoefficient: z2.number().min(1).optional(),
  maximumInterval: positiveDurationMs.optional(),
  maximumAttempts: z2.number().int().min(1).optional(),
  nonRetryableErrorTypes: z2.array(z2.string()).optional()
}).strict().superRefine((retry, ctx) => {
  const initial = retry.initialInterval ?? DEFAULT_RETRY.initialIntervalMs;
  if (retry.maximumInterval !== void 0 && retry.maximumInterval < initial) {
    ctx.addIssue({
      code: "custom",
      path: ["maximumInterval"],
      message: `must be at least the initial interval (${initial} ms${retry.initialInterval === void 0 ? ", the default" : ""})`
    });
  }
});
var stepOptionsSchema = z2.object({
  /** Higher runs first when several steps match in one cycle. */
  priority: z2.number().finite().optional(),
  /** Longest one attempt of the step may run. */
  timeout: positiveDurationMs.optional(),
  retry: retryOptionsSchema.optional()
}).strict();
var DEFAULT_STEP_TIMEOUT_MS = 6e4;
function resolveStepOptions(options, defaults) {
  const retry = options.retry ?? {};
  const maximumIntervalMs = retry.maximumInterval ?? defaults.retry.maximumIntervalMs;
  return {
    priority: options.priority ?? 0,
    timeoutMs: options.timeout ?? defaults.timeoutMs,
    retry: {
      initialIntervalMs: retry.initialInterval ?? defaults.retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient ?? defaults.retry.backoffCoefficient,
      ...maximumIntervalMs === void 0 ? {} : { maximumIntervalMs },
      maximumAttempts: retry.maximumAttempts ?? defaults.retry.maximumAttempts,
      nonRetryableErrorTypes: retry.nonRetryableErrorTypes ?? defaults.retry.nonRetryableErrorTypes
    }
  };
}

// src/steps/load.ts
var WorkspaceError = class extends Error {
  constructor(problems) {
    super(describeProblems(problems, "the workspace"));
    this.problems = problems;
    this.name = "WorkspaceError";
  }
  problems;
};
var BUILT_IN_STEP_DEFAULTS = { retry: DEFAULT_RETRY, timeoutMs: DEFAULT_STEP_TIMEOUT_MS };
var loadedFiles = /* @__PURE__ */ new Map();
function contentHash(source) {
  return createHash2("sha256").update(source).digest("hex");
}
function joinPath(prefix, path) {
  return path ? `${prefix}.${path}`.replace(/\.\[/g, "[") : prefix;
}
async function loadStepFile(workspace, file) {
  const source = await readFile(file);
  const hash = contentHash(source);
  const cached = loadedFiles.get(file);
  if (cached?.hash === hash) return cached.result;
  const result = await importStepFile(workspace, file);
  loadedFiles.set(file, { hash, result });
  return result;
}
async function importStepFile(workspace, file) {
  const name = basename(file, extname(file));
  const where = { file: relative(resolve2(workspace), file), step: name };
  let moduleExports;
  try {
    moduleExports = await runOutsideStep(() => tsImport2(pathToFileURL(file).href, import.meta.url));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const location = error instanceof SyntaxError ? await syntaxErrorLocation(file) : "";
    return { problems: [{ ...where, message: `cannot load: ${message}${location}` }] };
  }
  const problems = [];
  if (!("condition" in moduleExports)) problems.push({ ...where, message: "missing export `condition` (a pattern over the task data)" });
  if (typeof moduleExports.content !== "function") {
    problems.push({ ...where, message: "`content` must be exported as an async function, e.g. export const content = async () => { \u2026 }" });
  }
  let condition;
  if ("condition" in moduleExports) {
    try {
      condition = compileCondition(moduleExports.condition);
    } catch (error) {
      if (!(error instanceof ConditionError)) throw error;
      for (const p of error.problems) problems.push({ ...where, path: joinPath("condition", p.path), message: p.message });
    }
  }
  const options = stepOptionsSchema.safeParse(moduleExports.options ?? {});
  if (!options.success) {
    for (const issue of options.error.issues) {
      problems.push({ ...where, path: joinPath("options", issue.path.map(String).join(".")), message: issue.message });
    }
  }
  if (problems.length > 0 || !condition || !options.success) return { problems };
  const resolved = resolveStepOptions(options.data, BUILT_IN_STEP_DEFAULTS);
  return {
    problems,
    step: { name, file: where.file, condition, ...resolved, declared: options.data, content: moduleExports.content }
  };
}
async function syntaxErrorLocation(file) {
  try {
    await transform2(await readFile(file, "utf8"), { loader: extname(file) === ".ts" ? "ts" : "js", format: "esm", sourcefile: file });
    return "";
  } catch (error) {
    const first = error.errors?.[0];
    return first?.location ? ` at line ${first.location.line}, column ${first.location.column + 1}: ${first.location.lineText.trim()}` : "";
  }
}

// src/steps/library.ts
var byStamp = /* @__PURE__ */ new Map();
async function currentStep(workspace, name, file) {
  const path = join3(resolve3(workspace), file);
  const stamp = await fileStamp(path);
  const known = byStamp.get(path);
  if (stamp !== null && stamp !== "missing" && known?.stamp === stamp) return known.step;
  const loaded2 = await loadStepFile(workspace, path).catch((error) => {
    throw error.code === "ENOENT" ? new Error(`step file ${file} of step "${name}" no longer exists in ${workspace}`) : error;
  });
  if (!loaded2.step) {
    byStamp.delete(path);
    throw new WorkspaceError(loaded2.problems);
  }
  if (stamp !== null && stamp !== "missing") byStamp.set(path, { stamp, step: loaded2.step });
  else byStamp.delete(path);
  return loaded2.step;
}

// src/steps/libraries.ts
import { createHash as createHash3 } from "node:crypto";
import { readdir as readdir3, readFile as readFile2 } from "node:fs/promises";
import { SourceMap } from "node:module";
import { basename as basename2, extname as extname2, join as join4, relative as relative2, resolve as resolve4 } from "node:path";
import { runInThisContext } from "node:vm";
import { transform as transform3 } from "esbuild";
import { require as tsxRequire } from "tsx/cjs/api";
var LIBRARY_EXTENSIONS = [".js", ".mjs", ".ts"];
var LIBRARIES_DIR = "libraries";
var LIBRARY_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
var LibraryError = class extends WorkspaceError {
  constructor(libraryProblems) {
    super(libraryProblems.map((p) => ({ file: p.file, step: p.library, message: p.message })));
    this.libraryProblems = libraryProblems;
    this.name = "LibraryError";
  }
  libraryProblems;
};
var EMPTY = { lib: Object.freeze({}), names: [], problems: [] };
var loaded = /* @__PURE__ */ new Map();
async function libraryFiles(workspace) {
  const dir = join4(workspace, LIBRARIES_DIR);
  try {
    const entries = await readdir3(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && !e.name.endsWith(".d.ts") && LIBRARY_EXTENSIONS.includes(extname2(e.name))).map((e) => join4(dir, e.name)).sort();
  } catch (error) {
    const code = error.code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
}
async function loadLibraries(workspace) {
  const root = resolve4(workspace);
  const files = await libraryFiles(root);
  if (files.length === 0) return EMPTY;
  const sources = await Promise.all(files.map(async (file) => ({ file, source: await readFile2(file, "utf8") })));
  const hash = createHash3("sha256");
  for (const { file, source } of sources) hash.update(`${basename2(file)}\0${source}\0`);
  const digest = hash.digest("hex");
  const cached = loaded.get(root);
  if (cached?.hash === digest) return cached.libraries;
  const libraries = await evaluateAll(root, sources);
  loaded.set(root, { hash: digest, libraries });
  return libraries;
}
async function evaluateAll(root, sources) {
  const folder = join4(root, LIBRARIES_DIR);
  for (const key of Object.keys(tsxRequire.cache)) if (key.startsWith(folder)) delete tsxRequire.cache[key];
  const members = /* @__PURE__ */ new Map();
  const problems = [];
  for (const { file, source } of sources) {
    const name = basename2(file, extname2(file));
    const where = { file: relative2(root, file), library: name };
    if (!LIBRARY_NAME.test(name)) {
      problems.push({ ...where, message: `"${name}" cannot be written as lib.${name}: name library files with letters, digits, "_" and "$" (not starting with a digit)` });
      continue;
    }
    const existing = members.has(name);
    if (existing) {
      problems.push({ ...where, message: `another file in ${LIBRARIES_DIR}/ is also named "${name}"` });
      continue;
    }
    const result = await evaluateLibrary(file, source);
    if ("exports" in result) {
      const value = result.exports;
      members.set(name, () => value);
    } else {
      const problem = { ...where, message: result.error };
      problems.push(problem);
      members.set(name, () => {
        throw new LibraryError([problem]);
      });
    }
  }
  const lib = {};
  for (const [name, get] of members) Object.defineProperty(lib, name, { enumerable: true, get });
  return { lib: Object.freeze(lib), names: [...members.keys()], problems };
}
async function evaluateLibrary(file, source) {
  let code;
  let map;
  try {
    ({ code, map } = await transform3(source, { loader: "ts", format: "cjs", sourcefile: file, sourcemap: "external", target: "node20" }));
  } catch (error) {
    const first = error.errors?.[0];
    if (!first) return { error: `cannot load: ${error.message}` };
    const at = first.location ? ` at line ${first.location.line}, column ${first.location.column + 1}: ${first.location.lineText.trim()}` : "";
    return { error: `cannot load: ${first.text}${at}` };
  }
  const module = { exports: {} };
  try {
    const wrapper = runInThisContext(`(function (exports, require, module, __filename, __dirname) {${code}
})`, { filename: file });
    const requireFromLibrary = Object.assign((id) => tsxRequire(id, file), tsxRequire);
    await runOutsideStep(async () => wrapper(module.exports, requireFromLibrary, module, file, join4(file, "..")));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { error: `cannot load: ${message}${originalLocation(error, file, map)}` };
  }
  return { exports: membersOf(module.exports) };
}
function membersOf(exports) {
  if (exports === null || typeof exports !== "object") return exports;
  const record = exports;
  const fallback = record.default;
  if (fallback !== null && typeof fallback === "object" && Object.keys(record).every((k) => k === "default" || k === "__esModule")) {
    return fallback;
  }
  return exports;
}
function originalLocation(error, file, map) {
  const stack = error instanceof Error ? error.stack ?? "" : "";
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const frame = new RegExp(`${escaped}:(\\d+):(\\d+)`).exec(stack);
  if (!frame) return "";
  try {
    const line = Number(frame[1]) - 1;
    const column = Number(frame[2]) - 1 - (line === 0 ? "(function (exports, require, module, __filename, __dirname) {".length : 0);
    const entry = new SourceMap(JSON.parse(map)).findEntry(line, column);
    if (!("originalLine" in entry)) return "";
    return ` at line ${entry.originalLine + 1}, column ${entry.originalColumn + 1}`;
  } catch {
    return "";
  }
}

// ../../tmp/proto14c/entry.ts
var t1 = performance.now();
var step = await currentStep("/work/wt-14c/bench/workspaces/chain", "s01", "steps/s01.mjs");
var t2 = performance.now();
parentPort.postMessage({ engine: t1, step: t2 - t1, x: typeof executeStep, y: typeof loadLibraries });
