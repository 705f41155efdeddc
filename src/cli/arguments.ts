import { UsageError } from './errors';

/** `--sequence a,b,c`: step names in order, none empty. */
export function parseStepList(value: string): string[] {
  const names = value.split(',').map((name) => name.trim());
  if (names.some((name) => name === '')) throw new UsageError(`--sequence takes step names separated by commas; got "${value}"`);
  return names;
}

export function parsePositiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a whole number ≥ 1, got "${value}"`);
    return n;
  };
}

/** Port of `whenflow webhook` (and of the receiver `whenflow dev` starts) when none is given. */
export const DEFAULT_WEBHOOK_PORT = 8787;
