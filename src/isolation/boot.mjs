// Entry of a step thread. Module hooks registered in the main thread do not reach worker threads:
// register tsx here, so that the engine's TypeScript and `.ts` step files load as in the main thread.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
