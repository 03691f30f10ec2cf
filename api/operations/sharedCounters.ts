/**
 * Counters every replica must share (turn limits): Redis when REDIS_URL is set, else the database's
 * `RateLimiterFlexible` table, both through rate-limiter-flexible so the counting rules are one.
 * With Redis, a Redis outage falls back to a per-replica memory counter (the insurance limiter)
 * instead of refusing every turn: limits loosen for the outage, nobody is locked out by it.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterPrisma, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from '../db/client';

export interface WindowCounter {
  /**
   * Counts one event for `key`; resolves with `undefined` while within the limit, or with the
   * seconds to wait once over it (the event is still counted, so hammering does not help).
   */
  hit(key: string): Promise<number | undefined>;
}

export interface CounterWindow {
  /** Distinguishes counters in the shared store. */
  name: string;
  /** Events allowed per window. */
  limit: number;
  windowSeconds: number;
}

export type SharedCounterStore = { kind: 'redis'; client: Redis } | { kind: 'database'; db: Database };

export function createWindowCounter(store: SharedCounterStore, window: CounterWindow): WindowCounter {
  const common = { keyPrefix: `kluis:${window.name}`, points: window.limit, duration: window.windowSeconds };
  const limiter: RateLimiterAbstract =
    store.kind === 'redis'
      ? new RateLimiterRedis({ ...common, storeClient: store.client, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(common) })
      : new RateLimiterPrisma({ ...common, storeClient: store.db, tableName: 'rateLimiterFlexible', clearExpiredByTimeout: false });
  const consume = async (key: string): Promise<number | undefined> => {
    try {
      await limiter.consume(key, 1);
      return undefined;
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) return Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
      throw outcome;
    }
  };
  return {
    async hit(key) {
      try {
        return await consume(key);
      } catch (error) {
        // Two replicas creating the same key's first row at once: one insert loses on the unique
        // key; the row exists now, so counting again increments it.
        if (store.kind === 'database' && (error as { code?: string }).code === 'P2002') return consume(key);
        throw error;
      }
    },
  };
}
