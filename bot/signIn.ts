/**
 * Teams single sign-on for the bot, on teams-ai's OAuth authentication ("Enable SSO for your bot
 * app" and "Add code to enable SSO in your bot app", Microsoft Learn, Teams platform; "User
 * authentication in the Azure AI Bot Service"). The flow:
 *
 * 1. The user types `signin`. botbuilder asks the Bot Framework Token Service for the user's token
 *    (GetToken); without one it fetches a sign-in resource (GetSignInResource) and sends an OAuth
 *    card carrying the connection name and a `tokenExchangeResource` with a fresh exchange id.
 * 2. Teams sees the exchange resource, gets an SSO token for the user silently and sends the bot a
 *    `signin/tokenExchange` invoke `{ id, connectionName, token }`. botbuilder exchanges it at the
 *    Token Service (api/usertoken/exchange) and answers 200; when the exchange fails it answers 412
 *    Precondition Failed, and Teams falls back to the card's sign-in button, which ends in a
 *    `signin/verifyState` invoke with a code the Token Service redeems (GetToken with `code`).
 *
 * What Kluis adds in front of botbuilder's handling is `createSignInGuard`: an invoke is only
 * exchanged or redeemed when it answers an OAuth card this bot sent to the same user in the same
 * conversation within the sign-in timeout, and names this bot's connection. Any other invoke — a
 * stale card, an id never issued, a card sent to someone else in a group chat — is refused before
 * the Token Service is called, so no Teams token is exchanged on behalf of a sign-in Kluis did not
 * start. The Teams SSO token and the user's token never appear in replies or logs.
 *
 * Sign-in state (the OAuth prompt's dialog state, teams-ai's exchange de-duplication and the
 * pending exchange ids below) lives in this process's memory, so a Kluis with sign-in runs as one
 * instance or behind sticky sessions.
 */
import { ActivityTypes, CardFactory, StatusCodes, tokenExchangeOperationName, verifyStateOperationName, type Activity, type TurnContext } from 'botbuilder';
import type { OAuthSettings } from '@microsoft/teams-ai';
import { SIGN_IN_PROMPT } from './cards';

/** teams-ai's name for Kluis's one authentication setting; the token lands in state.temp.authTokens[GRAPH_SIGN_IN]. */
export const GRAPH_SIGN_IN = 'graph';

/** How long a sign-in card stays answerable: botbuilder's OAuthPrompt default of 15 minutes, set explicitly. */
export const SIGN_IN_TIMEOUT_MS = 15 * 60_000;

/** Bounds memory: conversations with a pending sign-in, and cards remembered per user and conversation. */
const MAX_PENDING_CONVERSATIONS = 10_000;
const MAX_CARDS_PER_USER = 5;

export function signInSettings(connectionName: string): OAuthSettings {
  return {
    connectionName,
    title: SIGN_IN_PROMPT.title,
    text: SIGN_IN_PROMPT.text,
    // Put the Token Service's tokenExchangeResource on the OAuth card, so Teams exchanges silently.
    enableSso: true,
    timeout: SIGN_IN_TIMEOUT_MS,
    // A message typed while a card is pending is a new request, not an answer to the prompt:
    // `signin` again starts afresh instead of being swallowed by the waiting prompt.
    endOnInvalidMessage: true,
  };
}

export type SignInRefusal = 'connection_mismatch' | 'malformed' | 'unknown_exchange_id' | 'no_pending_sign_in';

/** OAuth cards Kluis sent, per channel, conversation and user, until they expire. */
export class PendingSignIns {
  private readonly cards = new Map<string, Array<{ exchangeId?: string; expiresAt: number }>>();

  constructor(private readonly now: () => number = Date.now) {}

  remember(context: TurnContext, exchangeId: string | undefined): void {
    const key = pendingKey(context.activity);
    if (!key) return;
    const now = this.now();
    const cards = (this.cards.get(key) ?? []).filter((c) => c.expiresAt > now);
    cards.push({ exchangeId, expiresAt: now + SIGN_IN_TIMEOUT_MS });
    this.cards.delete(key);
    this.cards.set(key, cards.slice(-MAX_CARDS_PER_USER));
    if (this.cards.size > MAX_PENDING_CONVERSATIONS) {
      for (const [k, v] of this.cards) if (v.every((c) => c.expiresAt <= now)) this.cards.delete(k);
      const oldest = this.cards.keys().next();
      if (this.cards.size > MAX_PENDING_CONVERSATIONS && !oldest.done) this.cards.delete(oldest.value);
    }
  }

  /** Whether an unexpired card for this user and conversation carries `exchangeId` (any card when undefined). */
  has(context: TurnContext, exchangeId?: string): boolean {
    const key = pendingKey(context.activity);
    const now = this.now();
    return !!key && (this.cards.get(key) ?? []).some((c) => c.expiresAt > now && (exchangeId === undefined || c.exchangeId === exchangeId));
  }

  forget(context: TurnContext): void {
    const key = pendingKey(context.activity);
    if (key) this.cards.delete(key);
  }
}

function pendingKey(activity: Partial<Activity>): string | undefined {
  const conversationId = activity.conversation?.id;
  const userId = activity.from?.id;
  if (!conversationId || !userId || !activity.channelId) return undefined;
  return JSON.stringify([activity.channelId, conversationId, userId]);
}

export interface SignInGuardOptions {
  connectionName: string;
  pending: PendingSignIns;
  /** Told about every refused invoke (for the security event log); never given the token. */
  onRefused(context: TurnContext, reason: SignInRefusal): Promise<void>;
}

/**
 * Adapter middleware. It must be registered before the teams-ai Application is constructed:
 * the Application's constructor adds botbuilder's TeamsSSOTokenExchangeMiddleware, which calls
 * the Token Service as soon as a `signin/tokenExchange` invoke arrives, and middleware runs in the
 * order it was added.
 */
export function createSignInGuard(options: SignInGuardOptions) {
  return async (context: TurnContext, next: () => Promise<void>): Promise<void> => {
    context.onSendActivities(async (ctx, activities, sendNext) => {
      for (const activity of activities) {
        for (const attachment of activity.attachments ?? []) {
          const card = attachment.content as { connectionName?: unknown; tokenExchangeResource?: { id?: unknown } } | undefined;
          if (attachment.contentType === CardFactory.contentTypes.oauthCard && card?.connectionName === options.connectionName) {
            options.pending.remember(ctx, typeof card.tokenExchangeResource?.id === 'string' ? card.tokenExchangeResource.id : undefined);
          }
        }
      }
      return sendNext();
    });

    const activity = context.activity;
    if (activity.type !== ActivityTypes.Invoke || (activity.name !== tokenExchangeOperationName && activity.name !== verifyStateOperationName)) {
      await next();
      return;
    }
    const value = (activity.value && typeof activity.value === 'object' ? activity.value : {}) as Record<string, unknown>;
    const refusal = activity.name === tokenExchangeOperationName ? checkTokenExchange(value, options, context) : options.pending.has(context) ? undefined : 'no_pending_sign_in';
    if (refusal) {
      await options.onRefused(context, refusal);
      await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: refusalResponse(activity.name!, value, refusal, options.connectionName) });
      return;
    }
    // teams-ai routes sign-in invokes by this field (its own run loop sets it only during
    // automatic sign-in, which Kluis leaves off); whatever the client put there is replaced.
    activity.value = { ...value, settingName: GRAPH_SIGN_IN };
    await next();
  };
}

function checkTokenExchange(value: Record<string, unknown>, options: SignInGuardOptions, context: TurnContext): SignInRefusal | undefined {
  if (value.connectionName !== options.connectionName) return 'connection_mismatch';
  if (typeof value.id !== 'string' || !value.id || typeof value.token !== 'string' || !value.token) return 'malformed';
  return options.pending.has(context, value.id) ? undefined : 'unknown_exchange_id';
}

/**
 * A foreign connection or a malformed request gets 400, as botbuilder's OAuthPrompt answers them.
 * An exchange id Kluis did not issue to this user gets 412 with a TokenExchangeInvokeResponse:
 * Teams then shows the card's sign-in button instead of failing ("Add code to enable SSO in your
 * bot app": a failed exchange is answered with 412 so the client falls back to the sign-in card).
 */
function refusalResponse(name: string, value: Record<string, unknown>, refusal: SignInRefusal, connectionName: string) {
  const status = refusal === 'connection_mismatch' || refusal === 'malformed' ? StatusCodes.BAD_REQUEST : StatusCodes.PRECONDITION_FAILED;
  if (name !== tokenExchangeOperationName) return { status };
  return { status, body: { id: typeof value.id === 'string' ? value.id.slice(0, 256) : undefined, connectionName, failureDetail: 'The bot is unable to exchange token. Proceed with regular login.' } };
}
