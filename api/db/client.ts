/** The Prisma client over the MariaDB driver adapter, wrapped by the tenant guard. */
import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { fail } from '../errors';
import { PrismaClient } from './generated/client';
import { connectionOptions } from './migrate';
import { guardTenantScope } from './tenantGuard';

export function createDatabase(url: string, poolSize = 10) {
  const adapter = new PrismaMariaDb({ ...connectionOptions(url), connectionLimit: poolSize });
  const prisma = new PrismaClient({ adapter });
  return guardTenantScope(reportLostConnections(prisma));
}

export type Database = ReturnType<typeof createDatabase>;

/** Prisma's codes for a database it cannot reach, that closed the connection or timed out. */
const CONNECTION_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017']);
/**
 * Driver errnos that mean the server is gone, not that the query was wrong: the server shutting
 * down (1053) or killing the connection (1927), and the mariadb connector's own connection errors
 * (closed or unexpectedly ended socket, connect or socket timeout, no connection from the pool).
 */
const CONNECTION_ERRNOS = new Set([1053, 1927, 45001, 45009, 45012, 45013, 45019, 45026, 45028, 45061]);

/** Whether a Prisma error says the database could not be reached (rather than a query being wrong). */
export function isConnectionLoss(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const e = error as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } } };
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  const cause = e.meta?.driverAdapterError?.cause;
  if (cause?.kind === 'DatabaseNotReachable' || cause?.kind === 'ConnectionClosed' || cause?.kind === 'SocketTimeout') return true;
  return cause?.kind === 'mysql' && typeof cause.code === 'number' && CONNECTION_ERRNOS.has(cause.code);
}

/**
 * A database that is down surfaces as the catalogue's `store_unavailable` (503, "A data store is
 * unavailable."), so channels answer with a clear message instead of an internal error; the pool
 * reconnects by itself once the server answers again.
 */
function reportLostConnections(prisma: PrismaClient) {
  return prisma.$extends({
    name: 'connection-loss',
    query: {
      async $allOperations({ model, operation, args, query }) {
        try {
          return await query(args);
        } catch (error) {
          if (isConnectionLoss(error)) fail('store_unavailable', `database unreachable during ${model ?? 'raw'}.${operation}: ${(error as Error).message.replace(/\s+/g, ' ').slice(-300)}`, { cause: error });
          throw error;
        }
      },
    },
  }) as unknown as PrismaClient;
}
