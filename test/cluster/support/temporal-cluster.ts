import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import YAML from 'yaml';
import type { TestCertificates } from './certs';
import type { PostgresServer } from './postgres';
import type { ClusterBinaries } from './provision';
import { freePort, spawnManaged, waitFor, type ManagedProcess } from './processes';

const execFileAsync = promisify(execFile);

export const SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ServiceName = (typeof SERVICES)[number];

interface ServicePorts {
  grpcPort: number;
  membershipPort: number;
  httpPort?: number;
}

export interface TemporalCluster {
  /** host:port of the frontend (TLS). */
  address: string;
  namespace: string;
  certs: TestCertificates;
  /** The environment a worker or command needs to reach the frontend over mutual TLS. */
  clientEnv: Record<string, string>;
  processes(): Record<ServiceName, ManagedProcess>;
  /** Stops one service (SIGTERM; SIGKILL with `kill`) and starts it again on the same ports. */
  restart(service: ServiceName, options?: { kill?: boolean }): Promise<void>;
  /** CPU ms used so far by each service process, including processes a restart replaced. */
  cpuMs(): Record<ServiceName, number>;
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  binaries: ClusterBinaries;
  postgres: PostgresServer;
  certs: TestCertificates;
  root: string;
  log: (line: string) => void;
  numHistoryShards?: number;
}

const DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;

/** Creates both databases and brings their schemas to the version this server expects, with temporal-sql-tool. */
async function setUpSchemas(options: StartClusterOptions): Promise<void> {
  const { sqlTool, serverSource } = options.binaries;
  const base = [
    '--plugin',
    'postgres12',
    '--endpoint',
    '127.0.0.1',
    '--port',
    String(options.postgres.port),
    '--user',
    options.postgres.user,
    '--password',
    options.postgres.password,
  ];
  const tool = async (database: string, args: string[]) => {
    try {
      await execFileAsync(sqlTool, [...base, '--database', database, ...args]);
    } catch (error) {
      const detail = error instanceof Error && 'stderr' in error ? String((error as { stderr: unknown }).stderr) : String(error);
      throw new Error(`temporal-sql-tool --database ${database} ${args.join(' ')} failed: ${detail.slice(-2000)}`);
    }
  };
  for (const [database, folder] of [
    [DATABASES.temporal, 'temporal'],
    [DATABASES.visibility, 'visibility'],
  ] as const) {
    await tool(database, ['create-database']);
    await tool(database, ['setup-schema', '--version', '0.0']);
    await tool(database, ['update-schema', '--schema-dir', join(serverSource, 'schema', 'postgresql', 'v12', folder, 'versioned')]);
  }
}

function serverConfig(options: StartClusterOptions, ports: Record<ServiceName, ServicePorts>, dynamicConfigFile: string): unknown {
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${options.postgres.port}`,
      connectProtocol: 'tcp',
      user: options.postgres.user,
      password: options.postgres.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const { certs } = options;
  const clientTls = { serverName: certs.serverName, rootCaFiles: [certs.caCert] };
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: options.numHistoryShards ?? 4,
      datastores: {
        'postgres-default': datastore(DATABASES.temporal, 20),
        'postgres-visibility': datastore(DATABASES.visibility, 10),
      },
    },
    global: {
      // Several processes on one host: each service has its own membership port; all advertise 127.0.0.1.
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      tls: {
        // Clients (workers, CLI) and the system worker reach the frontend over mutual TLS; services talk
        // among themselves in plain gRPC on loopback.
        frontend: {
          server: { certFile: certs.serverCert, keyFile: certs.serverKey, requireClientAuth: true, clientCaFiles: [certs.caCert] },
          client: clientTls,
        },
        systemWorker: { certFile: certs.clientCert, keyFile: certs.clientKey, client: clientTls },
      },
    },
    services: Object.fromEntries(SERVICES.map((service) => [service, { rpc: { ...ports[service], bindOnLocalHost: true } }])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `localhost:${ports.frontend.grpcPort}` },
      },
    },
    publicClient: { hostPort: `localhost:${ports.frontend.grpcPort}` },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

const DYNAMIC_CONFIG = {
  'limit.maxIDLength': [{ value: 255, constraints: {} }],
};

/**
 * The Temporal server as four processes (history, matching, frontend, worker), on PostgreSQL for
 * persistence and for SQL advanced visibility, with the frontend behind mutual TLS.
 */
export async function startTemporalCluster(options: StartClusterOptions): Promise<TemporalCluster> {
  await setUpSchemas(options);
  const ports = {} as Record<ServiceName, ServicePorts>;
  for (const service of SERVICES) ports[service] = { grpcPort: await freePort(), membershipPort: await freePort() };
  ports.frontend.httpPort = await freePort();
  const configDir = join(options.root, 'temporal-config');
  mkdirSync(configDir, { recursive: true });
  const dynamicConfigFile = join(options.root, 'dynamicconfig.yaml');
  writeFileSync(dynamicConfigFile, YAML.stringify(DYNAMIC_CONFIG));
  writeFileSync(join(configDir, 'development.yaml'), YAML.stringify(serverConfig(options, ports, dynamicConfigFile)));

  const current = {} as Record<ServiceName, ManagedProcess>;
  const cpuOfReplaced: Record<ServiceName, number> = { history: 0, matching: 0, frontend: 0, worker: 0 };
  const startService = async (service: ServiceName) => {
    const proc = spawnManaged(
      `temporal ${service}`,
      options.binaries.temporalServer,
      ['--root', options.root, '--config', 'temporal-config', '--env', 'development', '--allow-no-auth', 'start', '--service', service],
      {},
    );
    current[service] = proc;
    // The worker service serves no gRPC of its own; it is up once it has joined the membership ring.
    const port = service === 'worker' ? ports[service].membershipPort : ports[service].grpcPort;
    try {
      await waitFor(`the Temporal ${service} service on port ${port}`, 60_000, async () => {
        if (proc.exited) throw new Error(`the Temporal ${service} service exited`);
        return portOpen(port);
      });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; its output:\n${proc.output().slice(-4000)}`, {
        cause: error,
      });
    }
  };
  for (const service of SERVICES) await startService(service);

  const address = `127.0.0.1:${ports.frontend.grpcPort}`;
  const clientEnv = {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TLS_CLIENT_CERT_PATH: options.certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: options.certs.clientKey,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: options.certs.caCert,
    TEMPORAL_TLS_SERVER_NAME: options.certs.serverName,
  };
  await registerDefaultNamespace(address, options.certs);
  options.log(
    `cluster: Temporal server ${'v1.29.1'} as 4 processes — ${SERVICES.map((service) => `${service} pid ${current[service].pid} :${ports[service].grpcPort}`).join(', ')}; frontend ${address} (mutual TLS)`,
  );

  return {
    address,
    namespace: 'default',
    certs: options.certs,
    clientEnv,
    processes: () => ({ ...current }),
    async restart(service, restartOptions = {}) {
      const old = current[service];
      cpuOfReplaced[service] += old.cpuMs();
      await old.stop(restartOptions.kill ? 'SIGKILL' : 'SIGTERM', 20_000);
      await startService(service);
    },
    cpuMs() {
      return Object.fromEntries(SERVICES.map((service) => [service, cpuOfReplaced[service] + current[service].cpuMs()])) as Record<
        ServiceName,
        number
      >;
    },
    async stop() {
      // The reverse of the start order: the frontend and system worker first, history last.
      for (const service of [...SERVICES].reverse()) await current[service].stop('SIGTERM', 15_000);
    },
  };
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function tlsConnection(address: string, certs: TestCertificates): Promise<Connection> {
  const { readFileSync } = await import('node:fs');
  return Connection.connect({
    address,
    tls: {
      serverNameOverride: certs.serverName,
      serverRootCACertificate: readFileSync(certs.caCert),
      clientCertPair: { crt: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) },
    },
  });
}

const GRPC_ALREADY_EXISTS = 6;

/** A self-hosted cluster starts with no namespaces: register `default` and wait until every service knows it. */
async function registerDefaultNamespace(address: string, certs: TestCertificates): Promise<void> {
  const connection = await tlsConnection(address, certs);
  try {
    await waitFor(
      'the frontend to register the default namespace',
      60_000,
      async () => {
        try {
          await connection.workflowService.registerNamespace({ namespace: 'default', workflowExecutionRetentionPeriod: msToTs('1 day') });
          return true;
        } catch (error) {
          if (isGrpcServiceError(error) && error.code === GRPC_ALREADY_EXISTS) return true;
          throw error;
        }
      },
      1000,
    );
    await waitFor(
      'the default namespace to be known',
      60_000,
      async () => {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return true;
      },
      1000,
    );
  } finally {
    await connection.close();
  }
}
