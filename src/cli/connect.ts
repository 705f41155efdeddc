import { connectToServer, settingsFromEnvironment, type TemporalSession } from '../temporal/server';

/** Where `whenflow dev` serves by default, and where task commands look when TEMPORAL_ADDRESS is unset. */
export const DEV_SERVER_ADDRESS = 'localhost:7233';

/** A connection for commands that act on existing tasks: TEMPORAL_ADDRESS, else the local `whenflow dev` server. */
export function connectForCommands(): Promise<TemporalSession> {
  return connectToServer(
    settingsFromEnvironment() ?? {
      address: DEV_SERVER_ADDRESS,
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      source: 'the local dev server, as TEMPORAL_ADDRESS is not set',
      hint: 'start one with `whenflow dev` in your workspace (in another terminal), or set TEMPORAL_ADDRESS to your Temporal service',
      // A local server that is not running refuses at once; no reason to wait for the SDK's 10 s.
      connectTimeoutMs: 3000,
    },
  );
}

/** Runs `fn` with a session and always closes it. */
export async function withSession<T>(fn: (session: TemporalSession) => Promise<T>): Promise<T> {
  const session = await connectForCommands();
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
