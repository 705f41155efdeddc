#!/usr/bin/env node
// Runs the TypeScript sources directly (through tsx), so there is no build step to remember.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
// The Temporal runtime keeps native threads alive; exit explicitly once the command is done.
process.exit(await main(process.argv.slice(2)));
