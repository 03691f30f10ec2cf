/**
 * ErasureRows on MySQL through Prisma: what each erasure scope removes from the database, and the
 * residue scan that proves it. A workspace erasure deletes every row of the workspace but the
 * accounts (see ErasurePlan.keepAccounts), whose display names it clears. What "user" removes is
 * decided here too (README, "Erasure"):
 * - always: the user's conversations with every message in them, their messages in other
 *   conversations, their answer feedback, password-reset tokens, metered usage, their display
 *   name, the pictures they generated (Image rows, after the engine deleted their blobs); audit events keep the event and its pseudonymous user id (the hash chain covers it) but
 *   lose the IP address; settings they changed and sources and files
 *   they added keep working but no longer name them;
 * - with deleteAccount also the account: sessions, the credentials login (e-mail, password, TOTP),
 *   its login attempts and invitations, the membership and the User row. Without it they stay,
 *   because signing in needs them.
 */
import type { Database } from '../db/client';
import { blobNameOf } from '../knowledge/uploads';
import type { ErasurePlan, ErasureRows } from './erasurePorts';

type Where = { workspaceId: string };
interface Table {
  name: string;
  deleteMany(args: { where: Where }): Promise<{ count: number }>;
  count(args: { where: Where }): Promise<number>;
}

/** Every tenant-owned table, children before parents (a workspace erasure deletes them in this order). */
function workspaceTables(db: Database): Table[] {
  const t = (name: string, delegate: unknown) => ({ name, ...(delegate as Omit<Table, 'name'>) }) as Table;
  return [
    t('MessageFeedback', db.messageFeedback),
    t('Message', db.message),
    t('Conversation', db.conversation),
    t('UsageDaily', db.usageDaily),
    t('Session', db.session),
    t('PasswordResetToken', db.passwordResetToken),
    t('Credential', db.credential),
    t('Invitation', db.invitation),
    t('Membership', db.membership),
    t('AuditEvent', db.auditEvent),
    t('AuditChainHead', db.auditChainHead),
    t('Job', db.job),
    t('Document', db.document),
    t('Upload', db.upload),
    t('Image', db.image),
    t('KnowledgeSource', db.knowledgeSource),
    t('WorkspaceAssistantSettings', db.workspaceAssistantSettings),
    t('RetentionPolicy', db.retentionPolicy),
    t('UsageBudget', db.usageBudget),
    t('WorkspaceRoutingPolicy', db.workspaceRoutingPolicy),
    t('User', db.user),
    // Not tenant-owned (a failed login may name no workspace), but these rows name this one.
    t('LoginAttempt', db.loginAttempt),
  ];
}

/** The accounts a workspace erasure keeps unless the organisation leaves (ErasurePlan.keepAccounts). */
const ACCOUNT_TABLES = new Set(['Session', 'Credential', 'Membership', 'User']);


export function createPrismaErasureRows(db: Database): ErasureRows {
  const tables = workspaceTables(db);

  /** Row counts of the user scope, by table; the residue scan keeps those above zero. */
  async function userCounts(plan: ErasurePlan & { scope: { kind: 'user' } }): Promise<Record<string, number>> {
    const { workspaceId, userId, deleteAccount } = plan.scope;
    const mine = { workspaceId, userId };
    const counts: Record<string, number> = {
      Conversation: await db.conversation.count({ where: mine }),
      Message: await db.message.count({ where: { workspaceId, authorUserId: userId } }),
      MessageFeedback: await db.messageFeedback.count({ where: mine }),
      PasswordResetToken: await db.passwordResetToken.count({ where: mine }),
      UsageDaily: await db.usageDaily.count({ where: mine }),
      'AuditEvent.ip': await db.auditEvent.count({ where: { workspaceId, actorUserId: userId, ip: { not: null } } }),
      'RetentionPolicy.updatedByUserId': await db.retentionPolicy.count({ where: { workspaceId, updatedByUserId: userId } }),
      'WorkspaceAssistantSettings.updatedByUserId': await db.workspaceAssistantSettings.count({ where: { workspaceId, updatedByUserId: userId } }),
      'UsageBudget.updatedByUserId': await db.usageBudget.count({ where: { workspaceId, updatedByUserId: userId } }),
      'WorkspaceRoutingPolicy.updatedByUserId': await db.workspaceRoutingPolicy.count({ where: { workspaceId, updatedByUserId: userId } }),
      'KnowledgeSource.createdByUserId': await db.knowledgeSource.count({ where: { workspaceId, createdByUserId: userId } }),
      'Upload.uploadedByUserId': await db.upload.count({ where: { workspaceId, uploadedByUserId: userId } }),
      'User.displayName': await db.user.count({ where: { workspaceId, id: userId, displayName: { not: null } } }),
      // A row stays until its picture's blob is deleted, so a row left means a picture may be left.
      Image: await db.image.count({ where: mine }),
    };
    if (deleteAccount) {
      counts.User = await db.user.count({ where: { workspaceId, id: userId } });
      counts.Membership = await db.membership.count({ where: mine });
      counts.Credential = await db.credential.count({ where: mine });
      counts.Session = await db.session.count({ where: mine });
      if (plan.emailIndex) {
        counts.LoginAttempt = await db.loginAttempt.count({ where: { emailIndex: plan.emailIndex } });
        counts.Invitation = await db.invitation.count({ where: { workspaceId, emailIndex: plan.emailIndex } });
      }
    }
    return counts;
  }

  async function eraseUser(plan: ErasurePlan & { scope: { kind: 'user' } }): Promise<number> {
    const { workspaceId, userId, deleteAccount } = plan.scope;
    const mine = { workspaceId, userId };
    const conversations = (await db.conversation.findMany({ where: mine, select: { id: true } })).map((c) => c.id);
    const touched = [
      // Messages first, so the count says what went (their feedback follows by cascade).
      await db.message.deleteMany({ where: { workspaceId, conversationId: { in: conversations } } }),
      await db.conversation.deleteMany({ where: mine }),
      await db.message.deleteMany({ where: { workspaceId, authorUserId: userId } }),
      await db.messageFeedback.deleteMany({ where: mine }),
      await db.passwordResetToken.deleteMany({ where: mine }),
      // The hash chain covers the actor id and the IP's salted digest: the IP and its salt go, the
      // pseudonymous user id stays (with the account gone it names nobody), and the chain verifies.
      await db.auditEvent.updateMany({ where: { workspaceId, actorUserId: userId, ip: { not: null } }, data: { ip: null, ipSalt: null } }),
      await db.retentionPolicy.updateMany({ where: { workspaceId, updatedByUserId: userId }, data: { updatedByUserId: null } }),
      await db.workspaceAssistantSettings.updateMany({ where: { workspaceId, updatedByUserId: userId }, data: { updatedByUserId: null } }),
      await db.usageBudget.updateMany({ where: { workspaceId, updatedByUserId: userId }, data: { updatedByUserId: null } }),
      await db.workspaceRoutingPolicy.updateMany({ where: { workspaceId, updatedByUserId: userId }, data: { updatedByUserId: null } }),
      await db.knowledgeSource.updateMany({ where: { workspaceId, createdByUserId: userId }, data: { createdByUserId: null } }),
      await db.upload.updateMany({ where: { workspaceId, uploadedByUserId: userId }, data: { uploadedByUserId: null } }),
      await db.user.updateMany({ where: { workspaceId, id: userId, displayName: { not: null } }, data: { displayName: null } }),
    ];
    if (deleteAccount) {
      if (plan.emailIndex) {
        touched.push(await db.loginAttempt.deleteMany({ where: { emailIndex: plan.emailIndex } }));
        touched.push(await db.invitation.deleteMany({ where: { workspaceId, emailIndex: plan.emailIndex } }));
      }
      // The User row last: its cascades (membership, credential, sessions, usage) are then empty.
      touched.push(await db.session.deleteMany({ where: mine }));
      touched.push(await db.credential.deleteMany({ where: mine }));
      touched.push(await db.membership.deleteMany({ where: mine }));
      touched.push(await db.usageDaily.deleteMany({ where: mine }));
      touched.push(await db.user.deleteMany({ where: { workspaceId, id: userId } }));
    }
    return touched.reduce((n, r) => n + r.count, 0);
  }

  return {
    async plan(scope) {
      const workspace = await db.workspace.findUnique({ where: { id: scope.workspaceId }, select: { tenantId: true } });
      if (!workspace) return undefined;
      const base = { tenantId: workspace.tenantId, documentIds: [] as string[], blobNames: [] as string[] };
      switch (scope.kind) {
        case 'workspace':
          return base;
        case 'conversation':
          return (await db.conversation.count({ where: { workspaceId: scope.workspaceId, id: scope.conversationId } })) > 0 ? base : undefined;
        case 'upload': {
          const upload = await db.upload.findFirst({ where: { workspaceId: scope.workspaceId, id: scope.uploadId }, select: { documentId: true } });
          if (!upload) return undefined;
          return { ...base, documentIds: upload.documentId ? [upload.documentId] : [], blobNames: [blobNameOf(scope.uploadId)] };
        }
        case 'conversations':
          return (await db.conversation.count({ where: { workspaceId: scope.workspaceId, id: { in: scope.conversationIds } } })) > 0 ? base : undefined;
        case 'uploads': {
          const uploads = await db.upload.findMany({ where: { workspaceId: scope.workspaceId, id: { in: scope.uploadIds } }, select: { id: true, documentId: true } });
          if (!uploads.length) return undefined;
          return { ...base, documentIds: uploads.flatMap((u) => (u.documentId ? [u.documentId] : [])), blobNames: uploads.map((u) => blobNameOf(u.id)) };
        }
        case 'user': {
          const user = await db.user.findFirst({ where: { workspaceId: scope.workspaceId, id: scope.userId }, select: { entraObjectId: true } });
          if (!user) return undefined;
          const credential = await db.credential.findFirst({ where: { workspaceId: scope.workspaceId, userId: scope.userId }, select: { emailIndex: true } });
          return { ...base, ...(user.entraObjectId ? { entraObjectId: user.entraObjectId } : {}), ...(credential ? { emailIndex: credential.emailIndex } : {}) };
        }
      }
    },

    async eraseRows(plan) {
      const { scope } = plan;
      const workspaceId = scope.workspaceId;
      switch (scope.kind) {
        case 'workspace': {
          let removed = 0;
          for (const table of tables) {
            if (plan.keepAccounts && ACCOUNT_TABLES.has(table.name)) continue;
            removed += (await table.deleteMany({ where: { workspaceId } })).count;
          }
          if (plan.keepAccounts) removed += (await db.user.updateMany({ where: { workspaceId, displayName: { not: null } }, data: { displayName: null } })).count;
          return removed;
        }
        case 'conversation':
          return (
            (await db.message.deleteMany({ where: { workspaceId, conversationId: scope.conversationId } })).count +
            (await db.conversation.deleteMany({ where: { workspaceId, id: scope.conversationId } })).count
          );
        case 'upload':
          return (
            (await db.upload.deleteMany({ where: { workspaceId, id: scope.uploadId } })).count +
            (await db.document.deleteMany({ where: { workspaceId, id: { in: plan.documentIds } } })).count
          );
        case 'conversations':
          return (
            (await db.message.deleteMany({ where: { workspaceId, conversationId: { in: scope.conversationIds } } })).count +
            (await db.conversation.deleteMany({ where: { workspaceId, id: { in: scope.conversationIds } } })).count
          );
        case 'uploads':
          return (
            (await db.upload.deleteMany({ where: { workspaceId, id: { in: scope.uploadIds } } })).count +
            (await db.document.deleteMany({ where: { workspaceId, id: { in: plan.documentIds } } })).count
          );
        case 'user':
          return eraseUser(plan as ErasurePlan & { scope: { kind: 'user' } });
      }
    },

    async imagesOf(plan) {
      const { scope } = plan;
      if (scope.kind !== 'user') return [];
      return db.image.findMany({ where: { workspaceId: scope.workspaceId, userId: scope.userId }, select: { id: true, blobKey: true }, orderBy: { createdAt: 'asc' } });
    },

    async forgetImages(plan, imageIds) {
      if (!imageIds.length) return 0;
      return (await db.image.deleteMany({ where: { workspaceId: plan.scope.workspaceId, id: { in: imageIds } } })).count;
    },

    async eraseUsage(plan) {
      const { scope } = plan;
      if (scope.kind === 'workspace') return (await db.usageDaily.deleteMany({ where: { workspaceId: scope.workspaceId } })).count;
      if (scope.kind === 'user') return (await db.usageDaily.deleteMany({ where: { workspaceId: scope.workspaceId, userId: scope.userId } })).count;
      return 0;
    },

    async residue(plan) {
      const { scope } = plan;
      const workspaceId = scope.workspaceId;
      let counts: Record<string, number>;
      switch (scope.kind) {
        case 'workspace':
          counts = {};
          for (const table of tables) if (!(plan.keepAccounts && (ACCOUNT_TABLES.has(table.name) || table.name === 'AuditChainHead'))) counts[table.name] = await table.count({ where: { workspaceId } });
          // Kept accounts keep using the workspace while it is erased: their API requests start a new
          // audit chain, which is new data, not residue of what was erased.
          if (plan.keepAccounts) counts.AuditEvent = await db.auditEvent.count({ where: { workspaceId, NOT: { kind: 'api.request' } } });
          if (plan.keepAccounts) counts['User.displayName'] = await db.user.count({ where: { workspaceId, displayName: { not: null } } });
          break;
        case 'conversation':
          counts = {
            Conversation: await db.conversation.count({ where: { workspaceId, id: scope.conversationId } }),
            Message: await db.message.count({ where: { workspaceId, conversationId: scope.conversationId } }),
          };
          break;
        case 'upload':
          counts = {
            Upload: await db.upload.count({ where: { workspaceId, id: scope.uploadId } }),
            Document: await db.document.count({ where: { workspaceId, id: { in: plan.documentIds } } }),
          };
          break;
        case 'conversations':
          counts = {
            Conversation: await db.conversation.count({ where: { workspaceId, id: { in: scope.conversationIds } } }),
            Message: await db.message.count({ where: { workspaceId, conversationId: { in: scope.conversationIds } } }),
          };
          break;
        case 'uploads':
          counts = {
            Upload: await db.upload.count({ where: { workspaceId, id: { in: scope.uploadIds } } }),
            Document: await db.document.count({ where: { workspaceId, id: { in: plan.documentIds } } }),
          };
          break;
        case 'user':
          counts = await userCounts(plan as ErasurePlan & { scope: { kind: 'user' } });
          break;
      }
      return Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([table, n]) => `${table}: ${n}`);
    },
  };
}
