/**
 * The bot hands a signed-in user's Graph token to the question as delegated access, and asks
 * without it for a user who is not signed in or when the Token Service cannot be reached. The turn
 * runs through the real teams-ai Application; the Token Service is a stand-in UserTokenClient in
 * the turn state (where botbuilder's CloudAdapter puts its own), and replies are captured before
 * they would leave.
 */
import { randomUUID } from 'node:crypto';
import { ActivityTypes, TurnContext, type Activity } from 'botbuilder';
import pino from 'pino';
import type { AnswerContext, Assistant } from '../api/assistant/assistant';
import type { DelegatedAccess } from '../api/knowledge/ports';
import type { Principal } from '../api/tenancy/principal';
import { createBotAdapter } from './botAdapter';
import { createTeamsBot, setTurnPrincipal } from './teamsBot';

const CONNECTION = 'Kluis Graph';
const principal: Principal = { workspaceId: randomUUID(), tenantId: randomUUID(), userId: randomUUID(), roles: ['user'], authMethod: 'bot-framework' };

function setup(options: { signIn?: boolean; delegated?: boolean } = {}) {
  const adapter = createBotAdapter({ appType: 'MultiTenant' } as Parameters<typeof createBotAdapter>[0]);
  const contexts: AnswerContext[] = [];
  const built: string[] = [];
  const sent: Array<Partial<Activity>> = [];
  const assistant: Assistant = {
    async answer(_principal, _question, context) {
      contexts.push(context);
      return { text: 'An answer.', citations: [], provider: 'none', language: 'en', nothingFound: false };
    },
    async startNewConversation() {},
  };
  const app = createTeamsBot({
    adapter,
    assistant,
    logger: pino({ level: 'silent' }),
    signIn: options.signIn === false ? undefined : { connectionName: CONNECTION, securityEvents: { record: async () => undefined } },
    delegatedAccess:
      options.delegated === false
        ? undefined
        : (token): DelegatedAccess => {
            built.push(token);
            return { canOpen: async () => new Map() };
          },
  });

  /** One message turn of `userId`; `token`: what the Token Service holds for the user ('fail': it cannot be reached). */
  async function ask(text: string, token?: string | 'fail', userId = `29:${randomUUID()}`) {
    const activity = {
      type: ActivityTypes.Message,
      id: randomUUID(),
      channelId: 'msteams',
      serviceUrl: 'https://smba.trafficmanager.net/emea/',
      from: { id: userId, aadObjectId: randomUUID(), name: 'Alex' },
      recipient: { id: `28:${randomUUID()}`, name: 'Kluis' },
      conversation: { id: `a:${randomUUID()}`, conversationType: 'personal', tenantId: principal.tenantId },
      channelData: { tenant: { id: principal.tenantId } },
      text,
    } as Partial<Activity>;
    const context = new TurnContext(adapter, activity);
    const lookups: Array<{ connectionName: string; channelId: string }> = [];
    context.turnState.set(adapter.UserTokenClientKey, {
      async getUserToken(_userId: string, connectionName: string, channelId: string) {
        lookups.push({ connectionName, channelId });
        if (token === 'fail') throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'FetchError' });
        return token ? { connectionName, token, expiration: new Date(Date.now() + 3_600_000).toISOString() } : undefined;
      },
    });
    context.onSendActivities(async (_context, activities) => {
      sent.push(...activities);
      return activities.map(() => ({ id: randomUUID() }));
    });
    setTurnPrincipal(context, principal);
    await app.run(context);
    return { lookups };
  }

  return { ask, contexts, built, sent };
}

describe('delegated access from the bot', () => {
  it("passes a signed-in user's Graph token through to the question as delegated access", async () => {
    const bot = setup();
    const alex = `29:${randomUUID()}`;
    await bot.ask('signin', 'graph-token-of-alex', alex);
    expect(JSON.stringify(bot.sent)).toContain('You are signed in');

    const { lookups } = await bot.ask('What is the travel policy?', 'graph-token-of-alex', alex);

    expect(bot.built).toEqual(['graph-token-of-alex']);
    expect(bot.contexts).toHaveLength(1);
    expect(bot.contexts[0]!.access).toBeDefined();
    expect(lookups).toEqual([{ connectionName: CONNECTION, channelId: 'msteams' }]);
    // The token itself goes nowhere else: not into a reply.
    expect(JSON.stringify(bot.sent)).not.toContain('graph-token-of-alex');
  });

  it('asks without delegated access, and without a Token Service call, for a user who never signed in here', async () => {
    const bot = setup();
    const { lookups } = await bot.ask('What is the travel policy?', 'graph-token-of-someone');

    expect(lookups).toEqual([]);
    expect(bot.built).toEqual([]);
    expect(bot.contexts[0]!.access).toBeUndefined();
  });

  it('asks without delegated access once the user signed out', async () => {
    const bot = setup();
    const alex = `29:${randomUUID()}`;
    await bot.ask('signin', 'graph-token-of-alex', alex);
    bot.contexts.length = 0;
    // Sign-out itself calls the Token Service, which this stand-in does not offer: it fails, and the user is told so.
    await bot.ask('signout', 'graph-token-of-alex', alex);
    const { lookups } = await bot.ask('What is the travel policy?', 'graph-token-of-alex', alex);

    expect(lookups).toEqual([]);
    expect(bot.contexts[0]!.access).toBeUndefined();
  });

  it('asks without delegated access when the Token Service cannot be reached, and still answers', async () => {
    const bot = setup();
    const alex = `29:${randomUUID()}`;
    await bot.ask('signin', 'graph-token-of-alex', alex);
    await bot.ask('What is the travel policy?', 'fail', alex);

    expect(bot.contexts).toHaveLength(1);
    expect(bot.contexts[0]!.access).toBeUndefined();
  });

  it('stops asking the Token Service for a user whose token is gone', async () => {
    const bot = setup();
    const alex = `29:${randomUUID()}`;
    await bot.ask('signin', 'graph-token-of-alex', alex);
    expect((await bot.ask('What is the travel policy?', undefined, alex)).lookups).toHaveLength(1);
    expect((await bot.ask('What is the travel policy?', 'graph-token-of-alex', alex)).lookups).toHaveLength(0);
    expect(bot.contexts.map((c) => c.access)).toEqual([undefined, undefined]);
  });

  it('never looks a token up without sign-in configured, or without delegated access wired', async () => {
    for (const options of [{ signIn: false }, { delegated: false }]) {
      const bot = setup(options);
      const alex = `29:${randomUUID()}`;
      if (options.signIn !== false) await bot.ask('signin', 'graph-token-of-alex', alex);
      const { lookups } = await bot.ask('What is the travel policy?', 'graph-token-of-alex', alex);
      expect(lookups).toEqual([]);
      expect(bot.contexts[0]!.access).toBeUndefined();
    }
  });
});
