import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, PLAYGROUND_TENANT_ID, SETTING_NAMES } from './config';

const BOT = { BOT_ID: '11111111-2222-3333-4444-555555555555', BOT_PASSWORD: 'secret', BOT_TENANT_ID: '99999999-2222-3333-4444-555555555555', MASTER_KEY: 'ab'.repeat(32) };
const load = (env: Record<string, string | undefined>) => loadConfig(env, { dotenv: false, cwd: '/srv/kluis' });

describe('loadConfig', () => {
  it('gives embedded defaults in local mode', () => {
    const c = loadConfig({}, { profile: 'local', dotenv: false, cwd: '/srv/kluis' });
    expect(c.localMode).toBe(true);
    expect(c.http).toEqual({ host: '127.0.0.1', port: 3978, publicUrl: undefined });
    expect(c.database.url).toBeUndefined();
    expect(c.knowledge.dir).toBe('/srv/kluis/demo/knowledge');
    expect(c.knowledge.tenantId).toBe(PLAYGROUND_TENANT_ID);
    expect(c.knowledge.indexDir).toBe('/srv/kluis/.data/index');
    expect(c.assistant.routing).toEqual({ defaultProvider: 'extractive', allowed: ['extractive'], rules: [] });
  });

  it('builds the routing policy from the providers that have keys and the rules', () => {
    const c = load({
      LOCAL_MODE: 'true',
      ANTHROPIC_API_KEY: 'sk-ant',
      PERPLEXITY_API_KEY: 'pplx',
      GEMINI_API_KEY: 'AIza',
      ASSISTANT_WEB_PROVIDER: 'perplexity',
      ASSISTANT_LONG_CONTEXT_PROVIDER: 'gemini',
      ASSISTANT_LONG_CONTEXT_MIN_CHARS: '80000',
      ANTHROPIC_BASE_URL: 'https://anthropic-proxy.example.eu',
    });
    expect(c.assistant.routing).toEqual({
      defaultProvider: 'anthropic',
      allowed: ['anthropic', 'gemini', 'perplexity'],
      rules: [
        { when: 'web', provider: 'perplexity' },
        { when: 'long-context', minChars: 80000, provider: 'gemini' },
      ],
    });
    expect(c.assistant.anthropic).toMatchObject({ apiKey: 'sk-ant', baseUrl: 'https://anthropic-proxy.example.eu', timeoutMs: 60000, maxRetries: 2 });
    expect(c.assistant.openai.apiKey).toBeUndefined();
  });

  it('forces 127.0.0.1 in local mode even when HOST says otherwise', () => {
    expect(load({ LOCAL_MODE: 'true', HOST: '0.0.0.0' }).http.host).toBe('127.0.0.1');
  });

  it('reads a production configuration', () => {
    const c = load({ ...BOT, HOST: '0.0.0.0', PORT: '8080', DATABASE_URL: 'mysql://u:p@db:3306/kluis', OPENAI_API_KEY: 'sk-x', ONBOARD_TENANTS: 'AAAAAAAA-2222-3333-4444-555555555555=Contoso BV, bbbbbbbb-2222-3333-4444-555555555555=Fabrikam' });
    expect(c.localMode).toBe(false);
    expect(c.http.port).toBe(8080);
    expect(c.bot).toMatchObject({ appId: BOT.BOT_ID, appPassword: 'secret', appType: 'SingleTenant', tenantId: BOT.BOT_TENANT_ID });
    expect(c.bot.serviceUrlHosts).toContain('smba.trafficmanager.net');
    expect(c.assistant.routing).toEqual({ defaultProvider: 'openai', allowed: ['openai'], rules: [] });
    expect(c.onboardTenants).toEqual([
      { tenantId: 'aaaaaaaa-2222-3333-4444-555555555555', name: 'Contoso BV' },
      { tenantId: 'bbbbbbbb-2222-3333-4444-555555555555', name: 'Fabrikam' },
    ]);
  });

  it.each([
    ['no BOT_ID outside local mode', {}, /^Setting BOT_ID: required unless LOCAL_MODE=true/],
    ['BOT_ID that is not a GUID', { ...BOT, BOT_ID: 'my-bot' }, /^Setting BOT_ID: expected a GUID .*got "my-bot"/],
    ['BOT_ID without a password', { ...BOT, BOT_PASSWORD: undefined }, /^Setting BOT_PASSWORD: required when BOT_ID is set/],
    ['single-tenant bot without its tenant', { ...BOT, BOT_TENANT_ID: undefined }, /^Setting BOT_TENANT_ID: required when BOT_TYPE is SingleTenant/],
    ['unknown BOT_TYPE', { ...BOT, BOT_TYPE: 'Anything' }, /^Setting BOT_TYPE: expected SingleTenant, MultiTenant or UserAssignedMSI/],
    ['PORT that is not a number', { LOCAL_MODE: 'true', PORT: 'eighty' }, /^Setting PORT: expected a TCP port number/],
    ['PORT out of range', { LOCAL_MODE: 'true', PORT: '70000' }, /^Setting PORT: expected a TCP port from 0/],
    ['LOCAL_MODE that is not a boolean', { LOCAL_MODE: 'maybe' }, /^Setting LOCAL_MODE: expected true or false/],
    ['DATABASE_URL of another kind', { LOCAL_MODE: 'true', DATABASE_URL: 'postgres://u:p@h/db' }, /^Setting DATABASE_URL: expected mysql:\/\/.*the value given is not valid/],
    ['OPENAI_BASE_URL that is not a URL', { LOCAL_MODE: 'true', OPENAI_BASE_URL: 'localhost:8080' }, /^Setting OPENAI_BASE_URL: expected an http\(s\) URL/],
    ['openai provider without a key', { LOCAL_MODE: 'true', ASSISTANT_PROVIDER: 'openai' }, /^Setting OPENAI_API_KEY: required when ASSISTANT_PROVIDER=openai/],
    ['unknown provider', { LOCAL_MODE: 'true', ASSISTANT_PROVIDER: 'gpt' }, /^Setting ASSISTANT_PROVIDER: expected one of extractive, openai, azure-openai, anthropic, gemini, perplexity/],
    ['anthropic provider without a key', { LOCAL_MODE: 'true', ASSISTANT_PROVIDER: 'anthropic' }, /^Setting ANTHROPIC_API_KEY: required when ASSISTANT_PROVIDER=anthropic/],
    ['web provider without a key', { LOCAL_MODE: 'true', ASSISTANT_WEB_PROVIDER: 'perplexity' }, /^Setting PERPLEXITY_API_KEY: required when ASSISTANT_WEB_PROVIDER=perplexity/],
    ['azure key without endpoint', { LOCAL_MODE: 'true', AZURE_OPENAI_API_KEY: 'k', AZURE_OPENAI_DEPLOYMENT: 'gpt' }, /^Setting AZURE_OPENAI_ENDPOINT: required with AZURE_OPENAI_API_KEY/],
    ['unknown provider in the allowed list', { LOCAL_MODE: 'true', ASSISTANT_ALLOWED_PROVIDERS: 'openai,skynet' }, /^Setting ASSISTANT_ALLOWED_PROVIDERS/],
    ['default provider not allowed', { LOCAL_MODE: 'true', OPENAI_API_KEY: 'k', ASSISTANT_PROVIDER: 'openai', ASSISTANT_ALLOWED_PROVIDERS: 'extractive' }, /^Setting ASSISTANT_PROVIDER: openai is not in ASSISTANT_ALLOWED_PROVIDERS/],
    ['provider timeout too short', { LOCAL_MODE: 'true', GEMINI_TIMEOUT_MS: '5' }, /^Setting GEMINI_TIMEOUT_MS: expected 1000 to 600000 ms/],
    ['LOG_LEVEL unknown', { LOCAL_MODE: 'true', LOG_LEVEL: 'loud' }, /^Setting LOG_LEVEL: expected one of/],
    ['RETRIEVAL_TOP_K too large', { LOCAL_MODE: 'true', RETRIEVAL_TOP_K: '50' }, /^Setting RETRIEVAL_TOP_K: expected 1 to 20/],
    ['RETRIEVAL_MIN_COVERAGE above 1', { LOCAL_MODE: 'true', RETRIEVAL_MIN_COVERAGE: '1.5' }, /^Setting RETRIEVAL_MIN_COVERAGE: expected a number from 0 to 1/],
    ['KNOWLEDGE_DIR in production without its tenant', { ...BOT, KNOWLEDGE_DIR: 'docs' }, /^Setting KNOWLEDGE_TENANT_ID: required when KNOWLEDGE_DIR is set outside local mode/],
    ['ONBOARD_TENANTS malformed', { LOCAL_MODE: 'true', ONBOARD_TENANTS: 'contoso' }, /^Setting ONBOARD_TENANTS: expected tenantId=Name pairs/],
    ['BLOB_STORE=minio without its endpoint', { LOCAL_MODE: 'true', BLOB_STORE: 'minio', MINIO_ACCESS_KEY: 'k', MINIO_SECRET_KEY: 's' }, /^Setting MINIO_ENDPOINT: required when BLOB_STORE=minio/],
    ['a MINIO_BUCKET_PREFIX with upper case', { LOCAL_MODE: 'true', MINIO_BUCKET_PREFIX: 'Kluis' }, /^Setting MINIO_BUCKET_PREFIX: expected 1-31 lower-case/],
    ['SEARCH_INDEX=qdrant without its URL', { LOCAL_MODE: 'true', SEARCH_INDEX: 'qdrant' }, /^Setting QDRANT_URL: required when SEARCH_INDEX=qdrant/],
    ['no MASTER_KEY in production', { ...BOT, MASTER_KEY: undefined }, /^Setting MASTER_KEY: required outside local mode/],
    ['a MASTER_KEY that is too short', { ...BOT, MASTER_KEY: 'abcd' }, /^Setting MASTER_KEY: expected 64 hex characters/],
    ['ENTRA_CLIENT_ID without its API URI', { LOCAL_MODE: 'true', ENTRA_CLIENT_ID: '11111111-2222-3333-4444-555555555555' }, /^Setting ENTRA_API_URI: required with ENTRA_CLIENT_ID/],
    ['BCRYPT_COST below 10', { LOCAL_MODE: 'true', BCRYPT_COST: '8' }, /^Setting BCRYPT_COST: expected 10 to 15/],
    ['SMTP_URL without MAIL_FROM', { LOCAL_MODE: 'true', SMTP_URL: 'smtp://mail.example.com:587' }, /^Setting MAIL_FROM: required with SMTP_URL/],
    ['EMBEDDER unknown', { LOCAL_MODE: 'true', EMBEDDER: 'word2vec' }, /^Setting EMBEDDER: expected none, cohere, openai or azure-openai/],
    ['EMBEDDER=cohere without its key', { LOCAL_MODE: 'true', EMBEDDER: 'cohere' }, /^Setting COHERE_API_KEY: required when EMBEDDER=cohere/],
    ['EMBEDDER=openai without its key', { LOCAL_MODE: 'true', EMBEDDER: 'openai' }, /^Setting OPENAI_API_KEY: required when EMBEDDER=openai/],
    ['EMBEDDER=azure-openai without its deployment', { LOCAL_MODE: 'true', EMBEDDER: 'azure-openai', AZURE_OPENAI_ENDPOINT: 'https://x.openai.azure.com', AZURE_OPENAI_API_KEY: 'k' }, /^Setting AZURE_OPENAI_EMBEDDING_DEPLOYMENT: required when EMBEDDER=azure-openai/],
    ['an Azure deployment that would change the path', { LOCAL_MODE: 'true', AZURE_OPENAI_EMBEDDING_DEPLOYMENT: '../admin' }, /^Setting AZURE_OPENAI_EMBEDDING_DEPLOYMENT: expected the deployment name/],
    ['EMBEDDING_DIMENSION of zero', { LOCAL_MODE: 'true', EMBEDDING_DIMENSION: '0' }, /^Setting EMBEDDING_DIMENSION: expected 1 to 65536/],
    ['SESSION_IDLE_MINUTES of zero', { LOCAL_MODE: 'true', SESSION_IDLE_MINUTES: '0' }, /^Setting SESSION_IDLE_MINUTES: expected 1 to 1440 minutes/],
  ])('rejects %s with one clear line', (_name, env, message) => {
    let error: unknown;
    try {
      load(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('has no embedder by default, and reads each provider with its default dimension', () => {
    expect(load({ LOCAL_MODE: 'true' }).embedder).toBeUndefined();
    expect(load({ LOCAL_MODE: 'true', EMBEDDER: 'cohere', COHERE_API_KEY: 'co' }).embedder).toEqual({ kind: 'cohere', apiKey: 'co', baseUrl: undefined, model: 'embed-multilingual-v3.0', dimension: 1024, timeoutMs: 30000, maxRetries: 2 });
    expect(load({ LOCAL_MODE: 'true', EMBEDDER: 'openai', OPENAI_API_KEY: 'sk', EMBEDDING_DIMENSION: '256' }).embedder).toMatchObject({ kind: 'openai', model: 'text-embedding-3-small', dimension: 256 });
    expect(
      load({ LOCAL_MODE: 'true', EMBEDDER: 'azure-openai', AZURE_OPENAI_ENDPOINT: 'https://x.openai.azure.com', AZURE_OPENAI_API_KEY: 'k', AZURE_OPENAI_EMBEDDING_DEPLOYMENT: 'emb' }).embedder,
    ).toMatchObject({ kind: 'azure-openai', endpoint: 'https://x.openai.azure.com', deployment: 'emb', apiVersion: '2024-10-21', dimension: 1536 });
  });

  it('never echoes a secret value in its message', () => {
    expect(() => load({ LOCAL_MODE: 'true', DATABASE_URL: 'postgres://admin:hunter2@h/db' })).toThrow(/^(?!.*hunter2)/);
  });

  it('reads .env from the working directory, with the environment taking precedence', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-config-'));
    try {
      fs.writeFileSync(path.join(dir, '.env'), 'LOCAL_MODE=true\nPORT=4000\nRETRIEVAL_TOP_K=7\n');
      const c = loadConfig({ PORT: '5000' }, { cwd: dir });
      expect(c.localMode).toBe(true);
      expect(c.http.port).toBe(5000);
      expect(c.knowledge.topK).toBe(7);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has every setting documented in .env.example and README', () => {
    const example = fs.readFileSync(path.join(__dirname, '..', '.env.example'), 'utf8');
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    for (const name of SETTING_NAMES) {
      expect(example).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
      expect(readme).toContain(`\`${name}\``);
    }
  });

  it('keeps the erasure of a terminated workspace within the promised 30 days, sweep interval included', () => {
    expect(load({ LOCAL_MODE: 'true' }).retention).toEqual({ sweepIntervalMinutes: 60, terminatedWorkspaceEraseDays: 29 });
    expect(load({ LOCAL_MODE: 'true', TERMINATED_WORKSPACE_ERASE_DAYS: '30', RETENTION_SWEEP_INTERVAL_MINUTES: '0' }).retention.terminatedWorkspaceEraseDays).toBe(30);
    expect(() => load({ LOCAL_MODE: 'true', TERMINATED_WORKSPACE_ERASE_DAYS: '30' })).toThrow(/TERMINATED_WORKSPACE_ERASE_DAYS: .*30 days/);
    expect(() => load({ LOCAL_MODE: 'true', TERMINATED_WORKSPACE_ERASE_DAYS: '31', RETENTION_SWEEP_INTERVAL_MINUTES: '0' })).toThrow(/expected 1 to 30 days/);
    expect(() => load({ LOCAL_MODE: 'true', RETENTION_SWEEP_INTERVAL_MINUTES: '1441' })).toThrow(/RETENTION_SWEEP_INTERVAL_MINUTES/);
    expect(() => load({ LOCAL_MODE: 'true', RETENTION_SWEEP_INTERVAL_MINUTES: '-1' })).toThrow(ConfigError);
  });

  it('reads the metrics token and alert thresholds, with defaults, and refuses bad ones', () => {
    const d = load({ LOCAL_MODE: 'true' }).operations;
    expect(d).toEqual({
      redisUrl: undefined,
      turns: { perUserPerMinute: 30, perWorkspacePerMinute: 600 },
      shutdownGraceSeconds: 20,
      metricsToken: undefined,
      alertWebhook: undefined,
      alerts: {
        loginFailures: { threshold: 20, windowSeconds: 300 },
        documentReads: { threshold: 200, windowSeconds: 600 },
        authorizationRefusals: { threshold: 10, windowSeconds: 300 },
        providerErrors: { threshold: 10, windowSeconds: 300 },
      },
    });
    const c = load({ LOCAL_MODE: 'true', METRICS_TOKEN: 't'.repeat(16), ALERT_WEBHOOK_URL: 'https://alerts.example.com/k', ALERT_DOCUMENT_READS: '0', ALERT_DOCUMENT_READS_WINDOW_SECONDS: '60' }).operations;
    expect(c.metricsToken).toBe('t'.repeat(16));
    expect(c.alertWebhook).toEqual({ url: 'https://alerts.example.com/k', timeoutMs: 5000 });
    expect(c.alerts.documentReads).toEqual({ threshold: 0, windowSeconds: 60 });
    expect(() => load({ LOCAL_MODE: 'true', METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: expected at least 16 characters/);
    expect(() => load({ LOCAL_MODE: 'true', METRICS_TOKEN: 'has a space in it, sixteen+' })).toThrow(/METRICS_TOKEN/);
    expect(() => load({ LOCAL_MODE: 'true', ALERT_WEBHOOK_URL: 'ftp://x.example' })).toThrow(/ALERT_WEBHOOK_URL/);
    expect(() => load({ LOCAL_MODE: 'true', ALERT_LOGIN_FAILURES: '-1' })).toThrow(/ALERT_LOGIN_FAILURES/);
    expect(() => load({ LOCAL_MODE: 'true', ALERT_PROVIDER_ERRORS_WINDOW_SECONDS: '5' })).toThrow(/expected 10 to 86400 seconds/);
  });

  it('reads the shared-state settings: Redis, turn limits and the shutdown grace', () => {
    const d = load({ LOCAL_MODE: 'true' }).operations;
    expect(d.redisUrl).toBeUndefined();
    expect(d.turns).toEqual({ perUserPerMinute: 30, perWorkspacePerMinute: 600 });
    expect(d.shutdownGraceSeconds).toBe(20);
    const c = load({ LOCAL_MODE: 'true', REDIS_URL: 'rediss://:secret@cache.internal:6380/2', TURNS_PER_USER_PER_MINUTE: '0', TURNS_PER_WORKSPACE_PER_MINUTE: '50', SHUTDOWN_GRACE_SECONDS: '5' }).operations;
    expect(c.redisUrl).toBe('rediss://:secret@cache.internal:6380/2');
    expect(c.turns).toEqual({ perUserPerMinute: 0, perWorkspacePerMinute: 50 });
    expect(c.shutdownGraceSeconds).toBe(5);
    expect(load({ LOCAL_MODE: 'true', REDIS_URL: '' }).operations.redisUrl).toBeUndefined();
    for (const bad of ['http://cache:6379', 'redis://cache:6379/path', 'redis://', 'redis://a b:1']) expect(() => load({ LOCAL_MODE: 'true', REDIS_URL: bad })).toThrow(/REDIS_URL: expected redis:\/\//);
    expect(() => load({ LOCAL_MODE: 'true', TURNS_PER_USER_PER_MINUTE: '-1' })).toThrow(/TURNS_PER_USER_PER_MINUTE: expected 0 \(off\) to 1000/);
    expect(() => load({ LOCAL_MODE: 'true', TURNS_PER_WORKSPACE_PER_MINUTE: 'many' })).toThrow(/TURNS_PER_WORKSPACE_PER_MINUTE/);
    expect(() => load({ LOCAL_MODE: 'true', SHUTDOWN_GRACE_SECONDS: '0' })).toThrow(/SHUTDOWN_GRACE_SECONDS: expected 1 to 300 seconds/);
  });

  it('reads the data keys\' own root and the one it replaces, and refuses what would not be a rotation', () => {
    const root = 'cd'.repeat(32);
    const previous = 'ef'.repeat(32);
    expect(load(BOT)).toMatchObject({ dataKeyRoot: undefined, dataKeyRootPrevious: undefined });
    const c = load({ ...BOT, DATA_KEY_ROOT: root.toUpperCase(), DATA_KEY_ROOT_PREVIOUS: previous });
    expect(c.dataKeyRoot?.toString('hex')).toBe(root);
    expect(c.dataKeyRootPrevious?.toString('hex')).toBe(previous);
    expect(c.masterKey?.toString('hex')).toBe(BOT.MASTER_KEY);
    // In local mode the master key may live in DATA_DIR/keys/master.key: a root alone is fine.
    expect(load({ LOCAL_MODE: 'true', DATA_KEY_ROOT: root }).dataKeyRoot?.toString('hex')).toBe(root);

    const refused = (env: Record<string, string | undefined>) => {
      try {
        load(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      return 'accepted';
    };
    for (const bad of ['cd'.repeat(31), 'zz'.repeat(32), `${root}00`, 'yes']) {
      expect(refused({ ...BOT, DATA_KEY_ROOT: bad })).toMatch(/^Setting DATA_KEY_ROOT: expected 64 hex characters .*\(the value given is not valid\)/);
      expect(refused({ ...BOT, DATA_KEY_ROOT: root, DATA_KEY_ROOT_PREVIOUS: bad })).toMatch(/^Setting DATA_KEY_ROOT_PREVIOUS: expected 64 hex characters/);
    }
    expect(refused({ ...BOT, DATA_KEY_ROOT: 'zz'.repeat(32) })).not.toContain('zz');
    expect(refused({ ...BOT, DATA_KEY_ROOT: BOT.MASTER_KEY.toUpperCase() })).toMatch(/^Setting DATA_KEY_ROOT: must differ from MASTER_KEY/);
    expect(refused({ ...BOT, DATA_KEY_ROOT_PREVIOUS: previous })).toMatch(/^Setting DATA_KEY_ROOT_PREVIOUS: only during a rotation of DATA_KEY_ROOT: set DATA_KEY_ROOT to the new root/);
    expect(refused({ ...BOT, DATA_KEY_ROOT: root, DATA_KEY_ROOT_PREVIOUS: root.toUpperCase() })).toMatch(/^Setting DATA_KEY_ROOT_PREVIOUS: must differ from DATA_KEY_ROOT/);
    expect(refused({ ...BOT, DATA_KEY_ROOT: root, DATA_KEY_ROOT_PREVIOUS: BOT.MASTER_KEY })).toMatch(/^Setting DATA_KEY_ROOT_PREVIOUS: not needed for MASTER_KEY: while DATA_KEY_ROOT is set, data keys MASTER_KEY wrapped always unwrap/);
    expect(refused({ ...BOT, DATA_KEY_ROOT: root, DATA_KEY_ROOT_PREVIOUS: previous })).toBe('accepted');
    expect(SETTING_NAMES).not.toContain('MASTER_KEY_PREVIOUS');
  });
});
