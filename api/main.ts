/**
 * The composition root: config -> adapters -> domain modules -> HTTP app and bot endpoint.
 * Nothing else in Kluis constructs adapters; tests build the same graph through startKluis with
 * their own Config.
 */
import { instrumentJobQueue } from './operations/jobs/instrumented';
import type { JobQueue } from './operations/jobs/ports';
import { createJobQueue } from './operations/jobs/createJobQueue';
import { Redis } from 'ioredis';
import { createTurnLimiter } from './assistant/turnLimiter';
import { createWindowCounter, type SharedCounterStore } from './operations/sharedCounters';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { createAssistant, type Assistant } from './assistant/assistant';
import type { ImageProvider } from './assistant/ports';
import { createPrismaConversationStore } from './assistant/prismaConversationStore';
import { createExtractiveProvider } from './assistant/providers/extractiveProvider';
import { createOpenAiProvider } from './assistant/providers/openaiProvider';
import { createAnthropicProvider } from './assistant/providers/anthropicProvider';
import { createAzureOpenAiProvider } from './assistant/providers/azureOpenAiProvider';
import { createGeminiProvider } from './assistant/providers/geminiProvider';
import { createPerplexityProvider } from './assistant/providers/perplexityProvider';
import { createStabilityImageProvider } from './assistant/providers/stabilityImageProvider';
import { catalogueOf, createRouter, createWorkspaceRouting, type ProviderCatalogue, type ProviderName } from './assistant/routing';
import { createRoutingPolicies, type RoutingPolicies } from './assistant/routingPolicy';
import { createPrismaRoutingPolicyStore } from './assistant/prismaRoutingPolicyStore';
import { routingRouter } from './http/routes/routing';
import { createPrismaAuditLog } from './audit/prismaAuditLog';
import { createAuditTrail } from './audit/auditTrail';
import { createPrismaAuditEventReader } from './audit/prismaAuditEventReader';
import { createRetentionPolicies, type RetentionPolicies } from './privacy/retentionPolicy';
import { createPrismaRetentionPolicyStore } from './privacy/prismaRetentionPolicyStore';
import { createEraser, type ErasureEngine } from './privacy/erasure';
import { createErasureRequests } from './privacy/erasureRequests';
import { createErasureRunner, type ErasureRunner } from './privacy/erasureRunner';
import { createPrismaErasureJobStore } from './privacy/prismaErasureJobs';
import { createPrismaErasureRows } from './privacy/prismaErasureRows';
import { erasureRouter } from './http/routes/erasure';
import type { BlobStore } from './files/ports';
import { createRetentionSweeper, type RetentionSweeper } from './privacy/sweeper';
import { createPrismaSweeperSelection } from './privacy/prismaSweeperSelection';
import { createMariadbSweepLock } from './privacy/prismaSweeperLock';
import { retentionSweepRouter } from './http/routes/retentionSweep';
import { createExports, type Exports } from './privacy/export';
import { createPrismaExportJobStore } from './privacy/prismaExportJobs';
import { createPrismaExportRecords } from './privacy/prismaExportRecords';
import { createZipArchive } from './privacy/exportZip';
import { exportRouter } from './http/routes/export';
import type { Config } from './config';
import { createDatabase, type Database } from './db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from './db/embeddedMariadb';
import { migrateDatabase } from './db/migrate';
import { fail, isKluisError } from './errors';
import { createEncryptedFolderStore } from './files/encryptedFolderStore';
import { createMinioStore } from './files/minioStore';
import { createSealedBlobStore } from './files/sealedBlobStore';
import { createWorkspaceDataKeys, type WorkspaceDataKeyService } from './privacy/dataKeys';
import { openDataKeyEncryptionKeys } from './privacy/dataKeysKekSet';
import { createPrismaDataKeyStore } from './privacy/prismaDataKeyStore';
import { createHttpApp } from './http/app';
import { recordApiRequests } from './http/requestAudit';
import { createPrometheusMetrics, metricsRouter } from './http/metrics';
import { requestIds } from './http/requestId';
import { createAlertDetectors } from './operations/alerts';
import { createAlertSink } from './operations/alertSink';
import { observeAssistant, observeAuditLog, observeLoginAttempts, observeUsageCall, type Observers } from './operations/observe';
import { createPrismaQueueDepth } from './operations/prismaQueueDepth';
import { createOtelTracing } from './operations/otelTracing';
import { installTracing } from './operations/tracing';
import { createFolderSource, type SyncReport } from './knowledge/folderSource';
import { createIndexer } from './knowledge/indexer';
import { createKnowledge } from './knowledge/knowledge';
import { createCohereEmbedder } from './knowledge/embedding/cohereEmbedder';
import type { Embedder } from './knowledge/embedding/embedder';
import { createAzureOpenAiEmbedder, createOpenAiEmbedder } from './knowledge/embedding/openaiEmbedder';
import { openLanceDbIndex } from './knowledge/lancedbIndex';
import type { IndexBuild } from './knowledge/indexBuild';
import { createQdrantIndex } from './knowledge/qdrantIndex';
import type { SearchIndex } from './knowledge/ports';
import { createPrismaDocumentStore } from './knowledge/prismaDocumentStore';
import { createLogger } from './logger';
import { createGraphDriveClient, INTERACTIVE_GRAPH_BUDGET } from './knowledge/sharepoint/graphDriveClient';
import { createGraphOpenCheck } from './knowledge/sharepoint/graphOpenCheck';
import type { DelegatedGraph } from './knowledge/sharepoint/ports';
import { createAppTokens } from './identity/appTokens';
import { createGraphTokenBroker } from './identity/onBehalfOf';
import { createPrismaSourceStore } from './knowledge/sharepoint/prismaSourceStore';
import { createKnowledgeSources } from './knowledge/sharepoint/sources';
import { createReaderResolver } from './knowledge/sharepoint/readers';
import { knowledgeSourcesRouter } from './http/routes/knowledgeSources';
import { filesRouter } from './http/routes/files';
import { uploadsRouter, uploadsStreamRouter } from './http/routes/uploads';
import { createDownloadLinkSigner } from './files/downloadLinks';
import { createDownloads } from './files/downloads';
import { createPrismaUploadStore } from './files/prismaUploadStore';
import { createUploads } from './knowledge/uploads';
import { createUploadLeftoverReconciler } from './knowledge/uploadLeftovers';
import { createPrismaUploadLeftovers } from './knowledge/prismaUploadLeftovers';
import { createConversationReader } from './assistant/conversations';
import { createAssistantSettings } from './assistant/settings';
import { createPrismaAssistantSettingsStore } from './assistant/prismaAssistantSettingsStore';
import { assistantSettingsRouter } from './http/routes/assistantSettings';
import { createFeedback, type Feedback } from './assistant/feedback';
import { createImages } from './assistant/images';
import { createPrismaImageRecords } from './assistant/prismaImageRecords';
import { createPrismaFeedbackStore } from './assistant/prismaFeedbackStore';
import { createPrismaUsageStore } from './assistant/prismaUsageStore';
import { priceTable } from './assistant/pricing';
import { createUsageMeter, type UsageMeter } from './assistant/usage';
import { usageRouter } from './http/routes/usage';
import { feedbackRouter } from './http/routes/feedback';
import { createBreachedPasswordChecker } from './identity/breachedPasswords';
import { createCredentials, type Credentials } from './identity/credentials';
import { createEmailProtector } from './identity/emailProtection';
import { createEntraTokenValidator } from './identity/entraTokens';
import { deriveKeys, loadOrCreateLocalMasterKey } from './identity/keys';
import { createLoginThrottle } from './identity/loginThrottle';
import { createPrismaCredentialStore, createPrismaLoginAttemptLog, createPrismaSecurityEventLog } from './identity/prismaCredentialStore';
import { createPrismaSessionStore } from './identity/prismaSessionStore';
import { createSecretBox } from './identity/secretBox';
import { createSessionService } from './identity/sessions';
import type { AuthenticateDeps } from './http/authenticate';
import { authRouter } from './http/routes/auth';
import { meRouter } from './http/routes/me';
import { chatRouter } from './http/routes/chat';
import { corsForOwnOrigins } from './http/cors';
import { webPagesRouter } from './http/webPages';
import { createSmtpMailer } from './mail/smtpMailer';
import { createPrincipals, type Principals } from './tenancy/principals';
import { createPrismaWorkspaceDirectory } from './tenancy/prismaWorkspaceDirectory';
import type { WorkspaceDirectory } from './tenancy/ports';
import { createBotAdapter } from '../bot/botAdapter';
import { createMessagesHandler } from '../bot/messagesRoute';
import { createTeamsBot } from '../bot/teamsBot';

/** Where scripts/build-web.ts puts the tab and add-in pages. */
export const WEB_BUILD_DIR = path.resolve(__dirname, '..', 'dist', 'web');

export interface Kluis {
  /** Base URL the server listens on, e.g. http://127.0.0.1:3978 */
  url: string;
  server: Server;
  logger: Logger;
  databaseUrl: string;
  /** The report of the knowledge folder's first sync (undefined without KNOWLEDGE_DIR). */
  initialSync?: SyncReport;
  /** Domain modules, for tests and benchmarks that drive Kluis below the HTTP layer. */
  modules: { assistant: Assistant; images?: ImageProvider; principals: Principals; directory: WorkspaceDirectory; index: SearchIndex; db: Database; credentials: Credentials; retention: RetentionPolicies; sweeper: RetentionSweeper; usage: UsageMeter; feedback: Feedback; routing: RoutingPolicies; exports: Exports; dataKeys: WorkspaceDataKeyService; syncKnowledge?: () => Promise<SyncReport>; blobs: BlobStore; eraser: ErasureEngine; erasureRunner: ErasureRunner; jobs: JobQueue };
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
}

export async function startKluis(config: Config, options: StartOptions = {}): Promise<Kluis> {
  const logger = options.logger ?? createLogger(config.logLevel);
  // botbuilder switches inbound auth off without an app id: that is only acceptable on loopback.
  if (!config.bot.appId && !config.localMode) fail('config_invalid', 'BOT_ID is required outside local mode');
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn({ err: error }, 'shutdown step failed');
      }
    }
  };

  let url = '';
  try {
    // Traces of turns (OTEL_TRACES_EXPORTER); with the default, none, nothing is traced or sent.
    if (config.tracing.exporter !== 'none') {
      const tracer = createOtelTracing({ ...config.tracing, exporter: config.tracing.exporter }, { onExportFailed: (failure) => logger.warn(failure, 'traces could not be exported: spans dropped') });
      const uninstall = installTracing(tracer);
      cleanups.push(async () => {
        uninstall();
        await tracer.shutdown();
      });
      logger.info({ exporter: config.tracing.exporter, sampleRatio: config.tracing.sampleRatio }, 'traces are exported');
    }
    let databaseUrl = config.database.url;
    if (!databaseUrl) {
      const instance: EmbeddedMariadb = await startEmbeddedMariadb({ dir: path.join(config.dataDir, 'mariadb'), log: (m) => logger.info(m) });
      cleanups.push(() => instance.stop());
      databaseUrl = instance.url;
      logger.info({ port: instance.port }, 'private MariaDB instance started (encrypted at rest)');
    }
    const migrations = await migrateDatabase(databaseUrl);
    if (migrations.applied.length) logger.info({ applied: migrations.applied }, 'database migrated');

    const db = createDatabase(databaseUrl, config.database.poolSize);
    cleanups.push(() => db.$disconnect());
    // Keys derived from the master key; workspace data keys wrapped by it seal blobs and chunk text.
    const masterKey = config.masterKey ?? (config.localMode ? loadOrCreateLocalMasterKey(config.dataDir) : fail('config_invalid', 'MASTER_KEY is required outside local mode'));
    const keys = deriveKeys(masterKey);
    // The data keys' KEK: Azure Key Vault with DATA_KEY_VAULT_KEY (the local roots still unwrap what they wrapped), else local.
    const keks = await openDataKeyEncryptionKeys({ masterKey, root: config.dataKeyRoot, rootPrevious: config.dataKeyRootPrevious }, config.dataKeyVault);
    if (config.dataKeyVault) logger.info({ kek: keks.currentKeyId }, 'workspace data keys are wrapped by Azure Key Vault');
    const dataKeys = createWorkspaceDataKeys(createPrismaDataKeyStore(db), keks);
    const embedder = createEmbedder(config);
    if (embedder) logger.info({ embedder: embedder.id, dimension: embedder.dimension }, 'hybrid search: passages and questions are embedded');
    const onRebuild = (previous: IndexBuild | undefined, current: IndexBuild) =>
      logger.warn({ previous, current }, 'search index emptied: it was built with another embedder or term scheme; sources re-index on their next sync');
    const index =
      config.searchIndex.kind === 'qdrant' && config.searchIndex.qdrant
        ? await createQdrantIndex({ url: config.searchIndex.qdrant.url, apiKey: config.searchIndex.qdrant.apiKey, collection: config.searchIndex.qdrant.collection, embedder, onRebuild, dataKeys, tokenKeys: dataKeys })
        : await openLanceDbIndex(config.knowledge.indexDir, { embedder, onRebuild, dataKeys, tokenKeys: dataKeys });
    cleanups.push(() => index.close());

    // Background work (syncs, sweeps, erasures, exports) goes through one job queue shared by every
    // replica: BullMQ on Redis with REDIS_URL, else the database's QueueJob table. Kinds are defined
    // below; the queue starts taking jobs once the HTTP server listens, and stops (handing back what
    // runs past the grace period) after it closed.
    const queue = createJobQueue(db, { redisUrl: config.operations.redisUrl, logger });
    cleanups.push(() => queue.stop(config.operations.shutdownGraceSeconds * 1000));
    const tableDepth = createPrismaQueueDepth(db);
    const queueDepth = async () => [...(await tableDepth()), ...(await queue.depth()).map((d) => ({ queue: 'background', ...d }))];

    // Operations: Prometheus metrics (a registry of this instance) and abnormal-behaviour alerts,
    // fed by decorators around the audit log, the login attempt log, the usage meter and the assistant.
    const metrics = createPrometheusMetrics({ queueDepth, onCollectError: (error) => logger.warn({ err: error }, 'queue depth could not be counted') });
    const jobs = instrumentJobQueue(queue, { metrics, logger });
    const alertSink = createAlertSink({
      log: logger,
      metrics,
      webhook: config.operations.alertWebhook,
      tenantOf: async (workspaceId) => (await directory.findById(workspaceId))?.tenantId,
    });
    cleanups.push(() => alertSink.settled());
    const observers: Observers = { metrics, detectors: createAlertDetectors({ thresholds: config.operations.alerts, sink: alertSink }) };
    const audit = observeAuditLog(createPrismaAuditLog(db), observers);
    const directory = createPrismaWorkspaceDirectory(db);
    const documents = createPrismaDocumentStore(db);
    const conversations = createPrismaConversationStore(db);
    const principals = createPrincipals({ directory, audit });
    // Graph access per tenant (app-only): SharePoint syncs and the asking user's group memberships.
    const { clientId, clientSecret, authorityHost } = config.entra;
    const appTokens = clientId && clientSecret ? createAppTokens({ clientId, clientSecret, authorityHost, logger }) : undefined;
    const graphFor = ({ tenantId }: { tenantId: string }) => {
      if (!appTokens) fail('config_invalid', 'SharePoint sources need ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET (app-only Graph access)');
      return createGraphDriveClient({ baseUrl: config.graph.baseUrl, maxDownloadBytes: config.knowledge.maxFileBytes, getToken: () => appTokens.tokenFor(tenantId) });
    };
    // A user waits on the group lookup: the token and each Graph attempt get a few seconds.
    const groupsOf = appTokens
      ? (tenantId: string, oid: string) =>
          createGraphDriveClient({
            ...INTERACTIVE_GRAPH_BUDGET,
            baseUrl: config.graph.baseUrl,
            maxDownloadBytes: config.knowledge.maxFileBytes,
            getToken: () => appTokens.tokenFor(tenantId, { waitMs: INTERACTIVE_GRAPH_BUDGET.attemptTimeoutMs }),
          }).groupsOf(oid)
      : undefined;
    const readers = createReaderResolver({
      entraObjectId: (workspaceId, userId) => directory.entraObjectId(workspaceId, userId),
      groupsOf,
      onGroupLookupFailed: (error) => logger.warn({ errorId: isKluisError(error) ? error.id : 'unexpected', err: error }, 'group memberships unavailable: group-shared passages withheld'),
    });
    const knowledge = createKnowledge(
      { index, readers },
      { minCoverage: config.knowledge.minCoverage, onLiveCheckFailed: (error) => logger.warn({ err: error }, 'live access check failed: the stored acls decide') },
    );
    // The asking user's own Graph access, never the app's: live checks before answering and
    // user-started syncs. Entra bearer callers (tab, add-in) get it On Behalf Of their token; Teams
    // users signed in through the bot's OAuth connection get it from that connection's token.
    const liveCheckWith = (getToken: () => Promise<string>) =>
      createGraphOpenCheck({
        baseUrl: config.graph.baseUrl,
        getToken,
        onFailure: (error) => logger.warn({ errorId: isKluisError(error) ? error.id : 'unexpected', err: error }, 'live access check could not ask SharePoint'),
      });
    const graphTokens = clientId && clientSecret ? createGraphTokenBroker({ clientId, clientSecret, authorityHost, logger }) : undefined;
    const delegate = graphTokens
      ? (identity: { tenantId: string; objectId: string }, assertion: string): DelegatedGraph => {
          // Lazy: the exchange happens only when a handler uses the access, and the broker caches it.
          const getToken = () => graphTokens.graphTokenFor(identity, assertion);
          return { access: liveCheckWith(getToken), drive: createGraphDriveClient({ baseUrl: config.graph.baseUrl, maxDownloadBytes: config.knowledge.maxFileBytes, getToken }) };
        }
      : undefined;
    const catalogue = createProviderCatalogue(config, logger);
    // Image generation (Stability AI) only with a key; the /image command uses it.
    const stability = config.assistant.stability;
    const images = stability.apiKey
      ? createStabilityImageProvider({ apiKey: stability.apiKey, baseUrl: stability.baseUrl, timeoutMs: stability.timeoutMs, maxRetries: stability.maxRetries, logger })
      : undefined;
    // Routing: each workspace's saved policy, else the environment's. A provider without a key is
    // never offered (and a policy naming one cannot be saved).
    const availableProviders = (): ProviderName[] => [...catalogue.available(), ...(images ? (['stability'] as const) : [])];
    const routingPolicies = createRoutingPolicies({
      store: createPrismaRoutingPolicyStore(db),
      audit,
      environment: config.assistant.routing,
      available: availableProviders,
      onSaved: (workspaceId) => workspaceRouting.invalidate(workspaceId),
      onStoredInvalid: (workspaceId, error) => logger.error({ err: error, workspaceId }, 'stored routing policy is invalid: the environment policy is used'),
    });
    const workspaceRouting = createWorkspaceRouting(routingPolicies, catalogue, { logger });
    // The environment's router: answers where no workspace is known.
    const provider = createRouter(config.assistant.routing, catalogue, { logger });
    // Usage metering and the monthly budget; the answer pipeline wraps its provider per answer
    // with usage.forPrincipal(principal).wrap(provider).
    const usage = createUsageMeter({
      store: createPrismaUsageStore(db),
      audit,
      prices: priceTable(config.usage.prices),
      currency: config.usage.currency,
      onCall: observeUsageCall(observers),
      onRecordError: (error, call) => logger.error({ err: error, workspaceId: call.workspaceId, provider: call.provider, model: call.model, outcome: call.outcome }, 'usage of a language-model call could not be recorded'),
      onUnpriced: (call) => logger.warn({ provider: call.provider, model: call.model }, 'no price for this model: its calls count as free (set USAGE_PRICES)'),
    });
    const feedback = createFeedback({ store: createPrismaFeedbackStore(db), audit });
    const assistantSettings = createAssistantSettings({ store: createPrismaAssistantSettingsStore(db), audit });
    const assistant = observeAssistant(createAssistant({ knowledge, provider, conversations, audit, topK: config.knowledge.topK, settings: assistantSettings, meter: usage, offlineProvider: createExtractiveProvider(), routing: workspaceRouting }), observers);

    // Identity: sessions, throttling, credentials login. Blobs: sealed with the workspace's data key.
    const blobs = createSealedBlobStore(
      config.blobStore.kind === 'minio' && config.blobStore.minio
        ? createMinioStore({ ...config.blobStore.minio, pathStyle: true, encryptionKey: keys.blobEncryption })
        : createEncryptedFolderStore(config.blobDir),
      dataKeys,
    );
    const sessions = createSessionService(createPrismaSessionStore(db), { signingKey: keys.sessionSigning, idleMinutes: config.sessions.idleMinutes, absoluteHours: config.sessions.absoluteHours });
    const attempts = observeLoginAttempts(createPrismaLoginAttemptLog(db), observers);
    const securityEvents = createPrismaSecurityEventLog(db);
    const mailer = config.mail.smtpUrl && config.mail.from ? createSmtpMailer({ url: config.mail.smtpUrl, from: config.mail.from }) : undefined;
    if (mailer) cleanups.push(() => mailer.close());
    const publicUrl = () => config.http.publicUrl ?? url;
    const credentials = createCredentials({
      store: createPrismaCredentialStore(db),
      sessions,
      throttle: createLoginThrottle(db, { freeAttemptsPerAccount: config.credentials.freeAttemptsPerAccount, freeAttemptsPerIp: config.credentials.freeAttemptsPerIp, maxWaitSeconds: config.credentials.maxWaitSeconds }),
      attempts,
      audit,
      email: createEmailProtector({ encryptionKey: keys.emailEncryption, indexKey: keys.emailIndex }),
      breached: createBreachedPasswordChecker({
        baseUrl: config.credentials.hibpBaseUrl,
        timeoutMs: config.credentials.hibpTimeoutMs,
        onOutage: (reason) => logger.error({ control: 'breached-password-check', reason }, 'control failure: breached-password service unreachable, local list used'),
      }),
      mailer,
      totpSecrets: createSecretBox(keys.secretEncryption, 'totp-secret'),
      tokenIndexKey: keys.tokenIndex,
      bcryptCost: config.credentials.bcryptCost,
      resetUrl: (token) => `${publicUrl()}/reset-password#token=${encodeURIComponent(token)}`,
      onBackgroundError: (error) => logger.error({ err: error }, 'credentials background task failed'),
    });
    cleanups.push(() => credentials.settled());
    const authenticate: AuthenticateDeps = {
      principals,
      securityEvents,
      sessions,
      cookieName: config.sessions.cookieSecure ? '__Host-kluis_session' : 'kluis_session',
      bearer: config.entra.clientId
        ? createEntraTokenValidator({ clientId: config.entra.clientId, audiences: [config.entra.clientId, config.entra.apiUri!], requiredScope: 'access_as_user', isTenantAllowed: (tid) => principals.isOnboarded(tid), authorityHost: config.entra.authorityHost })
        : undefined,
      delegate,
    };

    if (config.localMode) await directory.onboard(config.localTenantId, 'Local workspace (Agents Playground)');
    for (const tenant of config.onboardTenants) await directory.onboard(tenant.tenantId, tenant.name);

    let initialSync: SyncReport | undefined;
    let syncKnowledge: (() => Promise<SyncReport>) | undefined;
    if (config.knowledge.dir && config.knowledge.tenantId) {
      const workspace = await directory.onboard(config.knowledge.tenantId, 'Knowledge folder workspace');
      const source = createFolderSource({ dir: config.knowledge.dir, workspaceId: workspace.id, indexer: createIndexer({ documents, index }), documents, index, maxFileBytes: config.knowledge.maxFileBytes });
      const started = performance.now();
      initialSync = await source.sync();
      metrics.knowledgeFiles('indexed', initialSync.indexed);
      metrics.knowledgeFiles('failed', initialSync.failed.length);
      logger.info({ ...initialSync, failed: initialSync.failed.length, ms: Math.round(performance.now() - started) }, 'knowledge folder indexed');
      for (const f of initialSync.failed) logger.warn({ sourceRef: f.sourceRef, reason: f.reason }, 'knowledge file not indexed');
      syncKnowledge = source.sync;
      if (config.knowledge.watch) {
        const unwatch = source.watch((report) => {
          if (report instanceof Error) logger.error({ err: report }, 'knowledge folder sync failed');
          else {
            metrics.knowledgeFiles('indexed', report.indexed);
            metrics.knowledgeFiles('failed', report.failed.length);
            logger.info({ ...report, failed: report.failed.length }, 'knowledge folder re-synced');
          }
        });
        cleanups.push(unwatch);
      }
    }

    // SharePoint sources: scheduled syncs run app-only (client credentials) in the source's tenant.
    const sources = createKnowledgeSources({
      store: createPrismaSourceStore(db),
      tenantOf: async (workspaceId) => (await directory.findById(workspaceId))?.tenantId,
      graphFor,
      indexer: createIndexer({ documents, index }),
      documents,
      index,
      audit,
      maxFileBytes: config.knowledge.maxFileBytes,
      onSyncError: (error, source) => logger.error({ err: error, workspaceId: source.workspaceId, sourceId: source.id }, 'SharePoint sync failed'),
      dispatch: async ({ workspaceId, sourceId }) => void (await jobs.enqueue('knowledge.sync', { workspaceId, sourceId }, { key: sourceId })),
    });
    // One app-only sync per job; a sync resumes from its saved delta link, so a retry loses nothing.
    jobs.define<{ workspaceId: string; sourceId: string }>({
      kind: 'knowledge.sync',
      attempts: 3,
      backoffMs: 30_000,
      handle: async ({ workspaceId, sourceId }) => {
        const result = await sources.runSync(workspaceId, sourceId);
        if (result) {
          metrics.knowledgeFiles('indexed', result.progress.indexed);
          metrics.knowledgeFiles('failed', result.progress.failed.length);
        }
      },
      onGiveUp: async ({ workspaceId, sourceId }, error) => logger.error({ err: error, workspaceId, sourceId }, 'SharePoint sync given up after its retries; the next scheduled run tries again'),
    });
    jobs.define({ kind: 'knowledge.due', attempts: 1, handle: async () => void (await sources.runDue()) });
    cleanups.push(() => sources.settled());
    // The scheduler tick fires once per interval across all replicas. Without app credentials a due
    // source's sync fails with config_invalid in the log (a source cannot be synced without them).
    if (config.knowledge.syncIntervalSeconds > 0) await jobs.every('knowledge-due', config.knowledge.syncIntervalSeconds * 1000, 'knowledge.due');

    // Uploaded files: stored in the blob store, documents indexed, downloads by signed links only.
    const uploadStore = createPrismaUploadStore(db);
    const uploads = createUploads({ store: uploadStore, blobs, indexer: createIndexer({ documents, index }), audit });
    const downloads = createDownloads({ store: uploadStore, blobs, signer: createDownloadLinkSigner(keys.downloadLinkSigning, config.files.downloadLinkSeconds), audit });
    // A failed upload whose clean-up met a store that was down can leave its document record (and
    // chunks or blob) behind; housekeeping removes such leftovers an hour after their last write.
    const uploadLeftovers = createUploadLeftoverReconciler({ leftovers: createPrismaUploadLeftovers(db), index, blobs });
    jobs.define({
      kind: 'uploads.housekeeping',
      attempts: 1,
      handle: async () => {
        const report = await uploadLeftovers.reconcile();
        metrics.uploadLeftoversRemoved(report.total);
        if (report.total || report.failures.length) logger.info({ removed: report.total, workspaces: report.removed, failures: report.failures }, 'leftovers of failed uploads removed');
      },
    });
    await jobs.every('uploads-housekeeping', 3_600_000, 'uploads.housekeeping', {}, { firstDelayMs: 60_000 });

    // Retention periods per workspace: the admin panel changes them, the sweeper reads `effective`.
    const retention = createRetentionPolicies({ store: createPrismaRetentionPolicyStore(db), audit });
    const auditTrail = createAuditTrail({ reader: createPrismaAuditEventReader(db), audit });
    // Data exports: persisted jobs, archives in the blob store, kept 7 days. The retention sweeper
    // calls exports.purgeExpiredExports(); until then (and besides) a timer does, and resumes
    // exports whose worker died mid-build.
    const exports = createExports({
      jobs: createPrismaExportJobStore(db),
      records: createPrismaExportRecords(db),
      blobs,
      archive: () => createZipArchive(),
      signer: createDownloadLinkSigner(keys.exportLinkSigning, config.files.downloadLinkSeconds),
      audit,
      onBackgroundError: (error, jobId) => logger.error({ err: error, jobId }, 'data export failed'),
      dispatch: async (workspaceId, jobId) => void (await jobs.enqueue('export.build', { workspaceId, jobId }, { key: jobId })),
    });
    cleanups.push(() => exports.settled());
    // A build whose replica died is claimed again by the queue; the export's own row fences it.
    jobs.define<{ workspaceId: string; jobId: string }>({ kind: 'export.build', attempts: 3, backoffMs: 5_000, handle: async ({ workspaceId, jobId }) => void (await exports.run(workspaceId, jobId)) });
    const exportHousekeeping = async () => {
      const purged = await exports.purgeExpiredExports();
      if (purged) logger.info({ purged }, 'expired data exports purged');
      const resumed = await exports.resumeInterrupted();
      if (resumed) logger.info({ resumed }, 'interrupted data exports built again');
    };
    jobs.define({ kind: 'exports.housekeeping', attempts: 1, handle: exportHousekeeping });
    await jobs.every('exports-housekeeping', 3_600_000, 'exports.housekeeping', {}, { firstDelayMs: 60_000 });

    // Erasure: persisted jobs run in the background of this process; unfinished ones resume at start.
    const eraser = createEraser({ jobs: createPrismaErasureJobStore(db), rows: createPrismaErasureRows(db), index, blobs, dataKeys, graphTokens, audit, exports });
    const erasureRunner = createErasureRunner({ eraser, queue: jobs, onError: (error, jobId, attempt) => logger.error({ err: error, jobId, attempt }, 'erasure job failed; it resumes from its last finished step') });
    const resumed = await erasureRunner.resumeUnfinished();
    if (resumed.length) logger.info({ jobs: resumed }, 'unfinished erasure jobs resumed');
    const erasure = createErasureRequests({ eraser, runner: erasureRunner, directory, audit });

    // The retention sweeper erases what each workspace's policy lets expire (and terminated
    // workspaces), through the erasure engine; login attempts and audit IPs it purges per workspace
    // period, audit events after AUDIT_RETENTION_DAYS, exports after their 7 days.
    const sweeper = createRetentionSweeper({
      selection: createPrismaSweeperSelection(db),
      policies: retention,
      eraser,
      audit,
      lock: createMariadbSweepLock(databaseUrl),
      unownedLoginLogDays: config.credentials.attemptRetentionDays,
      terminatedWorkspaceEraseDays: config.retention.terminatedWorkspaceEraseDays,
      upkeep: { audit, auditRetentionDays: config.audit.retentionDays, exports },
    });
    jobs.define({
      kind: 'retention.sweep',
      attempts: 1,
      handle: async () => {
        const report = await sweeper.sweepOnSchedule();
        if (report) logger.info({ totals: report.totals, failures: [...report.workspaces.flatMap((w) => w.failures), ...report.terminated.failures] }, 'retention sweep finished');
      },
    });
    // Once per interval across all replicas (the sweeper's own lock stays as a second guard); the
    // schedule's next run survives restarts, so frequent restarts cannot keep postponing it.
    if (config.retention.sweepIntervalMinutes > 0) await jobs.every('retention-sweep', config.retention.sweepIntervalMinutes * 60_000, 'retention.sweep', {}, { firstDelayMs: 60_000 });
    else logger.warn('RETENTION_SWEEP_INTERVAL_MINUTES=0: nothing expires on its own (conversations, uploads, login log, terminated workspaces) until a sweep is started');


    // State the replicas share: Redis when REDIS_URL is set, else the database.
    const redis = config.operations.redisUrl ? new Redis(config.operations.redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: false, lazyConnect: false }) : undefined;
    if (redis) {
      redis.on('error', (error) => logger.warn({ err: error }, 'Redis connection problem; turn limits fall back to this replica until it returns'));
      cleanups.push(() => redis.quit().then(() => undefined, () => redis.disconnect()));
    }
    const counterStore: SharedCounterStore = redis ? { kind: 'redis', client: redis } : { kind: 'database', db };
    const { perUserPerMinute, perWorkspacePerMinute } = config.operations.turns;
    const turns = createTurnLimiter({
      perUser: perUserPerMinute > 0 ? createWindowCounter(counterStore, { name: 'turns-user', limit: perUserPerMinute, windowSeconds: 60 }) : undefined,
      perWorkspace: perWorkspacePerMinute > 0 ? createWindowCounter(counterStore, { name: 'turns-workspace', limit: perWorkspacePerMinute, windowSeconds: 60 }) : undefined,
    });

    const draining = { now: false };
    const adapter = createBotAdapter(config.bot);
    const botAuthMethod = config.bot.appId ? 'bot-framework' : 'local-playground';
    const bot = createTeamsBot({
      adapter,
      botAppId: config.bot.appId,
      assistant,
      logger,
      signIn: config.bot.oauthConnection ? { connectionName: config.bot.oauthConnection, securityEvents } : undefined,
      delegatedAccess: config.bot.oauthConnection ? (token) => liveCheckWith(async () => token) : undefined,
      admin: { principals, authMethod: botAuthMethod, retention, sources, auditTrail, audit, logger, erasure, usage, exports, publicUrl },
      myData: { principals, authMethod: botAuthMethod, exports, erasure, publicUrl, logger },
      feedback,
      // `/image`: pictures kept in the workspace's blob store; off without a Stability key.
      images: createImages({ provider: images, blobs, audit, records: createPrismaImageRecords(db) }),
      turns,
    });
    const messagesHandler = createMessagesHandler({ adapter, bot, principals, logger, securityEvents, serviceUrlHosts: config.localMode ? undefined : config.bot.serviceUrlHosts, authMethod: botAuthMethod });
    const app = createHttpApp({
      logger,
      messagesHandler,
      trustProxy: config.trustProxy,
      observe: [requestIds(logger), metrics.httpLatency],
      metrics: metricsRouter({ metrics, token: config.operations.metricsToken }),
      webPages: webPagesRouter({
        dir: WEB_BUILD_DIR,
        client: { clientId: config.entra.clientId, apiScope: config.entra.apiUri ? `${config.entra.apiUri}/access_as_user` : undefined, authority: config.entra.authorityHost },
        onMissingBuild: (dir) => logger.warn({ dir }, 'tab and add-in pages are not built: run `npm run build:web`'),
      }),
      cors: corsForOwnOrigins(config.allowedOrigins),
      requestAudit: recordApiRequests({ audit, logger }),
      authRouter: authRouter({ credentials, authenticate, cookie: { name: authenticate.cookieName, secure: config.sessions.cookieSecure }, directory }),
      apiRouters: [
        meRouter({ authenticate, conversations: createConversationReader({ conversations, audit }), credentials, audit }),
        knowledgeSourcesRouter({ authenticate, sources }),
        assistantSettingsRouter({ authenticate, settings: assistantSettings }),
        routingRouter({ authenticate, routing: routingPolicies, available: availableProviders }),
        uploadsRouter({ authenticate, uploads }),
        filesRouter({ authenticate, downloads, publicUrl }),
        usageRouter({ authenticate, meter: usage }), feedbackRouter({ authenticate, feedback }),
        retentionSweepRouter({ authenticate, sweeper }),
        exportRouter({ authenticate, exports, publicUrl }),
        erasureRouter({ authenticate, erasure }),
      ],
      streamRouters: [chatRouter({ authenticate, assistant, logger, turns }), uploadsStreamRouter({ authenticate, uploads, maxFileBytes: config.files.maxUploadBytes })],
      readiness: [
        { name: 'accepting', check: async () => void (draining.now && fail('shutting_down', 'this replica is stopping')) },
        { name: 'database', check: async () => void (await db.$queryRawUnsafe('SELECT 1')) },
        { name: 'index', check: () => index.ping() },
        { name: 'blobs', check: () => blobs.ping() },
        ...(redis ? [{ name: 'redis', check: async () => void (await redis.ping()) }] : []),
      ],
    });

    const server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.http.port, config.http.host, () => resolve(s));
      s.once('error', reject);
    });
    // Graceful shutdown: /readyz answers 503 at once (the load balancer stops sending turns), no new
    // connections are taken, idle keep-alive ones close, and turns in flight get the grace period.
    cleanups.push(async () => {
      draining.now = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.operations.shutdownGraceSeconds * 1000).unref());
      if ((await Promise.race([closed, grace])) === 'timeout') {
        logger.warn({ graceSeconds: config.operations.shutdownGraceSeconds }, 'requests still running after the shutdown grace period were cut off');
        server.closeAllConnections();
        await closed;
      }
    });
    await jobs.start();
    // For callers (tests, scripts) that wait for an export: its build runs through the queue.
    const exportsModule: Exports = { ...exports, settled: async () => { await exports.settled(); await jobs.drain(['export.build']); } };
    const address = server.address() as AddressInfo;
    url = `http://${address.address}:${address.port}`;
    if (config.localMode) logger.warn({ url }, 'LOCAL MODE: Bot Framework authentication is off; listening on 127.0.0.1 only, for the Agents Playground tenant only');
    else logger.info({ url }, 'Kluis is listening');

    return { url, server, logger, databaseUrl, initialSync, modules: { assistant, images, principals, directory, index, db, credentials, retention, sweeper, usage, feedback, routing: routingPolicies, exports: exportsModule, dataKeys, syncKnowledge, blobs, eraser, erasureRunner, jobs }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** No embedder unless EMBEDDER names one: the default searches lexically and sends nothing out. */
function createEmbedder(config: Config): Embedder | undefined {
  const e = config.embedder;
  if (!e) return undefined;
  const common = { apiKey: e.apiKey, dimension: e.dimension, timeoutMs: e.timeoutMs, maxRetries: e.maxRetries };
  if (e.kind === 'cohere') return createCohereEmbedder({ ...common, baseUrl: e.baseUrl, model: e.model });
  if (e.kind === 'openai') return createOpenAiEmbedder({ ...common, baseUrl: e.baseUrl, model: e.model });
  return createAzureOpenAiEmbedder({ ...common, endpoint: e.endpoint, deployment: e.deployment, apiVersion: e.apiVersion });
}

/**
 * The chat providers that have a key (a provider without one is never offered). Extractive needs
 * none and is always there, so with no key at all Kluis still answers offline, by quoting.
 */
function createProviderCatalogue(config: Config, logger: Logger): ProviderCatalogue {
  const { openai, azureOpenai, anthropic, gemini, perplexity } = config.assistant;
  const settings = (s: { apiKey?: string; baseUrl?: string; timeoutMs: number; maxRetries: number }, apiKey: string) => ({ apiKey, baseUrl: s.baseUrl, timeoutMs: s.timeoutMs, maxRetries: s.maxRetries, logger });
  const factories: Parameters<typeof catalogueOf>[0] = { extractive: () => createExtractiveProvider() };
  if (openai.apiKey) factories.openai = (model) => createOpenAiProvider({ ...settings(openai, openai.apiKey!), model: model ?? openai.model });
  if (azureOpenai.apiKey && azureOpenai.baseUrl) {
    const endpoint = azureOpenai.baseUrl;
    factories['azure-openai'] = (model) => createAzureOpenAiProvider({ ...settings(azureOpenai, azureOpenai.apiKey!), baseUrl: endpoint, model: model ?? azureOpenai.model, apiVersion: azureOpenai.apiVersion });
  }
  if (anthropic.apiKey) factories.anthropic = (model) => createAnthropicProvider({ ...settings(anthropic, anthropic.apiKey!), model: model ?? anthropic.model });
  if (gemini.apiKey) factories.gemini = (model) => createGeminiProvider({ ...settings(gemini, gemini.apiKey!), model: model ?? gemini.model });
  if (perplexity.apiKey) factories.perplexity = (model) => createPerplexityProvider({ ...settings(perplexity, perplexity.apiKey!), model: model ?? perplexity.model });
  return catalogueOf(factories);
}
