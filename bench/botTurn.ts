/**
 * Bot turn overhead: how long one Teams message takes from POST /api/messages to the HTTP
 * response, with Kluis started in-process as the tests start it (local mode, a private MariaDB,
 * the demo documents, the extractive provider). The bot replies inside the turn, so by the time
 * the response arrives the fake Bot Connector already holds the card; every turn is checked for
 * exactly that.
 *
 * Baseline: a bare teams-ai Application that echoes the text, hosted the usual way (TeamsAdapter,
 * express 5 with express.json()), sent the same activities. The difference is what Kluis adds per
 * turn: validation, tenant and user lookup, storing both messages, retrieval, the answer card,
 * the audit record and the typing indicator.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ActivityTypes } from 'botbuilder';
import { Application, TeamsAdapter, type TurnState } from '@microsoft/teams-ai';
import express from 'express';
import { loadConfig } from '../api/config';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../api/db/embeddedMariadb';
import { migrateDatabase } from '../api/db/migrate';
import { createLogger } from '../api/logger';
import { startKluis, type Kluis } from '../api/main';
import { cardText, startFakeConnector } from '../tests/fakes/botConnector';
import { QUESTIONS, REPO_ROOT } from './corpus';
import { summarize, type BenchContext, type BenchResult } from './stats';

type Connector = Awaited<ReturnType<typeof startFakeConnector>>;

interface EchoBot {
  url: string;
  stop(): Promise<void>;
}

async function startEchoBot(): Promise<EchoBot> {
  // An empty app id switches inbound authentication off, as Kluis does in local mode.
  const adapter = new TeamsAdapter({ MicrosoftAppId: '', MicrosoftAppPassword: '', MicrosoftAppType: 'MultiTenant', MicrosoftAppTenantId: '' });
  // Same Application options as Kluis, so the baseline does not pay for a typing timer Kluis skips.
  const bot = new Application<TurnState>({ adapter, botAppId: '', removeRecipientMention: true, startTypingTimer: false, longRunningMessages: false });
  bot.activity(ActivityTypes.Message, async (context) => {
    await context.sendActivity(`echo: ${context.activity.text ?? ''}`);
  });
  const app = express();
  app.post('/api/messages', express.json(), async (req, res) => {
    await adapter.process(req, res, (context) => bot.run(context).then(() => undefined));
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function activity(connector: Connector, tenantId: string, turn: number, text: string) {
  // Ten users with a conversation each, so conversations grow over the run as they do in use.
  const user = turn % 10;
  return {
    type: 'message',
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: { id: `bench-user-${user}`, name: `Bench User ${user}`, aadObjectId: `00000000-0000-4000-8000-${String(user).padStart(12, '0')}` },
    recipient: { id: 'bot-id', name: 'Kluis' },
    conversation: { id: `bench-conv-${tenantId}-${user}`, conversationType: 'personal', tenantId },
    channelData: { tenant: { id: tenantId } },
    text,
  };
}

/** One turn: POST start to the end of the response body. Throws on anything but 200. */
async function turn(baseUrl: string, body: unknown): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await response.text();
  const elapsed = performance.now() - started;
  if (response.status !== 200) throw new Error(`POST /api/messages answered ${response.status}`);
  return elapsed;
}

export async function runBotTurn(context: BenchContext): Promise<BenchResult> {
  const turns = context.quick ? 30 : 200;
  const warmup = context.quick ? 5 : 20;
  const log = context.log;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-bot-'));
  // mariadbd runs as the mysql user when we are root, and must be able to enter the folder.
  fs.chmodSync(root, 0o755);
  const tenantId = randomUUID();
  let mariadb: EmbeddedMariadb | undefined;
  let kluis: Kluis | undefined;
  let echo: EchoBot | undefined;
  let connector: Connector | undefined;
  try {
    let started = performance.now();
    mariadb = await startEmbeddedMariadb({ dir: path.join(root, 'mariadb') });
    const databaseUrl = await mariadb.createDatabase('kluis_bench');
    await migrateDatabase(databaseUrl);
    log(`  private MariaDB ready and migrated in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    connector = await startFakeConnector();
    const config = loadConfig(
      {
        LOCAL_MODE: 'true',
        PORT: '0',
        DATABASE_URL: databaseUrl,
        DATA_DIR: path.join(root, 'data'),
        KNOWLEDGE_DIR: 'demo/knowledge',
        KNOWLEDGE_WATCH: 'false',
        LOG_LEVEL: 'silent',
        LOCAL_TENANT_ID: tenantId,
        ASSISTANT_PROVIDER: 'extractive',
      },
      { dotenv: false, cwd: REPO_ROOT },
    );
    started = performance.now();
    kluis = await startKluis(config, { logger: createLogger(config.logLevel) });
    log(`  Kluis started in-process in ${((performance.now() - started) / 1000).toFixed(1)} s (${kluis.initialSync?.indexed ?? 0} demo documents indexed)`);
    echo = await startEchoBot();

    const kluisUrl = kluis.url;
    const echoUrl = echo.url;
    const c = connector;
    let grounded = 0;
    const samples: Record<'kluis' | 'echo', number[]> = { kluis: [], echo: [] };

    /** Runs one turn on one bot and checks that exactly one message reply of the right kind arrived. */
    const once = async (which: 'kluis' | 'echo', n: number): Promise<number> => {
      const question = QUESTIONS[n % QUESTIONS.length]!;
      const before = c.messages().length;
      const elapsed = await turn(which === 'kluis' ? kluisUrl : echoUrl, activity(c, tenantId, n, question));
      const replies = c.messages().slice(before);
      if (replies.length !== 1) throw new Error(`${which} turn ${n}: ${replies.length} message replies had reached the connector when the response came, expected 1`);
      const reply = replies[0]!.activity;
      if (which === 'echo') {
        if (reply.text !== `echo: ${question}`) throw new Error(`echo turn ${n}: unexpected reply ${JSON.stringify(reply.text)}`);
      } else {
        const card = reply.attachments?.[0];
        if (card?.contentType !== 'application/vnd.microsoft.card.adaptive') throw new Error(`kluis turn ${n}: reply is not an Adaptive Card`);
        if (/\b(Sources|Bronnen)\b/.test(cardText(card.content))) grounded++;
      }
      return elapsed;
    };

    for (let i = 0; i < warmup; i++) {
      await once('kluis', i);
      await once('echo', i);
    }
    grounded = 0;
    c.reset();
    // Interleaved, so drift in machine load over the run hits both bots alike.
    for (let i = 0; i < turns; i++) {
      samples.kluis.push(await once('kluis', i));
      samples.echo.push(await once('echo', i));
    }
    const typing = c.replies.filter((r) => r.activity.type === 'typing').length;
    const messages = c.messages().length;
    const k = summarize(samples.kluis);
    const e = summarize(samples.echo);
    log(`  kluis: p50 ${k.p50.toFixed(2)} ms, p95 ${k.p95.toFixed(2)} ms, max ${k.max.toFixed(1)} ms; echo: p50 ${e.p50.toFixed(2)} ms, p95 ${e.p95.toFixed(2)} ms, max ${e.max.toFixed(1)} ms`);
    log(`  connector received ${messages} messages (expected ${turns * 2}) and ${typing} typing indicators; ${grounded}/${turns} Kluis answers cited sources`);

    const notes = [
      `botTurn: ${turns} turns per bot after ${warmup} warm-up turns each, interleaved, sequential; ${messages} message replies received (expected ${turns * 2}), ${grounded}/${turns} Kluis answers cited sources, ${typing} typing indicators (Kluis sends one per question).`,
    ];
    if (grounded < turns) notes.push(`botTurn: ${turns - grounded} Kluis answers did not cite sources (answered "nothing found"); those turns skip the provider.`);
    return {
      figures: [
        { benchmark: 'botTurn', metric: 'turn median (POST to response)', value: k.p50, unit: 'ms', baseline: { label: 'teams-ai echo bot median', value: e.p50 } },
        { benchmark: 'botTurn', metric: 'turn p95 (POST to response)', value: k.p95, unit: 'ms', baseline: { label: 'teams-ai echo bot p95', value: e.p95 } },
        { benchmark: 'botTurn', metric: 'Kluis overhead per turn (median difference)', value: k.p50 - e.p50, unit: 'ms' },
      ],
      notes,
    };
  } finally {
    await echo?.stop().catch(() => undefined);
    await kluis?.stop().catch(() => undefined);
    await connector?.close().catch(() => undefined);
    await mariadb?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
