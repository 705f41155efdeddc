/**
 * A phase log for start-up work: with WHENFLOW_TIMINGS=1, each call writes one line to stderr with the
 * milliseconds since the process started (stdout stays the command's own).
 */
const enabled = process.env.WHENFLOW_TIMINGS === '1';

export function phase(name: string): void {
  if (enabled) process.stderr.write(`whenflow timings: ${performance.now().toFixed(0).padStart(6)} ms  ${name}\n`);
}
