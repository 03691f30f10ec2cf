/**
 * The Kluis Teams tab: Chat (streamed, cited answers through /api/chat), Sources (what the
 * assistant may know and when it was last synced) and My data (my conversations, each deletable;
 * the export of my data, ./exportSection.ts).
 * Signed in with Teams SSO inside Teams, with the credentials login elsewhere (./auth.ts). All
 * text from the server is rendered as text (./dom.ts), never as HTML.
 */
import { startSession, type Session } from './auth';
import { streamChat, type ChatDone } from './chatClient';
import { el, newId, safeHref } from './dom';
import { exportSection } from './exportSection';
import { formatDate, languageOf, stringsFor, type Language, type Strings } from './i18n';
import { myDataErasureSection } from './erasure';

type Page = 'chat' | 'sources' | 'data';

interface State {
  session: Session;
  language: Language;
  t: Strings;
  conversationId: string;
  /** Per-conversation delete (DELETE /api/conversations/:id). */
  canDeleteConversations: boolean;
}

const root = document.getElementById('app')!;

async function api(state: State, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = { ...(await state.session.headers()), ...(init.headers as Record<string, string> | undefined) };
  return fetch(path, { ...init, headers, credentials: 'same-origin' });
}

function errorText(t: Strings, body: unknown): string {
  const message = (body as { error?: { message?: string } } | undefined)?.error?.message;
  return message ? `${t.failed}: ${message}` : t.failed;
}

// ---- Chat -----------------------------------------------------------------------------------

function renderAnswer(t: Strings, done: ChatDone, into: HTMLElement): void {
  into.replaceChildren(el('p', { class: 'answer-text' }, done.text));
  if (done.nothingFound) into.append(el('p', { class: 'note' }, t.nothingFound));
  if (done.citations.length) {
    const list = el('ol', { class: 'citations', 'aria-label': t.sourcesUsed });
    for (const c of done.citations) {
      const href = safeHref(c.url);
      const title = `[${c.number}] ${c.title}`;
      const item = el('li', {}, href ? el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, title) : el('span', { class: 'citation-title' }, title));
      item.append(el('blockquote', { class: 'passage' }, c.passage.length > 300 ? `${c.passage.slice(0, 300)}…` : c.passage));
      list.append(item);
    }
    into.append(el('h3', { class: 'citations-heading' }, t.sourcesUsed), list);
  }
}

function chatPage(state: State): HTMLElement {
  const { t } = state;
  const log = el('ol', { class: 'messages', 'aria-live': 'polite', 'aria-relevant': 'additions text', id: 'messages' });
  const input = el('textarea', { id: 'question', name: 'question', rows: '3', maxlength: '4000', required: true, 'aria-describedby': 'question-hint' });
  const send = el('button', { type: 'submit', class: 'primary' }, t.send);
  const fresh = el('button', { type: 'button', class: 'secondary' }, t.newConversation);
  const form = el(
    'form',
    { class: 'ask', id: 'ask' },
    el('label', { for: 'question' }, t.question),
    input,
    el('p', { id: 'question-hint', class: 'hint' }, t.questionHint),
    el('div', { class: 'actions' }, send, fresh),
  );
  fresh.addEventListener('click', () => {
    state.conversationId = newId();
    log.replaceChildren();
    input.focus();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const message = input.value.trim();
    if (!message || send.disabled) return;
    input.value = '';
    send.disabled = true;
    log.append(el('li', { class: 'message user' }, el('span', { class: 'who' }, t.you), el('p', {}, message)));
    const body = el('div', { class: 'body' });
    const status = el('p', { class: 'status', role: 'status' }, t.working);
    const reply = el('li', { class: 'message kluis', 'aria-busy': 'true' }, el('span', { class: 'who' }, t.kluis), status, body);
    log.append(reply);
    let text = '';
    const streamed = el('p', { class: 'answer-text' });
    void (async () => {
      try {
        const headers = await state.session.headers();
        await streamChat({ message, channel: 'tab', conversationId: state.conversationId }, headers, (event) => {
          if (event.event === 'status') status.textContent = event.data.text;
          else if (event.event === 'delta') {
            text += event.data.text;
            streamed.textContent = text;
            if (!streamed.isConnected) body.append(streamed);
          } else if (event.event === 'done') {
            status.remove();
            state.conversationId = event.data.conversationId;
            renderAnswer(t, event.data, body);
          } else if (event.event === 'error') {
            status.remove();
            body.replaceChildren(el('p', { class: 'error', role: 'alert' }, `${t.failed}: ${event.data.message}`));
          }
        });
      } catch {
        status.remove();
        body.replaceChildren(el('p', { class: 'error', role: 'alert' }, t.failed));
      } finally {
        reply.setAttribute('aria-busy', 'false');
        send.disabled = false;
        input.focus();
      }
    })();
  });
  return el('section', { class: 'page', 'aria-labelledby': 'page-title' }, el('h2', { id: 'page-title' }, t.chat), log, form);
}

// ---- Sources --------------------------------------------------------------------------------

interface SourceRow {
  id: string;
  displayName: string;
  schedule: string;
  lastSyncAt?: string;
}

async function sourcesPage(state: State): Promise<HTMLElement> {
  const { t } = state;
  const section = el('section', { class: 'page', 'aria-labelledby': 'page-title' }, el('h2', { id: 'page-title' }, t.sources), el('p', {}, t.sourcesIntro));
  const response = await api(state, '/api/knowledge/sources');
  const body = (await response.json().catch(() => undefined)) as { sources?: SourceRow[] } | undefined;
  if (!response.ok || !body?.sources) {
    section.append(el('p', { class: 'error', role: 'alert' }, errorText(t, body)));
    return section;
  }
  if (!body.sources.length) {
    section.append(el('p', { class: 'note' }, t.noSources));
    return section;
  }
  const rows = body.sources.map((s) => el('tr', {}, el('th', { scope: 'row' }, s.displayName), el('td', {}, formatDate(s.lastSyncAt, state.language) ?? t.never), el('td', {}, s.schedule)));
  section.append(el('table', { class: 'grid', id: 'sources' }, el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t.sourceName), el('th', { scope: 'col' }, t.lastSynced), el('th', { scope: 'col' }, t.schedule))), el('tbody', {}, ...rows)));
  return section;
}

// ---- My data --------------------------------------------------------------------------------

interface ConversationRow {
  id: string;
  channel: string;
  createdAt: string;
  updatedAt: string;
}

async function dataPage(state: State): Promise<HTMLElement> {
  const { t } = state;
  const live = el('p', { class: 'note', role: 'status' });
  const section = el('section', { class: 'page', 'aria-labelledby': 'page-title' }, el('h2', { id: 'page-title' }, t.myData), el('p', {}, t.conversationsIntro), live);
  section.firstChild!.after(exportSection({ language: state.language, request: (path, init) => api(state, path, init) }));
  const response = await api(state, '/api/conversations');
  const body = (await response.json().catch(() => undefined)) as { conversations?: ConversationRow[] } | undefined;
  if (!response.ok || !body?.conversations) {
    section.append(el('p', { class: 'error', role: 'alert' }, errorText(t, body)));
    return section;
  }
  if (!body.conversations.length) {
    section.append(el('p', { class: 'note' }, t.noConversations));
    return section;
  }
  const tbody = el('tbody');
  for (const c of body.conversations) {
    const started = formatDate(c.createdAt, state.language) ?? c.createdAt;
    const row = el('tr', {}, el('td', {}, c.channel), el('td', {}, started), el('td', {}, formatDate(c.updatedAt, state.language) ?? ''));
    if (state.canDeleteConversations) {
      const remove = el('button', { type: 'button', class: 'secondary', 'aria-label': t.removeLabel(started) }, t.remove);
      remove.addEventListener('click', async () => {
        if (!window.confirm(t.confirmRemove)) return;
        const r = await api(state, `/api/conversations/${encodeURIComponent(c.id)}`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{}' });
        if (r.ok) {
          row.remove();
          live.textContent = t.removed;
        } else live.textContent = errorText(t, await r.json().catch(() => undefined));
      });
      row.append(el('td', {}, remove));
    }
    tbody.append(row);
  }
  const head = el('tr', {}, el('th', { scope: 'col' }, t.channel), el('th', { scope: 'col' }, t.started), el('th', { scope: 'col' }, t.updated));
  if (state.canDeleteConversations) head.append(el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, t.remove)));
  section.append(el('table', { class: 'grid', id: 'conversations' }, el('thead', {}, head), tbody));
  return section;
}

// ---- Sign-in outside Teams ------------------------------------------------------------------

function signInPage(t: Strings, onSignedIn: () => void): HTMLElement {
  const error = el('p', { class: 'error', role: 'alert' });
  const form = el(
    'form',
    { class: 'sign-in', id: 'sign-in' },
    el('h2', {}, t.signInTitle),
    el('p', {}, t.signInTeams),
    el('label', { for: 'email' }, t.email),
    el('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true }),
    el('label', { for: 'password' }, t.password),
    el('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    el('label', { for: 'totp' }, t.code),
    el('input', { id: 'totp', name: 'totpCode', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}' }),
    el('button', { type: 'submit', class: 'primary' }, t.signIn),
    error,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const totp = String(data.get('totpCode') ?? '');
    const r = await fetch('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ email: data.get('email'), password: data.get('password'), ...(totp ? { totpCode: totp } : {}) }),
    });
    if (r.ok) onSignedIn();
    else error.textContent = errorText(t, await r.json().catch(() => undefined));
  });
  return form;
}

// ---- Shell ----------------------------------------------------------------------------------

function shell(state: State): void {
  const { t } = state;
  const main = el('main', { id: 'main', tabindex: '-1' });
  const pages: Array<[Page, string]> = [
    ['chat', t.chat],
    ['sources', t.sources],
    ['data', t.myData],
  ];
  const buttons = new Map<Page, HTMLButtonElement>();
  const nav = el('nav', { 'aria-label': t.nav }, el('ul', {}, ...pages.map(([page, label]) => {
    const b = el('button', { type: 'button', class: 'nav', 'data-page': page }, label);
    b.addEventListener('click', () => void show(page));
    buttons.set(page, b);
    return el('li', {}, b);
  })));
  const show = async (page: Page) => {
    for (const [p, b] of buttons) (p === page ? b.setAttribute('aria-current', 'page') : b.removeAttribute('aria-current'));
    main.replaceChildren(el('p', { class: 'note' }, t.loading));
    const content = page === 'chat' ? chatPage(state) : page === 'sources' ? await sourcesPage(state) : await dataPage(state);
    if (page === 'data') content.append(myDataErasureSection({ language: state.language, api: (path, init) => api(state, path, init), onDone: () => content.querySelector('#conversations')?.replaceWith(el('p', { class: 'note' }, t.noConversations)) }));
    main.replaceChildren(content);
  };
  root.replaceChildren(el('header', { class: 'top' }, el('h1', {}, t.appName), nav), main);
  void show('chat');
}

async function boot(): Promise<void> {
  const session = await startSession();
  const language = languageOf(session.locale);
  document.documentElement.lang = language;
  const t = stringsFor(language);
  const state: State = { session, language, t, conversationId: newId(), canDeleteConversations: true };
  const me = await api(state, '/api/me');
  if (me.status === 401 && !session.inTeams) {
    root.replaceChildren(el('main', { id: 'main' }, signInPage(t, () => shell(state))));
    return;
  }
  if (!me.ok) {
    root.replaceChildren(el('main', { id: 'main' }, el('p', { class: 'error', role: 'alert' }, errorText(t, await me.json().catch(() => undefined)))));
    return;
  }
  shell(state);
}

void boot();
