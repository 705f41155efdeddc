#!/usr/bin/env node
// The repository's own runner: the TypeScript sources through tsx, so there is no build to remember while
// working on whenflow (npm run demo and the tests use it). The published package's bin is dist/cli.js.
import { register } from 'tsx/esm/api';

register();
// `whenflow … | head` closes the pipe early; that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// A pipe takes 64 KiB at a time: what it has not taken yet waits in the stream's buffer, and exiting now
// would cut the output short. An empty write's callback runs once everything written before it is out.
const drained = (stream) => new Promise((resolve) => (stream.writableLength > 0 ? stream.write('', () => resolve()) : resolve()));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
// The Temporal runtime keeps native threads alive; exit explicitly once the command is done.
process.exit(code);
