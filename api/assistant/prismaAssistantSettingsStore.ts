/** AssistantSettingsStore on MySQL through Prisma: one row per workspace, none for the defaults. */
import type { Database } from '../db/client';
import type { AssistantSettingsStore } from './settings';

export function createPrismaAssistantSettingsStore(db: Database): AssistantSettingsStore {
  return {
    async find(workspaceId) {
      const row = await db.workspaceAssistantSettings.findUnique({ where: { workspaceId } });
      if (!row) return undefined;
      return {
        instructions: row.instructions ?? undefined,
        maxTurns: row.maxTurns,
        maxTurnChars: row.maxTurnChars,
        maxPassages: row.maxPassages,
        maxPassageChars: row.maxPassageChars,
        updatedAt: row.updatedAt,
        updatedByUserId: row.updatedByUserId ?? undefined,
      };
    },
    async save(workspaceId, s) {
      const data = { instructions: s.instructions ?? null, maxTurns: s.maxTurns, maxTurnChars: s.maxTurnChars, maxPassages: s.maxPassages, maxPassageChars: s.maxPassageChars, updatedByUserId: s.updatedByUserId };
      await db.workspaceAssistantSettings.upsert({ where: { workspaceId }, create: { workspaceId, ...data }, update: data });
    },
  };
}
