/**
 * Login throttling with growing waits (OWASP Authentication Cheat Sheet, "Login Throttling";
 * NIST SP 800-63B 5.2.2 "Rate Limiting"). Two dimensions: the account tried (one account attacked
 * from many IPs) and the IP (many accounts tried from one IP). After the free attempts, each
 * further failure doubles the wait, up to a maximum. Counters live in the shared database
 * (rate-limiter-flexible's Prisma store), so every replica sees the same numbers. The account key
 * is the email's blind index, so unknown and known addresses are throttled alike and the limiter
 * itself never reveals which accounts exist.
 */
import { RateLimiterPrisma } from 'rate-limiter-flexible';
import type { LoginThrottle, ThrottleKeys } from './ports';

export interface LoginThrottleOptions {
  freeAttemptsPerAccount: number;
  freeAttemptsPerIp: number;
  maxWaitSeconds: number;
  /** How long failures are remembered. */
  windowSeconds?: number;
}

type PrismaLike = object;

export function createLoginThrottle(prisma: PrismaLike, options: LoginThrottleOptions): LoginThrottle {
  const windowSeconds = options.windowSeconds ?? 24 * 3600;
  const make = (keyPrefix: string, points: number, duration: number) => new RateLimiterPrisma({ storeClient: prisma, tableName: 'rateLimiterFlexible', keyPrefix, points, duration, clearExpiredByTimeout: false });
  const failures = make('login_fail', 1_000_000, windowSeconds);
  const blocks = make('login_block', 1, windowSeconds);
  const dimensions = (keys: ThrottleKeys) => [
    { key: `acct:${keys.account}`, free: options.freeAttemptsPerAccount },
    { key: `ip:${keys.ip}`, free: options.freeAttemptsPerIp },
  ];
  const waitFor = (failed: number, free: number) => (failed <= free ? 0 : Math.min(options.maxWaitSeconds, 2 ** (failed - free - 1)));

  return {
    async waitSeconds(keys) {
      let wait = 0;
      for (const { key } of dimensions(keys)) {
        const block = await blocks.get(key);
        if (block && block.consumedPoints > 1 && block.msBeforeNext > 0) wait = Math.max(wait, Math.ceil(block.msBeforeNext / 1000));
      }
      return wait;
    },
    async recordFailure(keys) {
      for (const { key, free } of dimensions(keys)) {
        const res = await failures.penalty(key, 1);
        const wait = waitFor(res.consumedPoints, free);
        if (wait > 0) await blocks.block(key, wait);
      }
    },
    async recordSuccess(keys) {
      const account = `acct:${keys.account}`;
      await failures.delete(account);
      await blocks.delete(account);
    },
  };
}
