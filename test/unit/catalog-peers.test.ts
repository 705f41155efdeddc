import { describe, expect, it } from 'vitest';
import {
  catalogConflicts,
  catalogOfIdentity,
  describeCatalogConflict,
  describeMixedCatalogs,
  workerIdentity,
} from '../../src/observability/catalog-peers';

describe('catalog fingerprints in worker identities', () => {
  it('reads the fingerprint back, and none from other pollers', () => {
    expect(workerIdentity('0123456789abcdef', '12@host')).toBe('12@host whenflow-catalog:0123456789abcdef');
    expect(catalogOfIdentity('12@host whenflow-catalog:0123456789abcdef')).toBe('0123456789abcdef');
    expect(catalogOfIdentity('12@host')).toBeNull();
  });

  it('names no catalog for a worker alone on its queue (whenflow run), which no peer compares with', () => {
    expect(workerIdentity(null, '12@host')).toBe('12@host');
    expect(catalogOfIdentity(workerIdentity(null, '12@host'))).toBeNull();
  });

  it('names the pollers with another catalog, once each, leaving out itself, same catalogs and non-whenflow pollers', () => {
    const own = '1@a whenflow-catalog:aaaa';
    const other = '2@b whenflow-catalog:bbbb';
    const conflicts = catalogConflicts('whenflow-shop', [own, '3@c whenflow-catalog:aaaa', other, other, '4@d'], own, 'aaaa');
    expect(conflicts).toEqual([{ taskQueue: 'whenflow-shop', identity: other, catalog: 'bbbb', ownCatalog: 'aaaa' }]);
    expect(describeCatalogConflict(conflicts[0]!)).toMatch(
      /^warning: task queue whenflow-shop is also polled by 2@b whenflow-catalog:bbbb with step catalog bbbb, but this worker has catalog aaaa: /,
    );
    expect(catalogConflicts('q', [own, '3@c whenflow-catalog:aaaa'], own, 'aaaa')).toEqual([]);
  });

  it('tells a command starting a task when the queue mixes catalogs', () => {
    expect(describeMixedCatalogs('q', ['1@a whenflow-catalog:aaaa', '2@b whenflow-catalog:aaaa', '4@d'])).toBeNull();
    expect(describeMixedCatalogs('q', ['1@a whenflow-catalog:aaaa', '2@b whenflow-catalog:bbbb'])).toBe(
      "warning: task queue q is polled by workers with different step catalogs: catalog aaaa (1@a whenflow-catalog:aaaa); catalog bbbb (2@b whenflow-catalog:bbbb); the task's steps run from either catalog",
    );
  });
});
