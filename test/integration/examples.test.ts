import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { whenflow } from '../support/cli';

/** Every workspace under examples/ runs on its own: its scenario tests pass with `whenflow test -w examples/<name>`. */
const examples = readdirSync(join(import.meta.dirname, '..', '..', 'examples'), { withFileTypes: true }).filter((entry) =>
  entry.isDirectory(),
);

describe('examples/', () => {
  it('holds at least one workspace', () => {
    expect(examples.length).toBeGreaterThan(0);
  });
  for (const example of examples) {
    it(`${example.name}: its scenarios pass`, async () => {
      const result = await whenflow(['test', '-w', join('examples', example.name)]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/\d+ passed, 0 failed/);
    }, 180_000);
  }
});
