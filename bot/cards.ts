/**
 * Adaptive Cards the bot sends. Text from documents, models and users goes into RichTextBlock
 * TextRuns, which render it literally: a passage cannot inject markdown links or formatting.
 */
import type { Answer } from '../api/assistant/assistant';

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.5';
  body: unknown[];
  actions?: unknown[];
}

const SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
const MAX_PASSAGE_PREVIEW = 400;

const LABELS = {
  en: { sources: 'Sources', web: 'Web sources', nothing: 'No matching documents', provider: 'Answered by', quotes: 'quotes from your documents', after: 'after', unavailable: 'was unavailable' },
  nl: { sources: 'Bronnen', web: 'Webbronnen', nothing: 'Geen passende documenten', provider: 'Beantwoord door', quotes: 'citaten uit jullie documenten', after: 'nadat', unavailable: 'niet beschikbaar was' },
};

/** Who answered, with the model, and which providers were tried first (after a fallback). */
export function providerLine(answer: Answer): string {
  const l = LABELS[answer.language];
  const by = answer.provider === 'extractive' ? l.quotes : answer.model ? `${answer.provider} (${answer.model})` : answer.provider;
  const tried = [...new Set((answer.fellBackFrom ?? []).map((f) => f.provider))];
  return tried.length > 0 ? `${l.provider}: ${by}, ${l.after} ${tried.join(', ')} ${l.unavailable}` : `${l.provider}: ${by}`;
}

function literal(text: string, extra: Record<string, unknown> = {}) {
  return { type: 'RichTextBlock', inlines: [{ type: 'TextRun', text, ...extra }] };
}

export function answerCard(answer: Answer): AdaptiveCard {
  const l = LABELS[answer.language];
  const body: unknown[] = [literal(answer.text)];
  if (answer.nothingFound) {
    body.push(literal(l.nothing, { isSubtle: true, size: 'Small' }));
  } else {
    body.push(literal(l.sources, { weight: 'Bolder' }));
    for (const c of answer.citations) {
      const preview = c.passage.length > MAX_PASSAGE_PREVIEW ? `${c.passage.slice(0, MAX_PASSAGE_PREVIEW - 1)}…` : c.passage;
      body.push({
        type: 'Container',
        spacing: 'Small',
        items: [
          { type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: `[${c.number}] ${c.title}`, weight: 'Bolder', ...(c.url ? { selectAction: { type: 'Action.OpenUrl', url: c.url } } : {}) }, { type: 'TextRun', text: ` (${c.sourceRef})`, isSubtle: true }] },
          literal(preview, { isSubtle: true, size: 'Small' }),
        ],
      });
    }
    const web = answer.webCitations ?? [];
    if (web.length > 0) {
      body.push(literal(l.web, { weight: 'Bolder' }));
      for (const w of web) body.push({ type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: `[${w.number}] ${w.title || w.url}`, selectAction: { type: 'Action.OpenUrl', url: w.url } }, ...(w.date ? [{ type: 'TextRun', text: ` (${w.date})`, isSubtle: true }] : [])] });
    }
    body.push(literal(providerLine(answer), { isSubtle: true, size: 'Small' }));
  }
  return { type: 'AdaptiveCard', $schema: SCHEMA, version: '1.5', body };
}

export const HELP_TEXT = {
  en: 'Ask me a question about your organisation\'s documents, in English or Dutch, and I answer with the passages I used as sources. I remember your last few questions in this chat, so you can ask follow-ups; type "new" to start afresh. Type "/image" and a description for a picture. Type "help" to see this again.',
  nl: 'Stel me een vraag over de documenten van je organisatie, in het Nederlands of het Engels, en ik antwoord met de passages die ik als bron gebruikte. Ik onthoud je laatste vragen in deze chat, dus je kunt doorvragen; typ "nieuw" om opnieuw te beginnen. Typ "/afbeelding" en een beschrijving voor een afbeelding. Typ "help" om dit opnieuw te zien.',
};

/**
 * The commands the bot answers, by the words each matches (English and Dutch). bot/teamsBot.ts
 * routes on these, and the app package's command lists may name only words they match.
 */
export const BOT_COMMANDS = {
  help: /^\s*(help|hulp|\?)\s*$/i,
  newConversation: /^\s*(new|nieuw)\s*$/i,
  signIn: /^\s*(sign\s?in|aanmelden)\s*$/i,
  signOut: /^\s*(sign\s?out|afmelden)\s*$/i,
  admin: /^\s*(admin|beheer)\s*$/i,
  myData: /^\s*(my\s?data|mijn\s+gegevens)\s*$/i,
  /** `/image <prompt>`, `image <prompt>`, `afbeelding <prompt>`: the prompt is everything after the word. */
  image: /^\s*\/?(image|afbeelding)(?:\s+([\s\S]*))?$/i,
} as const;

/** The prompt of an image command (empty when the user typed the word alone). */
export function imagePromptOf(text: string): string {
  return (BOT_COMMANDS.image.exec(text)?.[2] ?? '').trim();
}

export const IMAGE_TEXT = {
  usage: {
    en: 'Describe the picture after the command, for example: /image a lighthouse at dusk in watercolour.',
    nl: 'Beschrijf de afbeelding na het commando, bijvoorbeeld: /afbeelding een vuurtoren bij schemering in waterverf.',
  },
  disabled: {
    en: 'Pictures are not enabled for your organisation. An administrator can turn them on.',
    nl: 'Afbeeldingen zijn niet ingeschakeld voor jouw organisatie. Een beheerder kan ze aanzetten.',
  },
  filtered: {
    en: 'I cannot make that picture: the image service declined the request. Please try a different description.',
    nl: 'Die afbeelding kan ik niet maken: de afbeeldingsdienst weigerde het verzoek. Probeer een andere beschrijving.',
  },
  tooLong: {
    en: 'That description is too long for a picture. Please keep it shorter.',
    nl: 'Die beschrijving is te lang voor een afbeelding. Maak haar wat korter.',
  },
  caption: {
    en: 'Here is your picture (AI generated).',
    nl: 'Hier is je afbeelding (gemaakt door AI).',
  },
};

export const NEW_CONVERSATION_TEXT = {
  en: 'Started a new conversation: I no longer use your earlier questions in this chat.',
  nl: 'Nieuw gesprek gestart: ik gebruik je eerdere vragen in deze chat niet meer.',
};

export const SIGN_IN_HELP_TEXT = {
  en: 'Type "signin" to let Kluis read the SharePoint files you may read, and "signout" to stop that.',
  nl: 'Typ "aanmelden" om Kluis de SharePoint-bestanden te laten lezen die jij mag lezen, en "afmelden" om dat te stoppen.',
};

/** The help card; it mentions the sign-in commands only where sign-in is configured. */
export function helpCard(options: { signIn?: boolean } = {}): AdaptiveCard {
  const body: unknown[] = [literal('Kluis', { weight: 'Bolder', size: 'Large' }), literal(HELP_TEXT.en), literal(HELP_TEXT.nl, { isSubtle: true })];
  if (options.signIn) body.push(literal(SIGN_IN_HELP_TEXT.en), literal(SIGN_IN_HELP_TEXT.nl, { isSubtle: true }));
  return { type: 'AdaptiveCard', $schema: SCHEMA, version: '1.5', body };
}

/**
 * Title and text of the OAuth card botbuilder sends for sign-in. Teams shows them only when it
 * cannot sign the user in silently (no consent yet, or the token exchange failed).
 */
export const SIGN_IN_PROMPT = {
  title: 'Sign in / Aanmelden',
  text: 'Sign in so Kluis can read the SharePoint files you may read. / Meld je aan zodat Kluis de SharePoint-bestanden kan lezen die jij mag lezen.',
};

export const SIGN_IN_TEXT = {
  signedIn: {
    en: 'You are signed in; Kluis can now read the SharePoint files you may read.',
    nl: 'Je bent aangemeld; Kluis kan nu de SharePoint-bestanden lezen die jij mag lezen.',
  },
  signedOut: {
    en: 'You are signed out; Kluis no longer reads your SharePoint files.',
    nl: 'Je bent afgemeld; Kluis leest je SharePoint-bestanden niet meer.',
  },
  failed: {
    en: 'Sign-in did not complete. Type "signin" to try again.',
    nl: 'Aanmelden is niet gelukt. Typ "aanmelden" om het opnieuw te proberen.',
  },
  unavailable: {
    en: 'Sign-in is not available right now. Please try again in a minute.',
    nl: 'Aanmelden lukt nu even niet. Probeer het zo opnieuw.',
  },
};

/** A short bilingual notice: the English line, then the Dutch one. */
export function noticeCard(text: { en: string; nl: string }): AdaptiveCard {
  return { type: 'AdaptiveCard', $schema: SCHEMA, version: '1.5', body: [literal(text.en), literal(text.nl, { isSubtle: true })] };
}

export function welcomeCard(): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: SCHEMA,
    version: '1.5',
    body: [
      literal('Welcome to Kluis — welkom bij Kluis', { weight: 'Bolder', size: 'Large' }),
      literal('I answer from your organisation\'s own documents and always show my sources. Your data stays in your organisation\'s Kluis.'),
      literal(HELP_TEXT.en, { isSubtle: true }),
    ],
  };
}

/** For a person whose organisation has not connected Kluis: polite, and no details. */
export function tenantRefusedCard(): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: SCHEMA,
    version: '1.5',
    body: [
      literal('Kluis is not available for your organisation', { weight: 'Bolder' }),
      literal('Your organisation has not connected Kluis yet, so I cannot answer here. Please ask your IT administrator.'),
      literal('Kluis is nog niet gekoppeld aan jouw organisatie. Vraag het aan je IT-beheerder.', { isSubtle: true }),
    ],
  };
}
