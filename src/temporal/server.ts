// The Temporal SDK is loaded when a connection is made: `whenflow run` spawns the dev server first and
// loads the SDK while the server starts.
import type { Client, Connection, TLSConfig } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { TASK_SEARCH_ATTRIBUTE_TYPES } from '../model/search-attribute-names';
import { provisionTemporalBinary, type Log } from './binary';
import { dynamicConfigArgs, portInUse, PortInUseError, spawnDevServer, type SpawnDevServerOptions } from './dev-server';
import { tlsFromEnvironment } from './tls-settings';

/** A live connection to a Temporal service: for clients, for workers, and how to let go of it. */
export interface TemporalSession {
  address: string;
  namespace: string;
  client: Client;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

export interface DevServerOptions {
  log?: Log;
  /**
   * Work done while the server starts (loading modules, installing the Temporal runtime, which must
   * precede the first native connection): called once the server's process is spawned (at once when there
   * is none to spawn); connections are made once it has resolved.
   */
  whileStarting?: () => Promise<unknown>;
  /** Persist the server's database here; in memory when absent. */
  dbFilename?: string;
  port?: number;
  ui?: boolean;
  uiPort?: number;
  /** Dynamic configuration values of the server, on top of whenflow's own (a spawned Temporal CLI only). */
  dynamicConfig?: Record<string, string | number | boolean>;
}

/**
 * Starts the Temporal dev server embedded in the Temporal CLI, with whenflow's search attributes
 * registered. With a local binary it runs as a child process whose output whenflow owns; without one
 * the Temporal SDK downloads its own copy (that needs internet access).
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<TemporalSession> {
  const binary = await provisionTemporalBinary(options.log);
  if (binary) {
    let whileStarting: Promise<unknown> | undefined;
    const server = await spawnDevServer({
      binary,
      ...pick(options),
      onSpawned: () => {
        whileStarting = options.whileStarting?.();
        whileStarting?.catch(() => undefined); // awaited below, once the server serves
      },
    });
    let session: TemporalSession;
    try {
      await whileStarting;
      session = await connectToServer({ address: server.address, namespace: 'default' });
    } catch (error) {
      await server.stop();
      throw error;
    }
    return {
      ...session,
      close: async () => {
        try {
          await session.close();
        } finally {
          await server.stop();
        }
      },
    };
  }
  // The SDK's own server: the same rule, a port asked for must be free (else that server would be used).
  if (options.port && (await portInUse(options.port))) throw new PortInUseError(options.port, '--port');
  await options.whileStarting?.();
  const [{ TestWorkflowEnvironment }, { TASK_SEARCH_ATTRIBUTES }] = await Promise.all([
    import('@temporalio/testing'),
    import('../model/search-attributes'),
  ]);
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      searchAttributes: TASK_SEARCH_ATTRIBUTES,
      extraArgs: dynamicConfigArgs(options.dynamicConfig),
      ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
      ...(options.port ? { port: options.port } : {}),
      ...(options.ui ? { ui: true, ...(options.uiPort ? { uiPort: options.uiPort } : {}) } : {}),
    },
  });
  return {
    address: env.address,
    namespace: env.namespace ?? 'default',
    client: env.client,
    nativeConnection: env.nativeConnection,
    close: () => env.teardown(),
  };
}

/** Connection settings from the environment variables Temporal's own tools read. */
export interface ExistingServerSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: TLSConfig | boolean;
  /** Where the address came from, for messages; default: TEMPORAL_ADDRESS. */
  source?: string;
  /** What to do when the service cannot be reached. */
  hint?: string;
  /** How long to try to connect (default: the SDK's 10 s). */
  connectTimeoutMs?: number;
}

export function settingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): ExistingServerSettings | null {
  if (!env.TEMPORAL_ADDRESS) return null;
  const tls = tlsFromEnvironment(env);
  return {
    address: env.TEMPORAL_ADDRESS,
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
    tls,
  };
}

/** Connects to an existing Temporal service and makes sure whenflow's search attributes exist there. */
export async function connectToServer(settings: ExistingServerSettings): Promise<TemporalSession> {
  const common = {
    address: settings.address,
    ...(settings.connectTimeoutMs ? { connectTimeout: settings.connectTimeoutMs } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    ...(settings.tls ? { tls: settings.tls === true ? {} : settings.tls } : {}),
  };
  const [{ Client, Connection }, { NativeConnection }] = await Promise.all([import('@temporalio/client'), import('@temporalio/worker')]);
  let connection: Connection;
  let nativeConnection: NativeConnection;
  try {
    connection = await Connection.connect(common);
    nativeConnection = await NativeConnection.connect(common);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot reach Temporal at ${settings.address} (${settings.source ?? 'TEMPORAL_ADDRESS'}): ${reason}${settings.hint ? `\n${settings.hint}` : ''}`,
      { cause: error },
    );
  }
  await registerSearchAttributes(connection, settings.namespace);
  return {
    address: settings.address,
    namespace: settings.namespace,
    client: new Client({ connection, namespace: settings.namespace }),
    nativeConnection,
    close: async () => {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/** The service from TEMPORAL_ADDRESS when set, else a fresh embedded dev server (see DevServerOptions.whileStarting). */
export async function openSession(log?: Log, stages: Pick<DevServerOptions, 'whileStarting'> = {}): Promise<TemporalSession> {
  const settings = settingsFromEnvironment();
  if (settings) {
    await stages.whileStarting?.();
    return connectToServer(settings);
  }
  return startDevServer({ ...(log ? { log } : {}), ...stages });
}

async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const wanted = Object.fromEntries(Object.entries(TASK_SEARCH_ATTRIBUTE_TYPES).map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]]));
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: wanted });
  } catch (error) {
    const { isGrpcServiceError } = await import('@temporalio/client');
    // Already registered (by an earlier worker or by an operator) is the normal case.
    if (isGrpcServiceError(error) && error.code === GRPC_ALREADY_EXISTS) return;
    throw error;
  }
}

const GRPC_ALREADY_EXISTS = 6;
// Values of temporal.api.enums.v1.IndexedValueType.
const INDEXED_VALUE_TYPE = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 } as const;

function pick(options: DevServerOptions): Omit<SpawnDevServerOptions, 'binary'> {
  return {
    ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
    ...(options.port ? { port: options.port } : {}),
    ...(options.ui ? { ui: true } : {}),
    ...(options.uiPort ? { uiPort: options.uiPort } : {}),
    ...(options.dynamicConfig ? { dynamicConfig: options.dynamicConfig } : {}),
  };
}
