import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';

/**
 * TLS towards the Temporal frontend from the variables Temporal's own environment configuration uses:
 * - TEMPORAL_TLS_CLIENT_CERT_PATH + TEMPORAL_TLS_CLIENT_KEY_PATH: a client certificate (mutual TLS);
 * - TEMPORAL_TLS_SERVER_CA_CERT_PATH: the CA that issued the server's certificate (a private CA);
 * - TEMPORAL_TLS_SERVER_NAME: the name to check the server certificate against (and send as SNI);
 * - TEMPORAL_TLS=true: TLS with none of the above (a server certificate the system trusts).
 * TEMPORAL_API_KEY implies TLS. Returns false for a plain connection.
 */
export function tlsFromEnvironment(env: NodeJS.ProcessEnv = process.env): TLSConfig | false {
  const certPath = env.TEMPORAL_TLS_CLIENT_CERT_PATH;
  const keyPath = env.TEMPORAL_TLS_CLIENT_KEY_PATH;
  if (Boolean(certPath) !== Boolean(keyPath)) {
    throw new Error('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: set both or neither');
  }
  const caPath = env.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
  const serverName = env.TEMPORAL_TLS_SERVER_NAME;
  const explicit = env.TEMPORAL_TLS;
  if (explicit !== undefined && explicit !== '' && explicit !== 'true' && explicit !== 'false') {
    throw new Error(`TEMPORAL_TLS must be true or false; got "${explicit}"`);
  }
  const wanted = explicit === 'true' || Boolean(env.TEMPORAL_API_KEY) || Boolean(certPath) || Boolean(caPath) || Boolean(serverName);
  if (!wanted) return false;
  if (explicit === 'false') {
    throw new Error('TEMPORAL_TLS=false contradicts the TLS settings also given (TEMPORAL_TLS_* or TEMPORAL_API_KEY)');
  }
  return {
    ...(certPath && keyPath
      ? {
          clientCertPair: {
            crt: readNamed(certPath, 'TEMPORAL_TLS_CLIENT_CERT_PATH'),
            key: readNamed(keyPath, 'TEMPORAL_TLS_CLIENT_KEY_PATH'),
          },
        }
      : {}),
    ...(caPath ? { serverRootCACertificate: readNamed(caPath, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH') } : {}),
    ...(serverName ? { serverNameOverride: serverName } : {}),
  };
}

function readNamed(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${variable}=${path} cannot be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
