/** Resolves on the first SIGINT/SIGTERM, so a long-running command can shut its parts down in order. */
export function interrupted(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
