/**
 * Regular expressions in conditions: the linear-time engine against JavaScript's own, same process.
 *
 *   node --import tsx bench/regexp-conditions.ts
 *
 * The pattern `/^([A-Z0-9]+-?)+$/` on n letters followed by `!` (a near miss): JavaScript's backtracking
 * engine doubles its time with every letter, the condition (RE2, src/conditions/safe-regexp.ts) stays
 * flat. n stops at 24 for the native engine (about a second there); the condition is also measured on
 * 32 letters (the data of the hardening issue) and on 1 MB. Prints times and ratios; asserts nothing.
 */
import { compileCondition, createMatcher } from '../src/conditions';

const PATTERN = /^([A-Z0-9]+-?)+$/;
const matcher = createMatcher(compileCondition({ sku: PATTERN }));

function timeMs(run: () => unknown, repeat = 1): number {
  const start = performance.now();
  for (let i = 0; i < repeat; i++) run();
  return (performance.now() - start) / repeat;
}

console.log('letters  native ms   condition ms   native / condition');
for (const n of [16, 18, 20, 22, 24]) {
  const sku = `${'A'.repeat(n)}!`;
  const native = timeMs(() => PATTERN.test(sku));
  const condition = timeMs(() => matcher({ sku }), 50);
  console.log(
    `${String(n).padStart(7)}  ${native.toFixed(2).padStart(9)}   ${condition.toFixed(4).padStart(12)}   ${(native / condition).toFixed(0).padStart(18)}`,
  );
}
const hostile = `${'A'.repeat(32)}!`;
console.log(
  `32 letters (the issue's data), condition: ${timeMs(() => matcher({ sku: hostile }), 50).toFixed(4)} ms (native: about 2^8 × the 24-letter time)`,
);
const large = `${'AB-'.repeat(350_000)}!`;
console.log(`1 MB near miss, condition: ${timeMs(() => matcher({ sku: large }), 3).toFixed(1)} ms`);
