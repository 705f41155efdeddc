import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import type { JsonObject, JsonValue } from '../model/json';
import { runOutsideStep } from '../runtime/globals';
import { contentHash, importUserModule } from '../workspace/user-module';
import { stringValueOf } from '../runtime/task-id';
import { BUILTIN_CONNECTORS, BUILTIN_NAMES } from './builtins';
import {
  ConnectorError,
  type Connector,
  type ConnectorCallGuard,
  type ConnectorContext,
  type ConnectorMethod,
  type RawConnectorPolicy,
  type ConnectorProblem,
} from './types';

export const CONNECTOR_EXTENSIONS = ['.js', '.mjs', '.ts'] as const;
/** Exports of a connector module that configure it rather than being methods. */
export const POLICY_EXPORTS = ['retry', 'timeout'] as const;
/** `connectors.<name>` must work as written, and neither a connector nor a method may make the proxy thenable. */
const NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED = new Set(['then', 'constructor', '__proto__', 'prototype']);

const list = (names: readonly string[]) => (names.length ? names.join(', ') : '(none)');

/** The connectors a worker offers: built-ins plus the workspace's `connectors/` modules. */
export class ConnectorRegistry {
  private readonly connectors = new Map<string, Connector>();
  private guard: ConnectorCallGuard | null = null;

  constructor(
    connectors: readonly Connector[] = BUILTIN_CONNECTORS,
    /** Raw `retry` / `timeout` exports by connector name, for the engine to validate and apply to deferred calls. */
    readonly policies: Record<string, RawConnectorPolicy> = {},
  ) {
    for (const connector of connectors) {
      if (this.connectors.has(connector.name)) throw new Error(`two connectors are named "${connector.name}"`);
      this.connectors.set(connector.name, connector);
    }
  }

  /**
   * The same connectors with every call going through `guard`. A registry is rebuilt whenever the workspace
   * is read again, while the guard (and the circuit state it keeps) lives as long as the worker.
   */
  guardedBy(guard: ConnectorCallGuard): ConnectorRegistry {
    const guarded = new ConnectorRegistry([...this.connectors.values()], this.policies);
    guarded.guard = guard;
    return guarded;
  }

  get(name: string): Connector | undefined {
    return this.connectors.get(name);
  }

  /** Connector names, sorted. */
  names(): string[] {
    return [...this.connectors.keys()].sort();
  }

  /** The method, or a ConnectorError that lists what exists instead. */
  resolve(name: string, method: string): ConnectorMethod {
    const connector = this.connectors.get(name);
    if (!connector) throw new ConnectorError(name, method, `no connector named "${name}" (known connectors: ${list(this.names())})`);
    const fn = Object.hasOwn(connector.methods, method) ? connector.methods[method] : undefined;
    if (!fn) {
      throw new ConnectorError(
        name,
        method,
        `connector "${name}" has no method "${method}" (its methods: ${list(Object.keys(connector.methods).sort())})`,
      );
    }
    return fn;
  }

  /** The method that runs when `connectors.<name>(args)` is called as a function, or a ConnectorError saying how to call it. */
  callableMethod(name: string): string {
    const connector = this.connectors.get(name);
    if (connector?.callable) return connector.callable;
    const methods = connector ? Object.keys(connector.methods).sort() : [];
    const example = methods[0] ? `connectors.${name}.${methods[0]}(args)` : `connectors.${name}.<method>(args)`;
    throw new ConnectorError(
      name,
      '(call)',
      connector
        ? `connectors.${name} is not a function: call one of its methods, e.g. ${example} (its methods: ${list(methods)})`
        : `no connector named "${name}" (known connectors: ${list(this.names())})`,
    );
  }

  /**
   * Calls a method with a JSON copy of `args` (undefined → {}), outside any step scope: a connector sees its
   * arguments and context only, the same whether the call runs inside the step or deferred as its own activity.
   */
  async call(name: string, method: string, args: unknown, context: ConnectorContext): Promise<unknown> {
    const fn = this.resolve(name, method);
    const json = jsonArgs(args, name, method);
    const invoke = () => runOutsideStep(async () => fn(json, context));
    if (!this.guard) return invoke();
    return this.guard.run({ connector: name, method, source: this.connectors.get(name)!.source, context }, invoke);
  }
}

/**
 * A JSON copy of call arguments, or a ConnectorError naming the first value that is not JSON. As for step data:
 * `undefined` properties are dropped, Dates become ISO strings.
 */
export function jsonArgs(args: unknown, connector: string, method: string): JsonObject {
  if (args === undefined) return {};
  const fail = (path: string, what: string): never => {
    throw new ConnectorError(
      connector,
      method,
      `arguments must be JSON: ${path} is ${what}`,
      path === 'args' ? undefined : path.replace(/^args\.?/, ''),
    );
  };
  const ancestors = new Set<object>();
  const copy = (value: unknown, path: string): JsonValue | undefined => {
    if (value === undefined) return undefined;
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number') return Number.isFinite(value) ? value : fail(path, String(value));
    const asString = stringValueOf(value);
    if (asString !== undefined) return asString;
    if (typeof value !== 'object') return fail(path, `a ${typeof value}`);
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? fail(path, 'an invalid Date') : value.toISOString();
    if (ancestors.has(value)) return fail(path, 'a circular reference');
    ancestors.add(value);
    try {
      if (Array.isArray(value)) return value.map((item, i) => copy(item, `${path}.${i}`) ?? null);
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== null && Object.getPrototypeOf(proto) !== null) {
        return fail(path, `an instance of ${(value as object).constructor?.name || 'a class'} (only plain objects, arrays and Dates)`);
      }
      const out: JsonObject = {};
      for (const [key, item] of Object.entries(value)) {
        if (key === '__proto__') fail(`${path}.${key}`, 'the key __proto__');
        const converted = copy(item, `${path}.${key}`);
        if (converted !== undefined) out[key] = converted;
      }
      return out;
    } finally {
      ancestors.delete(value);
    }
  };
  const result = copy(args, 'args');
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new ConnectorError(
      connector,
      method,
      `arguments must be one object, e.g. ({ id: 1 }), not ${Array.isArray(args) ? 'an array' : args === null ? 'null' : `a ${typeof args}`}`,
    );
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Loading workspace connectors

interface LoadedConnectorFile {
  connector?: Connector;
  policy?: RawConnectorPolicy;
  problems: ConnectorProblem[];
}

/** Connector files already loaded, by path and content hash: re-imported only when the content changed. */
const loadedFiles = new Map<string, { hash: string; result: LoadedConnectorFile }>();

export function connectorsDir(workspace: string): string {
  return join(resolve(workspace), 'connectors');
}

/**
 * Built-ins plus every `<workspace>/connectors/*.{js,mjs,ts}` (the folder is optional; subfolders are not
 * scanned, so helpers can live in one). Never throws for a bad file: it is skipped and reported in `problems`.
 */
export async function loadConnectors(
  workspace: string,
): Promise<{ registry: ConnectorRegistry; problems: ConnectorProblem[]; policies: Record<string, RawConnectorPolicy> }> {
  const dir = connectorsDir(workspace);
  const connectors: Connector[] = [...BUILTIN_CONNECTORS];
  const policies: Record<string, RawConnectorPolicy> = {};
  const problems: ConnectorProblem[] = [];
  let files: string[] = [];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    files = entries
      .filter((e) => e.isFile() && !e.name.endsWith('.d.ts') && (CONNECTOR_EXTENSIONS as readonly string[]).includes(extname(e.name)))
      .map((e) => join(dir, e.name))
      .sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      problems.push({ file: dir, connector: '', message: `cannot read the connectors folder: ${String(error)}` });
  }
  const sources = new Map<string, string>();
  for (const file of files) {
    const loaded = await loadConnectorFile(workspace, file);
    problems.push(...loaded.problems);
    const connector = loaded.connector;
    if (!connector) continue;
    const other = sources.get(connector.name);
    if (other) {
      problems.push({
        file: connector.source,
        connector: connector.name,
        message: `another file (${other}) defines a connector with the same name`,
      });
      continue;
    }
    sources.set(connector.name, connector.source);
    connectors.push(connector);
    if (loaded.policy) policies[connector.name] = loaded.policy;
  }
  return { registry: new ConnectorRegistry(connectors, policies), problems, policies };
}

/** Loads one connector file (cached by content hash); returns the connector or its problems. */
export async function loadConnectorFile(workspace: string, file: string): Promise<LoadedConnectorFile> {
  const source = await readFile(file);
  const hash = contentHash(source);
  const cached = loadedFiles.get(file);
  if (cached?.hash === hash) return cached.result;
  const result = await importConnectorFile(workspace, file);
  loadedFiles.set(file, { hash, result });
  return result;
}

async function importConnectorFile(workspace: string, file: string): Promise<LoadedConnectorFile> {
  const name = basename(file, extname(file));
  const where = { file: relative(resolve(workspace), file), connector: name };
  if (BUILTIN_NAMES.includes(name)) {
    return {
      problems: [{ ...where, message: `"${name}" is a built-in connector; rename the file (the connector's name is its file name)` }],
    };
  }
  if (!NAME.test(name) || RESERVED.has(name)) {
    return {
      problems: [
        {
          ...where,
          message: `"${name}" cannot be a connector name: use letters, digits, _ or $ (not starting with a digit), so that connectors.${name.replace(/\W/g, '_')}.method() works`,
        },
      ],
    };
  }
  const loaded = await importUserModule(file);
  if ('failure' in loaded) return { problems: [{ ...where, message: loaded.failure }] };
  const moduleExports = loaded.exports;
  const methods: Record<string, ConnectorMethod> = {};
  const problems: ConnectorProblem[] = [];
  const policy: RawConnectorPolicy = {};
  for (const [key, value] of Object.entries(moduleExports)) {
    if (key === 'default') continue;
    if ((POLICY_EXPORTS as readonly string[]).includes(key)) {
      policy[key as (typeof POLICY_EXPORTS)[number]] = value;
      continue;
    }
    if (typeof value !== 'function') continue;
    if (RESERVED.has(key)) {
      problems.push({ ...where, message: `"${key}" cannot be a method name; rename that export` });
      continue;
    }
    // Sync functions are accepted too: every call is awaited.
    const fn = value as (args: JsonObject, context: ConnectorContext) => unknown;
    methods[key] = async (args, context) => fn(args, context);
  }
  if (problems.length > 0) return { problems };
  if (Object.keys(methods).length === 0) {
    const hint =
      typeof moduleExports.default === 'object' || typeof moduleExports.default === 'function'
        ? ' (a default export is not used: export each method by name)'
        : '';
    return {
      problems: [
        {
          ...where,
          message: `exports no functions; a connector's methods are its exported async functions, e.g. export async function create(args, context) { … }${hint}`,
        },
      ],
    };
  }
  return {
    problems,
    connector: { name, methods, source: where.file },
    ...(Object.keys(policy).length > 0 ? { policy } : {}),
  };
}
