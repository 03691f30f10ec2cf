/**
 * UsageStore on MySQL through Prisma.
 *
 * Adding to a day's row is an atomic `UPDATE ... SET calls = calls + 1, ...` on the unique key
 * (workspace, user, day, provider, model); only when no row exists yet is one inserted. Two
 * processes that insert the first row of a day at once collide on that unique key: the loser
 * gets P2002 and applies its increment as an update instead, so no call is lost or counted twice.
 * Everything goes through the tenant guard (no raw SQL).
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client';
import type { UsageStore } from './usagePorts';

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === 'P2002';

/** `YYYY-MM-DD` as the Date Prisma writes to a DATE column (UTC midnight). */
const asDate = (day: string) => new Date(`${day}T00:00:00.000Z`);

export function createPrismaUsageStore(db: Database): UsageStore {
  return {
    async add(i) {
      const key = { workspaceId: i.workspaceId, userId: i.userId, day: asDate(i.day), provider: i.provider, model: i.model };
      const increments = {
        calls: { increment: i.calls },
        failedCalls: { increment: i.failedCalls },
        refusedCalls: { increment: i.refusedCalls },
        inputTokens: { increment: BigInt(i.inputTokens) },
        outputTokens: { increment: BigInt(i.outputTokens) },
        latencyMsTotal: { increment: BigInt(i.latencyMs) },
        costMicros: { increment: BigInt(i.costMicros) },
        unpricedCalls: { increment: i.unpricedCalls },
      };
      const updated = await db.usageDaily.updateMany({ where: key, data: increments });
      if (updated.count > 0) return;
      try {
        await db.usageDaily.create({
          data: {
            id: randomUUID(),
            ...key,
            calls: i.calls,
            failedCalls: i.failedCalls,
            refusedCalls: i.refusedCalls,
            inputTokens: BigInt(i.inputTokens),
            outputTokens: BigInt(i.outputTokens),
            latencyMsTotal: BigInt(i.latencyMs),
            costMicros: BigInt(i.costMicros),
            unpricedCalls: i.unpricedCalls,
          },
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Another process created the row between our update and insert: add to it.
        await db.usageDaily.updateMany({ where: key, data: increments });
      }
    },

    async rows(workspaceId, fromDay, toDay) {
      const rows = await db.usageDaily.findMany({
        where: { workspaceId, day: { gte: asDate(fromDay), lt: asDate(toDay) } },
        orderBy: [{ day: 'asc' }, { userId: 'asc' }, { provider: 'asc' }, { model: 'asc' }],
      });
      return rows.map((r) => ({
        userId: r.userId,
        day: r.day.toISOString().slice(0, 10),
        provider: r.provider,
        model: r.model,
        calls: r.calls,
        failedCalls: r.failedCalls,
        refusedCalls: r.refusedCalls,
        inputTokens: Number(r.inputTokens),
        outputTokens: Number(r.outputTokens),
        latencyMsTotal: Number(r.latencyMsTotal),
        costMicros: Number(r.costMicros),
        unpricedCalls: r.unpricedCalls,
      }));
    },

    async spentMicros(workspaceId, fromDay, toDay) {
      const total = await db.usageDaily.aggregate({ where: { workspaceId, day: { gte: asDate(fromDay), lt: asDate(toDay) } }, _sum: { costMicros: true } });
      return Number(total._sum.costMicros ?? 0n);
    },

    async budget(workspaceId) {
      const row = await db.usageBudget.findUnique({ where: { workspaceId } });
      return row ? { monthlyLimitCents: row.monthlyLimitCents, updatedByUserId: row.updatedByUserId ?? undefined, updatedAt: row.updatedAt } : { monthlyLimitCents: null };
    },

    async setBudget(workspaceId, monthlyLimitCents, updatedByUserId) {
      try {
        await db.usageBudget.upsert({ where: { workspaceId }, create: { workspaceId, monthlyLimitCents, updatedByUserId }, update: { monthlyLimitCents, updatedByUserId } });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Two admins set the first budget at once: the later write wins, as it would on an update.
        await db.usageBudget.update({ where: { workspaceId }, data: { monthlyLimitCents, updatedByUserId } });
      }
    },
  };
}
