/**
 * SweepLock on MariaDB/MySQL: a named lock (`GET_LOCK('kluis_sweeper', 0)`) held on a connection of
 * its own for the length of one sweep.
 *
 * Named locks belong to the connection that took them, so the lock cannot ride on the Prisma pool
 * (a pooled query may run on any connection). A timeout of 0 makes a second replica skip its tick
 * at once instead of queueing behind the first. When the holder dies, its connection closes and the
 * server releases the lock: a crashed sweep never blocks the next one. Named locks are per server,
 * so every replica must use the same primary database.
 */
import mariadb from 'mariadb';
import { connectionOptions } from '../db/migrate';
import { fail } from '../errors';
import type { SweepLock } from './sweeper';

export const SWEEPER_LOCK_NAME = 'kluis_sweeper';

export function createMariadbSweepLock(databaseUrl: string, name = SWEEPER_LOCK_NAME): SweepLock {
  return {
    async runExclusive(work) {
      let connection: mariadb.Connection;
      try {
        connection = await mariadb.createConnection(connectionOptions(databaseUrl));
      } catch (cause) {
        return fail('store_unavailable', 'The database could not be reached to take the sweeper lock', { cause });
      }
      try {
        const [row] = (await connection.query('SELECT GET_LOCK(?, 0) AS got', [name])) as Array<{ got: number | bigint | null }>;
        if (Number(row?.got) !== 1) return { ran: false };
        try {
          return { ran: true, result: await work() };
        } finally {
          await connection.query('SELECT RELEASE_LOCK(?)', [name]);
        }
      } finally {
        await connection.end();
      }
    },
  };
}
