/**
 * The Kluis Outlook task pane (read and compose mode): summarise this thread, ask about this
 * email, draft a reply. Nothing of the mailbox is read until the user clicks an action; then only
 * the current item's subject and body (as plain text) go to Kluis's /api/chat, with a bearer token
 * (./auth.ts). A draft is put into the compose body only when the user clicks "Insert".
 */
import { streamChat, type ChatDone } from '../tab/chatClient';
import { el, newId, safeHref } from '../tab/dom';
import { languageOf, stringsFor, type Strings } from '../tab/i18n';
import { apiToken, type AddinConfig } from './auth';

type Action = 'summarise' | 'ask' | 'draft';

const MAX_SUBJECT = 300;
const MAX_BODY = 50_000;

function callAsync<T>(start: (cb: (r: Office.AsyncResult<T>) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((r) => (r.status === 'succeeded' ? resolve(r.value) : reject(new Error(r.error?.message ?? 'Office call failed')))));
}

/** The current item, read at the moment the user asks for it. */
async function readItem(item: Office.Item): Promise<{ subject: string; body: string }> {
  const subject = typeof item.subject === 'string' ? item.subject : await callAsync<string>((cb) => (item.subject as { getAsync(cb: (r: Office.AsyncResult<string>) => void): void }).getAsync(cb));
  const body = await callAsync<string>((cb) => item.body.getAsync(Office.CoercionType.Text, cb));
  return { subject: subject.slice(0, MAX_SUBJECT), body: body.slice(0, MAX_BODY) };
}

/** Compose mode, told without touching the item's content (the subject is content too). */
function isCompose(item: Office.Item): boolean {
  return typeof item.body.setSelectedDataAsync === 'function';
}

function render(t: Strings, config: AddinConfig, item: Office.Item, preselected: Action | undefined): void {
  const root = document.getElementById('app')!;
  const compose = isCompose(item);
  const conversationId = newId();
  const output = el('div', { class: 'result-area', 'aria-live': 'polite', id: 'result' });
  const question = el('textarea', { id: 'mail-question', rows: '2', maxlength: '4000' });
  const buttons: Record<Action, HTMLButtonElement> = {
    summarise: el('button', { type: 'button', class: 'primary', id: 'summarise' }, t.summarise),
    ask: el('button', { type: 'button', class: 'primary', id: 'ask' }, t.ask),
    draft: el('button', { type: 'button', class: 'primary', id: 'draft' }, t.draft),
  };
  let busy = false;

  const run = async (action: Action) => {
    if (busy) return;
    if (action === 'ask' && !question.value.trim()) {
      question.focus();
      return;
    }
    busy = true;
    for (const b of Object.values(buttons)) b.disabled = true;
    const status = el('p', { class: 'note', role: 'status' }, '…');
    output.replaceChildren(status);
    try {
      const mail = await readItem(item);
      const token = await apiToken(config);
      const message = action === 'ask' ? question.value.trim() : action === 'summarise' ? t.summarise : t.draft;
      const task = action === 'ask' ? 'answer' : action;
      await streamChat({ message, channel: 'outlook', conversationId, task, mail }, token ? { authorization: `Bearer ${token}` } : {}, (event) => {
        if (event.event === 'status') status.textContent = event.data.text;
        else if (event.event === 'delta') status.textContent = '…';
        else if (event.event === 'done') showResult(event.data, action);
        else if (event.event === 'error') output.replaceChildren(el('p', { class: 'error', role: 'alert' }, `${t.failed}: ${event.data.message}`));
      });
    } catch (error) {
      output.replaceChildren(el('p', { class: 'error', role: 'alert' }, `${t.failed}: ${String((error as Error).message ?? error).slice(0, 200)}`));
    } finally {
      busy = false;
      for (const b of Object.values(buttons)) b.disabled = false;
    }
  };

  const showResult = (done: ChatDone, action: Action) => {
    const parts: Node[] = [el('h2', {}, t.result), el('p', { class: 'result', id: 'result-text' }, done.text)];
    if (done.citations.length) {
      parts.push(el('h3', {}, t.sourcesUsed));
      parts.push(el('ol', { class: 'citations' }, ...done.citations.map((c) => {
        const href = safeHref(c.url);
        const title = `[${c.number}] ${c.title}`;
        return el('li', {}, href ? el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, title) : title);
      })));
    }
    if (action === 'draft') {
      if (compose) {
        const insert = el('button', { type: 'button', class: 'secondary', id: 'insert' }, t.insert);
        const note = el('p', { class: 'note', role: 'status' });
        insert.addEventListener('click', async () => {
          try {
            await callAsync<void>((cb) => item.body.setSelectedDataAsync!(done.text, { coercionType: Office.CoercionType.Text }, cb));
            note.textContent = t.inserted;
          } catch (error) {
            note.textContent = `${t.failed}: ${String((error as Error).message).slice(0, 200)}`;
          }
        });
        parts.push(insert, note);
      } else parts.push(el('p', { class: 'note' }, t.readMode));
    }
    output.replaceChildren(...parts);
  };

  for (const [action, button] of Object.entries(buttons) as Array<[Action, HTMLButtonElement]>) button.addEventListener('click', () => void run(action));
  root.replaceChildren(
    el(
      'main',
      { id: 'main' },
      el('h1', {}, t.appName),
      el('p', { class: 'note' }, t.addinIntro),
      el('div', { class: 'actions' }, buttons.summarise, buttons.draft),
      el('label', { for: 'mail-question' }, t.questionAboutMail),
      question,
      el('div', { class: 'actions' }, buttons.ask),
      output,
    ),
  );
  if (preselected === 'ask') question.focus();
  else if (preselected) buttons[preselected].focus();
}

async function boot(): Promise<void> {
  await Office.onReady();
  const t = stringsFor(languageOf(Office.context.displayLanguage ?? navigator.language));
  document.documentElement.lang = languageOf(Office.context.displayLanguage ?? navigator.language);
  const config = (await (await fetch('config.json', { credentials: 'omit' })).json()) as AddinConfig;
  const item = Office.context.mailbox.item;
  if (!item) {
    document.getElementById('app')!.replaceChildren(el('p', { class: 'note' }, t.addinIntro));
    return;
  }
  const action = new URLSearchParams(window.location.search).get('action');
  render(t, config, item, action === 'summarise' || action === 'ask' || action === 'draft' ? action : undefined);
}

void boot();
