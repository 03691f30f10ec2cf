/**
 * ExportRecords on MySQL through Prisma. Every query names its workspace (the tenant guard checks
 * it); a user filter narrows to rows about that user. Secrets are never selected: no password
 * hashes, TOTP secrets, recovery codes, encrypted email, session or token rows, no source sync
 * state, and the admin's assistant instructions only as whether they are set and their length.
 */
import type { Database } from '../db/client';
import type { ExportConversation, ExportImage, ExportRecords, ExportRow, ExportUpload } from './exportPorts';

/** JSON-ready: dates as ISO strings, BigInt counters as decimal strings. */
function plain<T extends object>(row: T): ExportRow {
  const out: ExportRow = {};
  for (const [key, value] of Object.entries(row)) out[key] = value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? value.toString() : value;
  return out;
}

const IN_CHUNK = 500;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += IN_CHUNK) out.push(items.slice(i, i + IN_CHUNK));
  return out;
}

export function createPrismaExportRecords(db: Database): ExportRecords {
  return {
    async workspace(workspaceId) {
      const row = await db.workspace.findUnique({ where: { id: workspaceId }, select: { id: true, name: true, tenantId: true, credentialsLogin: true, createdAt: true, updatedAt: true } });
      return row ? plain(row) : undefined;
    },

    async members({ workspaceId, userId }) {
      const users = await db.user.findMany({ where: { workspaceId, ...(userId ? { id: userId } : {}) }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      const memberships = await db.membership.findMany({ where: { workspaceId, ...(userId ? { userId } : {}) }, select: { userId: true, role: true, roleOverride: true, createdAt: true, updatedAt: true } });
      const logins = await db.credential.findMany({ where: { workspaceId, ...(userId ? { userId } : {}) }, select: { userId: true, passwordChangedAt: true, totpEnabledAt: true, createdAt: true } });
      return users.map((user) => {
        const login = logins.find((l) => l.userId === user.id);
        return {
          ...plain(user),
          memberships: memberships.filter((m) => m.userId === user.id).map(({ userId: _userId, ...m }) => plain(m)),
          credentialsLogin: login ? { createdAt: login.createdAt.toISOString(), passwordChangedAt: login.passwordChangedAt.toISOString(), totpEnabled: login.totpEnabledAt !== null } : null,
        };
      });
    },

    async conversations({ workspaceId, userId }) {
      const conversations = await db.conversation.findMany({ where: { workspaceId, ...(userId ? { userId } : {}) }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      const byConversation = new Map<string, ExportRow[]>(conversations.map((c) => [c.id, []]));
      for (const ids of chunks(conversations.map((c) => c.id))) {
        const messages = await db.message.findMany({ where: { workspaceId, conversationId: { in: ids } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
        for (const message of messages) byConversation.get(message.conversationId)!.push(plain(message));
      }
      return conversations.map((c): ExportConversation => ({ ...plain(c), id: c.id, messages: byConversation.get(c.id)! }));
    },

    async feedback({ workspaceId, userId }) {
      return (await db.messageFeedback.findMany({ where: { workspaceId, ...(userId ? { userId } : {}) }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map(plain);
    },

    async usage({ workspaceId, userId }) {
      const rows = await db.usageDaily.findMany({ where: { workspaceId, ...(userId ? { userId } : {}) }, orderBy: [{ day: 'asc' }, { id: 'asc' }] });
      return rows.map((row) => ({ ...plain(row), day: row.day.toISOString().slice(0, 10) }));
    },

    async uploads({ workspaceId, userId }) {
      const rows = await db.upload.findMany({ where: { workspaceId, ...(userId ? { uploadedByUserId: userId } : {}) }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      return rows.map((row): ExportUpload => ({ ...plain(row), id: row.id, fileName: row.fileName }));
    },

    async images({ workspaceId, userId }) {
      const rows = await db.image.findMany({ where: { workspaceId, ...(userId ? { userId } : {}) }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      return rows.map((row): ExportImage => ({ ...plain(row), id: row.id, blobKey: row.blobKey }));
    },

    async sources(workspaceId) {
      const rows = await db.knowledgeSource.findMany({
        where: { workspaceId },
        select: { id: true, kind: true, driveId: true, folderId: true, displayName: true, schedule: true, lastSyncAt: true, nextSyncAt: true, createdByUserId: true, createdAt: true, updatedAt: true },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      return rows.map(plain);
    },

    async documents(workspaceId) {
      return (await db.document.findMany({ where: { workspaceId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map(plain);
    },

    async settings(workspaceId) {
      const retention = await db.retentionPolicy.findFirst({ where: { workspaceId } });
      const budget = await db.usageBudget.findFirst({ where: { workspaceId } });
      const assistant = await db.workspaceAssistantSettings.findFirst({ where: { workspaceId } });
      return {
        retentionPolicy: retention ? plain(retention) : null,
        usageBudget: budget ? plain(budget) : null,
        assistant: assistant
          ? { ...plain({ ...assistant, instructions: undefined }), instructions: { set: assistant.instructions !== null, chars: assistant.instructions?.length ?? 0 } }
          : null,
      };
    },

    async auditEvents(workspaceId) {
      return (await db.auditEvent.findMany({ where: { workspaceId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map(plain);
    },
  };
}
