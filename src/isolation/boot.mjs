// Entry of a step thread. Module hooks registered in the main thread do not reach worker threads:
// register tsx here, so that `.ts` step files (and, in a clone, the engine's own TypeScript) load as in
// the main thread. The built package has the thread's code compiled beside this file.
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const built = new URL('./step-thread.js', import.meta.url);
await import(existsSync(built) ? built.href : './thread.ts');
