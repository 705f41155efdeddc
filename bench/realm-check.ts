/**
 * The after-execution realm check of a step thread (src/isolation/realm-guard.ts): the comparison that
 * walks and compares as it goes (`realmIntact`) against taking a second snapshot and comparing the two
 * (`realmChange(before, snapshotRealm())`, what a thread did before). Alternating batches, medians.
 *
 *   node --import tsx bench/realm-check.ts [--batches 15]
 */
import { parseArgs } from 'node:util';
import { realmChange, realmIntact, snapshotRealm } from '../src/isolation/realm-guard';
import { fmt, median } from './support';

const { values } = parseArgs({ options: { batches: { type: 'string', default: '15' } } });
const BATCHES = Number(values.batches);
const PER_BATCH = 50;
const before = snapshotRealm();
if (!realmIntact(before) || realmChange(before, snapshotRealm()) !== null)
  throw new Error('the realm changed between two checks with nothing run');
const batch = (check: () => unknown) => {
  const t0 = performance.now();
  for (let i = 0; i < PER_BATCH; i++) check();
  return (performance.now() - t0) / PER_BATCH;
};
const snapshotThenCompare: number[] = [];
const compareWhileWalking: number[] = [];
batch(() => realmChange(before, snapshotRealm()));
batch(() => realmIntact(before));
for (let i = 0; i < BATCHES; i++) {
  snapshotThenCompare.push(batch(() => realmChange(before, snapshotRealm())));
  compareWhileWalking.push(batch(() => realmIntact(before)));
}
const a = median(snapshotThenCompare);
const b = median(compareWhileWalking);
process.stdout.write(`realm check of ${before.length} property entries, median of ${BATCHES} alternating batches of ${PER_BATCH}:\n`);
process.stdout.write(
  `  second snapshot, then compare (before): ${fmt(a, 3)} ms\n  compare while walking (now):           ${fmt(b, 3)} ms\n  now / before: ${fmt(b / a, 2)}×\n`,
);
