/**
 * "Delete my user data" on the My data page: explains what goes, asks for confirmation, starts the
 * erasure (POST /api/me/erasure) and shows its progress until it is done. Its words live here, in
 * English and Dutch, so the section stays one piece.
 */
import { el } from './dom';
import type { Language } from './i18n';

const words = {
  en: {
    title: 'Delete my user data',
    intro: 'Deletes your conversations with Kluis (questions and answers), your feedback on answers, your usage figures and your name. Your sign-in stays, so you can keep using Kluis. The organisation’s documents are not affected.',
    start: 'Delete my user data…',
    confirm: 'This deletes all your personal data in Kluis for good. It cannot be undone. Continue?',
    yes: 'Yes, delete my data',
    cancel: 'Cancel',
    progress: 'Erasure progress',
    working: (done: number, total: number) => `Deleting your data… ${done} of ${total} steps done.`,
    done: 'Your user data has been deleted.',
    failed: 'Not everything could be deleted. Please try again, or ask an administrator.',
    error: 'Something went wrong',
  },
  nl: {
    title: 'Mijn gebruikersdata verwijderen',
    intro: 'Verwijdert je gesprekken met Kluis (vragen en antwoorden), je feedback op antwoorden, je verbruikscijfers en je naam. Je aanmelding blijft, zodat je Kluis kan blijven gebruiken. De documenten van je organisatie blijven onaangeroerd.',
    start: 'Mijn gebruikersdata verwijderen…',
    confirm: 'Dit verwijdert al je persoonlijke data in Kluis definitief. Dit kan niet ongedaan gemaakt worden. Doorgaan?',
    yes: 'Ja, verwijder mijn data',
    cancel: 'Annuleren',
    progress: 'Voortgang van de verwijdering',
    working: (done: number, total: number) => `Je data wordt verwijderd… ${done} van ${total} stappen klaar.`,
    done: 'Je gebruikersdata is verwijderd.',
    failed: 'Niet alles kon verwijderd worden. Probeer het opnieuw, of vraag het een beheerder.',
    error: 'Er ging iets mis',
  },
};

interface JobView {
  jobId: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  steps: Array<{ name: string; done: boolean }>;
  /** Only in the answer that started the job: sent back when polling, it reads the job whoever Kluis now thinks we are. */
  statusToken?: string;
}

export interface ErasureSectionDeps {
  language: Language;
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Between status polls; 1 s unless set. */
  pollMs?: number;
  /** Called once the erasure is done (the page then drops what it showed of the erased data). */
  onDone?: () => void;
}

export function myDataErasureSection(deps: ErasureSectionDeps): HTMLElement {
  const w = words[deps.language];
  const status = el('p', { class: 'note', role: 'status', id: 'erasure-status' });
  const bar = el('progress', { id: 'erasure-progress', max: '1', value: '0', 'aria-label': w.progress, hidden: true });
  const start = el('button', { type: 'button', class: 'secondary', id: 'erasure-start' }, w.start);
  const yes = el('button', { type: 'button', class: 'primary', id: 'erasure-confirm' }, w.yes);
  const cancel = el('button', { type: 'button', class: 'secondary', id: 'erasure-cancel' }, w.cancel);
  const confirmation = el('div', { class: 'confirm', id: 'erasure-confirmation', role: 'alertdialog', 'aria-labelledby': 'erasure-question', hidden: true }, el('p', { id: 'erasure-question' }, w.confirm), el('div', { class: 'actions' }, yes, cancel));
  const section = el('section', { class: 'erasure', 'aria-labelledby': 'erasure-title' }, el('h3', { id: 'erasure-title' }, w.title), el('p', {}, w.intro), start, confirmation, bar, status);

  const show = (job: JobView) => {
    const done = job.steps.filter((s) => s.done).length;
    bar.hidden = false;
    bar.max = job.steps.length;
    bar.value = done;
    status.textContent = job.status === 'done' ? w.done : job.status === 'failed' ? w.failed : w.working(done, job.steps.length);
  };
  const problem = async (response: Response) => {
    const body = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
    status.textContent = body?.error?.message ? `${w.error}: ${body.error.message}` : w.error;
    start.disabled = false;
  };

  start.addEventListener('click', () => {
    confirmation.hidden = false;
    start.hidden = true;
    yes.focus();
  });
  cancel.addEventListener('click', () => {
    confirmation.hidden = true;
    start.hidden = false;
    start.focus();
  });
  yes.addEventListener('click', async () => {
    confirmation.hidden = true;
    start.hidden = false;
    start.disabled = true;
    const started = await deps.api('/api/me/erasure', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    if (!started.ok) return problem(started);
    let job = (await started.json()) as JobView;
    const statusToken = job.statusToken;
    show(job);
    while (job.status === 'queued' || job.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, deps.pollMs ?? 1000));
      const polled = await deps.api(`/api/me/erasure/${encodeURIComponent(job.jobId)}`, statusToken ? { headers: { 'x-kluis-erasure-token': statusToken } } : undefined);
      if (!polled.ok) return problem(polled);
      job = (await polled.json()) as JobView;
      show(job);
    }
    start.disabled = job.status === 'done';
    if (job.status === 'done') deps.onDone?.();
  });
  return section;
}
