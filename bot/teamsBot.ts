/**
 * The Teams bot: a teams-ai Application whose handlers translate activities into calls on the
 * assistant and turn the results into cards. It holds no rules of its own.
 *
 * A user signed in through the OAuth connection (bot/signIn.ts) asks with their own delegated
 * Graph access: their token, from teams-ai's turn state or the Token Service, becomes the
 * `access` of the question (`delegatedAccess`, built in api/main.ts), so SharePoint confirms the
 * passages before they are used. The Token Service is asked only for users who signed in through
 * this process (remembered in memory, like the rest of sign-in state), so a user who never signed
 * in costs no Token Service call; a user not signed in asks without delegated access.
 */
import { ActivityTypes, CardFactory, INVOKE_RESPONSE_KEY, MemoryStorage, StatusCodes, type TurnContext } from 'botbuilder';
import { Application, type ApplicationOptions, type TurnState } from '@microsoft/teams-ai';
import type { Logger } from 'pino';
import type { Assistant } from '../api/assistant/assistant';
import type { Feedback } from '../api/assistant/feedback';
import type { Images } from '../api/assistant/images';
import { isKluisError, fail } from '../api/errors';
import type { SecurityEventLog } from '../api/identity/ports';
import { errorIdOf, tracing } from '../api/operations/tracing';
import type { DelegatedAccess } from '../api/knowledge/ports';
import type { Principal } from '../api/tenancy/principal';
import { BOT_COMMANDS, helpCard, NEW_CONVERSATION_TEXT, noticeCard, SIGN_IN_TEXT, welcomeCard } from './cards';
import { isPersonalChat, PROBLEM_TEXT, sendAnswerCard, streamAnswer } from './answerReply';
import { replyWithImage } from './imageReply';
import type { TurnLimiter } from '../api/assistant/turnLimiter';
import { keepEntityProperties } from './entityWire';
import type { KluisBotAdapter } from './botAdapter';
import { createSignInGuard, GRAPH_SIGN_IN, PendingSignIns, signInSettings } from './signIn';
import { registerAdminPanel, type AdminPanelDeps } from './admin/panel';
import { createMyData, type MyDataDeps } from './myData';

const PRINCIPAL_KEY = 'kluis.principal';

export function setTurnPrincipal(context: TurnContext, principal: Principal): void {
  context.turnState.set(PRINCIPAL_KEY, principal);
}

function turnPrincipal(context: TurnContext): Principal {
  const principal = context.turnState.get(PRINCIPAL_KEY) as Principal | undefined;
  // The messages route resolves the principal before every turn; a turn without one is a bug.
  if (!principal) throw new TypeError('Turn reached the bot without a Principal');
  return principal;
}

const WELCOME_DEDUPE_MS = 60_000;
/** Bounds memory: users remembered as signed in (the oldest are forgotten first). */
const MAX_SIGNED_IN_USERS = 10_000;

export interface TeamsBotDeps {
  adapter: KluisBotAdapter;
  botAppId?: string;
  assistant: Assistant;
  logger: Logger;
  /** Teams SSO (bot/signIn.ts); without it the bot has no sign-in and no sign-in commands. */
  signIn?: { connectionName: string; securityEvents: SecurityEventLog };
  /** Delegated access from a signed-in user's Graph token (only used together with `signIn`). */
  delegatedAccess?: (graphToken: string) => DelegatedAccess;
  /** The admin panel (bot/admin); without it the `admin` command is an ordinary question. */
  admin?: AdminPanelDeps;
  /** The "my data" card (bot/myData.ts); without it `my data` is an ordinary question. */
  myData?: MyDataDeps;
  /** Thumbs up/down on streamed answers (Teams' feedback loop); without it the loop is not offered. */
  feedback?: Feedback;
  /** Pictures for `/image`; without it, or without a configured provider, the command says they are off. */
  images?: Images;
  /** Turns per user and workspace per minute, shared across replicas; without it no limit. */
  turns?: TurnLimiter;
}

export function createTeamsBot(deps: TeamsBotDeps): Application<TurnState> {
  // Citations, the AI label and stream information travel in entities (bot/entityWire.ts).
  keepEntityProperties();
  const pending = new PendingSignIns();
  // Users who signed in here, by channel and user id (the Token Service's key for their token).
  const signedInUsers = new Set<string>();
  const userKey = (context: TurnContext) => `${context.activity.channelId}:${context.activity.from?.id ?? ''}`;
  const rememberSignedIn = (context: TurnContext) => {
    const key = userKey(context);
    signedInUsers.delete(key);
    if (signedInUsers.size >= MAX_SIGNED_IN_USERS) signedInUsers.delete(signedInUsers.values().next().value as string);
    signedInUsers.add(key);
  };
  const signIn = deps.signIn;
  if (signIn) {
    // Before the Application: its constructor adds the middleware that exchanges tokens.
    deps.adapter.use(
      createSignInGuard({
        connectionName: signIn.connectionName,
        pending,
        async onRefused(context, reason) {
          const a = context.activity;
          const tenantId = (a.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id ?? a.conversation?.tenantId;
          deps.logger.warn({ reason, invoke: a.name, tenantId }, 'bot sign-in invoke refused');
          await signIn.securityEvents.record({ tenantId, kind: 'bot.sign_in_refused', outcome: 'refused', detail: { reason, invoke: String(a.name ?? '') } });
        },
      }),
    );
  }

  const options: Partial<ApplicationOptions<TurnState>> = {
    adapter: deps.adapter,
    botAppId: deps.botAppId ?? '',
    removeRecipientMention: true,
    startTypingTimer: false,
    longRunningMessages: false,
  };
  if (signIn) {
    // The OAuth prompt keeps its dialog state between the `signin` message and Teams' invoke.
    options.storage = new MemoryStorage();
    options.authentication = {
      settings: { [GRAPH_SIGN_IN]: signInSettings(signIn.connectionName) },
      // teams-ai defaults to starting sign-in before EVERY activity; Kluis answers questions from
      // its own documents without one, and signs in only on the `signin` command.
      autoSignIn: false,
    };
  }
  const app = new Application<TurnState>(options);

  const sendCard = (context: TurnContext, card: object, summary: string) => context.sendActivity({ attachments: [CardFactory.adaptiveCard(card)], summary });
  const help = () => helpCard({ signIn: !!signIn });

  // Teams sends both installationUpdate and conversationUpdate when the app is added; welcome once.
  const welcomed = new Map<string, number>();
  const welcome = async (context: TurnContext) => {
    const now = Date.now();
    for (const [id, at] of welcomed) if (now - at > WELCOME_DEDUPE_MS) welcomed.delete(id);
    const conversationId = context.activity.conversation.id;
    if (welcomed.has(conversationId)) return;
    welcomed.set(conversationId, now);
    await sendCard(context, welcomeCard(), 'Welcome to Kluis');
  };

  app.conversationUpdate('membersAdded', async (context) => {
    const botId = context.activity.recipient?.id;
    if (context.activity.membersAdded?.some((m) => m.id === botId)) await welcome(context);
  });

  app.activity('installationUpdate', async (context) => {
    if (String(context.activity.action ?? '').startsWith('add')) await welcome(context);
  });

  app.message(BOT_COMMANDS.help, async (context) => {
    await sendCard(context, help(), 'Kluis help');
  });

  app.message(BOT_COMMANDS.newConversation, async (context) => {
    const principal = turnPrincipal(context);
    await deps.assistant.startNewConversation(principal, { channel: 'teams', conversationExternalId: context.activity.conversation.id });
    await sendCard(context, noticeCard(NEW_CONVERSATION_TEXT), 'New conversation');
  });

  if (deps.admin) registerAdminPanel(app, deps.admin);

  if (deps.myData) {
    const myData = createMyData(deps.myData);
    myData.register(app);
    app.message(BOT_COMMANDS.myData, (context) => myData.open(context));
  }

  /** False (and the user told to slow down) when the user or workspace is over its turn limit. */
  const admitted = async (context: TurnContext, principal: { workspaceId: string; userId: string }): Promise<boolean> => {
    try {
      await deps.turns?.admit(principal);
      return true;
    } catch (error) {
      if (!isKluisError(error, 'turn_rate_limited')) throw error;
      await context.sendActivity(PROBLEM_TEXT.tooFast(error.retryAfterSeconds ?? 60));
      return false;
    }
  };

  app.message(BOT_COMMANDS.image, async (context) => {
    const principal = turnPrincipal(context);
    if (!(await admitted(context, principal))) return;
    await replyWithImage(context, principal, deps.images, deps.logger);
  });

  const feedback = deps.feedback;
  if (feedback) {
    // Teams names the reply the user rated; the answer behind it is looked up in the rater's own
    // workspace only. A refusal throws, so the invoke gets the error's status and nothing is stored.
    app.feedbackLoop(async (context, _state, data) => {
      await feedback.recordForReply(turnPrincipal(context), data.replyToId, feedbackInputOf(data.actionValue));
    });
  }

  if (signIn) {
    // The token is only checked for presence here; it is never sent, logged or stored by Kluis.
    const confirmSignedIn = async (context: TurnContext, state: TurnState) => {
      const signedIn = !!state.temp.authTokens?.[GRAPH_SIGN_IN];
      if (signedIn) rememberSignedIn(context);
      await sendCard(context, noticeCard(signedIn ? SIGN_IN_TEXT.signedIn : SIGN_IN_TEXT.failed), signedIn ? 'Signed in' : 'Sign-in did not complete');
    };
    const auth = app.authentication.get(GRAPH_SIGN_IN);
    auth.onUserSignInSuccess(confirmSignedIn);
    auth.onUserSignInFailure(async (context, _state, error) => {
      // Only the cause: the message can quote a Token Service response.
      deps.logger.warn({ cause: error.cause, invoke: context.activity.name }, 'bot sign-in did not complete');
      if (context.activity.type === ActivityTypes.Invoke && !context.turnState.get(INVOKE_RESPONSE_KEY)) {
        await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: StatusCodes.PRECONDITION_FAILED } });
      }
      await sendCard(context, noticeCard(SIGN_IN_TEXT.failed), 'Sign-in did not complete');
    });

    app.message(BOT_COMMANDS.signIn, async (context, state) => {
      // Signed in already: the token is in state.temp.authTokens. Otherwise botbuilder sends the
      // OAuth card and the sign-in completes in Teams' invoke (onUserSignInSuccess).
      const result = await app.authentication.signUserIn(context, state, GRAPH_SIGN_IN);
      if (result.status === 'complete') await confirmSignedIn(context, state);
      else if (result.status === 'error') {
        deps.logger.error({ cause: result.cause, ...tokenServiceFailure(result.error) }, 'bot sign-in could not start: Token Service call failed');
        await sendCard(context, noticeCard(SIGN_IN_TEXT.unavailable), 'Sign-in unavailable');
      }
    });

    app.message(BOT_COMMANDS.signOut, async (context, state) => {
      pending.forget(context);
      signedInUsers.delete(userKey(context));
      try {
        await app.authentication.signOutUser(context, state, GRAPH_SIGN_IN);
      } catch (error) {
        deps.logger.error(tokenServiceFailure(error), 'bot sign-out failed: Token Service call failed');
        await sendCard(context, noticeCard(SIGN_IN_TEXT.unavailable), 'Sign-out unavailable');
        return;
      }
      await sendCard(context, noticeCard(SIGN_IN_TEXT.signedOut), 'Signed out');
    });
  }

  /**
   * The signed-in user's Graph token: in the turn state when this turn signed them in, else from
   * the Token Service (which holds it after sign-in). Not signed in, or the Token Service out of
   * reach: no delegated access, and the question is answered from what the stored acls allow.
   */
  const graphTokenOf = async (context: TurnContext, state: TurnState): Promise<string | undefined> => {
    if (!signIn || !deps.delegatedAccess) return undefined;
    const inState = state.temp.authTokens?.[GRAPH_SIGN_IN];
    if (inState) return inState;
    if (!signedInUsers.has(userKey(context))) return undefined;
    try {
      const token = (await app.authentication.get(GRAPH_SIGN_IN).isUserSignedIn(context)) || undefined;
      // Signed out elsewhere, or the token expired past refresh: stop asking until they sign in again.
      if (!token) signedInUsers.delete(userKey(context));
      return token;
    } catch (error) {
      deps.logger.warn(tokenServiceFailure(error), 'signed-in token unavailable: answering without delegated access');
      return undefined;
    }
  };

  // The turn's span: channel, conversation type and workspace; never the message or the reply.
  app.activity(ActivityTypes.Message, (context, state) => tracing().span('bot.turn', { 'kluis.channel': 'teams', 'kluis.conversation.type': conversationTypeOf(context) }, async (turn) => {
    const question = (context.activity.text ?? '').trim();
    if (!question) {
      await sendCard(context, help(), 'Kluis help');
      return;
    }
    const principal = turnPrincipal(context);
    turn.set({ 'kluis.workspace.id': principal.workspaceId, 'kluis.streamed': isPersonalChat(context) });
    if (!(await admitted(context, principal))) return;
    const token = await graphTokenOf(context, state);
    const access = token && deps.delegatedAccess ? deps.delegatedAccess(token) : undefined;
    const answerContext = { channel: 'teams', conversationExternalId: context.activity.conversation.id, access };
    const failed = (error: unknown) => {
      turn.fail(errorIdOf(error));
      deps.logger.error({ err: error, workspaceId: principal.workspaceId, errorId: isKluisError(error) ? error.id : 'unexpected' }, 'answering failed');
    };
    if (isPersonalChat(context)) {
      const streamed = await streamAnswer(context, (events) => deps.assistant.answer(principal, question, answerContext, events), problemTextOf, { feedback: !!feedback });
      if ('error' in streamed) return failed(streamed.error);
      if (feedback && streamed.answer?.messageId && streamed.replyActivityId) {
        await feedback.linkReply(principal, streamed.answer.messageId, streamed.replyActivityId).catch((error: unknown) => {
          // The answer stands; only rating it from Teams will not find it.
          deps.logger.warn({ err: error, workspaceId: principal.workspaceId }, 'reply activity of an answer could not be recorded');
        });
      }
      return;
    }
    // Group chats and channels cannot stream: one final message.
    await context.sendActivity({ type: ActivityTypes.Typing });
    try {
      await sendAnswerCard(context, await deps.assistant.answer(principal, question, answerContext));
    } catch (error) {
      failed(error);
      await context.sendActivity(problemTextOf(error));
    }
  }));

  return app;
}

/** Teams' conversation types are a closed set; anything else is traced as `other`. */
const conversationTypeOf = (context: TurnContext) => {
  const type = context.activity.conversation?.conversationType;
  return type === 'personal' || type === 'groupChat' || type === 'channel' ? type : 'other';
};

const problemTextOf = (error: unknown) =>
  isKluisError(error, 'provider_unavailable') ? PROBLEM_TEXT.unavailable : isKluisError(error, 'store_unavailable') ? PROBLEM_TEXT.storeDown : PROBLEM_TEXT.failed;

/**
 * Teams' feedback as Kluis's feedback input: the reaction, and the text the user typed, which Teams
 * sends as a JSON string `{"feedbackText": "..."}` (or, from older clients, as plain text).
 */
function feedbackInputOf(actionValue: unknown): { reaction: unknown; comment?: unknown } {
  if (!actionValue || typeof actionValue !== 'object' || Array.isArray(actionValue)) fail('request_malformed', 'Feedback invoke without an actionValue object');
  const { reaction, feedback } = actionValue as { reaction?: unknown; feedback?: unknown };
  let comment: unknown = feedback;
  if (typeof feedback === 'string') {
    try {
      const parsed = JSON.parse(feedback) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) comment = (parsed as { feedbackText?: unknown }).feedbackText;
    } catch {
      comment = feedback;
    }
  } else if (feedback && typeof feedback === 'object' && !Array.isArray(feedback)) {
    comment = (feedback as { feedbackText?: unknown }).feedbackText;
  }
  return comment === undefined || comment === '' ? { reaction } : { reaction, comment };
}

/** What may be logged of a failed Token Service call: its HTTP status and error name, no request. */
function tokenServiceFailure(error: unknown): { status?: number; error: string } {
  const e = error as { statusCode?: unknown; name?: unknown } | undefined;
  return { ...(typeof e?.statusCode === 'number' ? { status: e.statusCode } : {}), error: typeof e?.name === 'string' ? e.name : 'unknown' };
}
