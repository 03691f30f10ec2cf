/**
 * Turn limits: how many assistant turns one user, and one workspace, may start per minute. The
 * counters are shared by every replica (api/operations/sharedCounters.ts), so a user spreading
 * turns over replicas meets the same limit. A turn over the limit fails with `turn_rate_limited`
 * (429 with Retry-After over HTTP, a short text in Teams) before anything is stored or sent out.
 */
import { fail } from '../errors';

export interface TurnLimiter {
  /** Throws `turn_rate_limited` (with retryAfterSeconds) when the user or workspace is over its limit. */
  admit(principal: { workspaceId: string; userId: string }): Promise<void>;
}

export interface Counter {
  hit(key: string): Promise<number | undefined>;
}

export function createTurnLimiter(counters: { perUser?: Counter; perWorkspace?: Counter }): TurnLimiter {
  return {
    async admit(principal) {
      const waits = await Promise.all([counters.perUser?.hit(`${principal.workspaceId}:${principal.userId}`), counters.perWorkspace?.hit(principal.workspaceId)]);
      const wait = Math.max(...waits.map((w) => w ?? 0));
      if (wait > 0) fail('turn_rate_limited', `over the ${waits[0] ? 'user' : 'workspace'} turn limit`, { retryAfterSeconds: wait });
    },
  };
}

/** No limits (TURNS_PER_*_PER_MINUTE=0, or callers built without one). */
export const NO_TURN_LIMIT: TurnLimiter = { admit: async () => undefined };
