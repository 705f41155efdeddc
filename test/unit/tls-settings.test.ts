import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingsFromEnvironment } from '../../src/temporal/server';
import { tlsFromEnvironment } from '../../src/temporal/tls-settings';

const dir = mkdtempSync(join(tmpdir(), 'whenflow-tls-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const ca = file('ca.pem', 'CA');
const cert = file('client.pem', 'CERT');
const key = file('client.key', 'KEY');

describe('TLS settings from TEMPORAL_TLS_* variables', () => {
  it('is a plain connection when nothing asks for TLS', () => {
    expect(tlsFromEnvironment({})).toBe(false);
    expect(tlsFromEnvironment({ TEMPORAL_TLS: 'false' })).toBe(false);
  });

  it('reads a client certificate, a private CA and the server name', () => {
    const tls = tlsFromEnvironment({
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    expect(tls).not.toBe(false);
    if (tls === false) return;
    expect(tls.clientCertPair?.crt.toString()).toBe('CERT');
    expect(tls.clientCertPair?.key.toString()).toBe('KEY');
    expect(Buffer.from(tls.serverRootCACertificate ?? []).toString()).toBe('CA');
    expect(tls.serverNameOverride).toBe('temporal.internal');
  });

  it('turns TLS on for a CA alone, TEMPORAL_TLS=true or an API key', () => {
    expect(tlsFromEnvironment({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca })).toEqual({ serverRootCACertificate: Buffer.from('CA') });
    expect(tlsFromEnvironment({ TEMPORAL_TLS: 'true' })).toEqual({});
    expect(tlsFromEnvironment({ TEMPORAL_API_KEY: 'k' })).toEqual({});
  });

  it('names the variable that is wrong', () => {
    expect(() => tlsFromEnvironment({ TEMPORAL_TLS_CLIENT_CERT_PATH: cert })).toThrow(/TEMPORAL_TLS_CLIENT_KEY_PATH/);
    expect(() => tlsFromEnvironment({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'missing.pem') })).toThrow(
      /TEMPORAL_TLS_SERVER_CA_CERT_PATH=.*missing\.pem/,
    );
    expect(() => tlsFromEnvironment({ TEMPORAL_TLS: 'yes' })).toThrow(/TEMPORAL_TLS must be true or false/);
    expect(() => tlsFromEnvironment({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca })).toThrow(/contradicts/);
  });

  it('is part of the connection settings a worker or command takes from the environment', () => {
    const settings = settingsFromEnvironment({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    expect(settings).toMatchObject({
      address: 'temporal.internal:7233',
      namespace: 'default',
      tls: { serverNameOverride: 'temporal.internal' },
    });
  });
});
