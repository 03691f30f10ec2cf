/**
 * The Teams bot: a teams-ai Application whose handlers translate activities into calls on the
 * assistant and turn the results into cards. It holds no rules of its own.
 */
import { ActivityTypes, CardFactory, type TurnContext } from 'botbuilder';
import { Application, type TurnState } from '@microsoft/teams-ai';
import type { Logger } from 'pino';
import type { Assistant } from '../api/assistant/assistant';
import { isKluisError } from '../api/errors';
import type { Principal } from '../api/tenancy/principal';
import { answerCard, helpCard, welcomeCard } from './cards';
import type { KluisBotAdapter } from './botAdapter';

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

const PROBLEM_TEXT = {
  unavailable: 'The language model is busy or unreachable right now, so I could not answer. Please try again in a minute. / Het taalmodel is even niet bereikbaar; probeer het zo opnieuw.',
  failed: 'Something went wrong while answering; the error was logged. Please try again. / Er ging iets mis bij het antwoorden; probeer het opnieuw.',
};

export function createTeamsBot(deps: { adapter: KluisBotAdapter; botAppId?: string; assistant: Assistant; logger: Logger }): Application<TurnState> {
  const app = new Application<TurnState>({
    adapter: deps.adapter,
    botAppId: deps.botAppId ?? '',
    removeRecipientMention: true,
    startTypingTimer: false,
    longRunningMessages: false,
  });

  const sendCard = (context: TurnContext, card: object, summary: string) => context.sendActivity({ attachments: [CardFactory.adaptiveCard(card)], summary });

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

  app.message(/^\s*(help|hulp|\?)\s*$/i, async (context) => {
    await sendCard(context, helpCard(), 'Kluis help');
  });

  app.activity(ActivityTypes.Message, async (context) => {
    const question = (context.activity.text ?? '').trim();
    if (!question) {
      await sendCard(context, helpCard(), 'Kluis help');
      return;
    }
    const principal = turnPrincipal(context);
    await context.sendActivity({ type: ActivityTypes.Typing });
    try {
      const answer = await deps.assistant.answer(principal, question, { channel: 'teams', conversationExternalId: context.activity.conversation.id });
      await sendCard(context, answerCard(answer), answer.text.slice(0, 200));
    } catch (error) {
      deps.logger.error({ err: error, workspaceId: principal.workspaceId, errorId: isKluisError(error) ? error.id : 'unexpected' }, 'answering failed');
      await context.sendActivity(isKluisError(error, 'provider_unavailable') ? PROBLEM_TEXT.unavailable : PROBLEM_TEXT.failed);
    }
  });

  return app;
}
