/** The tab's and add-in's words in English and Dutch; the language follows the host's locale (Teams, Outlook) or the browser. */
const en = {
  appName: 'Kluis',
  nav: 'Kluis sections',
  chat: 'Chat',
  sources: 'Sources',
  myData: 'My data',
  question: 'Your question',
  questionHint: 'Ask about your organisation’s documents. Enter sends, Shift+Enter starts a new line.',
  send: 'Send',
  newConversation: 'New conversation',
  you: 'You',
  kluis: 'Kluis',
  sourcesUsed: 'Sources',
  nothingFound: 'No document answered this question.',
  working: 'Working…',
  failed: 'Something went wrong',
  sourcesIntro: 'What Kluis may know: the SharePoint libraries and folders it reads, and when they were last synced.',
  sourceName: 'Source',
  lastSynced: 'Last synced',
  schedule: 'Schedule',
  never: 'not yet',
  noSources: 'No SharePoint sources are connected yet.',
  conversationsIntro: 'Your conversations with Kluis. Only you can see them.',
  channel: 'Where',
  started: 'Started',
  updated: 'Last message',
  remove: 'Delete',
  removeLabel: (when: string) => `Delete the conversation of ${when}`,
  removed: 'Conversation deleted.',
  noConversations: 'You have no conversations yet.',
  confirmRemove: 'Delete this conversation? This cannot be undone.',
  signInTitle: 'Sign in to Kluis',
  email: 'Email address',
  password: 'Password',
  code: 'Authenticator code (if asked)',
  signIn: 'Sign in',
  signInTeams: 'Open Kluis in Microsoft Teams to sign in with your Microsoft account, or sign in with your Kluis account here.',
  loading: 'Loading…',
  summarise: 'Summarise this thread',
  ask: 'Ask about this email',
  draft: 'Draft a reply',
  insert: 'Insert into reply',
  inserted: 'The draft is in your reply. Review it before sending.',
  addinIntro: 'Kluis reads this email only when you choose an action below.',
  questionAboutMail: 'Your question about this email',
  result: 'Result',
  signInNeeded: 'Sign in to use Kluis.',
  signInButton: 'Sign in',
  readMode: 'Open a reply to insert a draft.',
};

type Strings = typeof en;

const nl: Strings = {
  appName: 'Kluis',
  nav: 'Onderdelen van Kluis',
  chat: 'Chat',
  sources: 'Bronnen',
  myData: 'Mijn gegevens',
  question: 'Je vraag',
  questionHint: 'Vraag naar de documenten van je organisatie. Enter verstuurt, Shift+Enter begint een nieuwe regel.',
  send: 'Versturen',
  newConversation: 'Nieuw gesprek',
  you: 'Jij',
  kluis: 'Kluis',
  sourcesUsed: 'Bronnen',
  nothingFound: 'Geen enkel document beantwoordde deze vraag.',
  working: 'Bezig…',
  failed: 'Er ging iets mis',
  sourcesIntro: 'Wat Kluis mag weten: de SharePoint-bibliotheken en -mappen die het leest, en wanneer ze laatst gesynchroniseerd zijn.',
  sourceName: 'Bron',
  lastSynced: 'Laatst gesynchroniseerd',
  schedule: 'Planning',
  never: 'nog niet',
  noSources: 'Er zijn nog geen SharePoint-bronnen gekoppeld.',
  conversationsIntro: 'Je gesprekken met Kluis. Alleen jij ziet ze.',
  channel: 'Waar',
  started: 'Begonnen',
  updated: 'Laatste bericht',
  remove: 'Verwijderen',
  removeLabel: (when: string) => `Verwijder het gesprek van ${when}`,
  removed: 'Gesprek verwijderd.',
  noConversations: 'Je hebt nog geen gesprekken.',
  confirmRemove: 'Dit gesprek verwijderen? Dit kan niet ongedaan gemaakt worden.',
  signInTitle: 'Aanmelden bij Kluis',
  email: 'E-mailadres',
  password: 'Wachtwoord',
  code: 'Code uit je authenticator-app (indien gevraagd)',
  signIn: 'Aanmelden',
  signInTeams: 'Open Kluis in Microsoft Teams om je aan te melden met je Microsoft-account, of meld je hier aan met je Kluis-account.',
  loading: 'Laden…',
  summarise: 'Vat deze thread samen',
  ask: 'Vraag iets over deze e-mail',
  draft: 'Stel een antwoord op',
  insert: 'In antwoord invoegen',
  inserted: 'Het concept staat in je antwoord. Lees het na voor je het verstuurt.',
  addinIntro: 'Kluis leest deze e-mail alleen als je hieronder een actie kiest.',
  questionAboutMail: 'Je vraag over deze e-mail',
  result: 'Resultaat',
  signInNeeded: 'Meld je aan om Kluis te gebruiken.',
  signInButton: 'Aanmelden',
  readMode: 'Open een antwoord om een concept in te voegen.',
};

export type Language = 'nl' | 'en';
export type { Strings };

/** 'nl', 'nl-nl', 'nl-BE' → Dutch; anything else → English. */
export function languageOf(locale: string | undefined): Language {
  return /^nl\b/i.test(locale ?? '') ? 'nl' : 'en';
}

export function stringsFor(language: Language): Strings {
  return language === 'nl' ? nl : en;
}

export function formatDate(value: string | undefined, language: Language): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toLocaleString(language === 'nl' ? 'nl-BE' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}
