// The `whenflow` command of the installed package (compiled to dist/cli.js).
import { main } from './main';

// `whenflow … | head` closes the pipe early; that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
// The Temporal runtime keeps native threads alive; exit explicitly once the command is done.
process.exit(await main(process.argv.slice(2)));
