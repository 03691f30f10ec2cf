/** The Prisma client over the MariaDB driver adapter, wrapped by the tenant guard. */
import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { PrismaClient } from './generated/client';
import { connectionOptions } from './migrate';
import { guardTenantScope } from './tenantGuard';

export function createDatabase(url: string, poolSize = 10) {
  const adapter = new PrismaMariaDb({ ...connectionOptions(url), connectionLimit: poolSize });
  const prisma = new PrismaClient({ adapter });
  return guardTenantScope(prisma);
}

export type Database = ReturnType<typeof createDatabase>;
