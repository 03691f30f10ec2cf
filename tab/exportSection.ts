/**
 * "Export my data" on the My data page: starts POST /api/me/export, follows the job's progress,
 * then offers the zip. The download link needs the same sign-in as every API call (a Teams SSO
 * token is a header, not a cookie), so the link fetches the archive with those headers and hands
 * the browser the bytes; a link that expired meanwhile is renewed from the job's status once.
 */
import { el } from './dom';
import type { Language } from './i18n';

type Request = (path: string, init?: RequestInit) => Promise<Response>;

interface ExportStatus {
  id: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  progress: { phase: string; filesDone: number; filesTotal: number };
  sizeBytes?: number;
  createdAt: string;
  expiresAt: string;
  download?: { url: string; expiresAt: string };
}

const words = {
  en: {
    title: 'Export my data',
    intro: 'Download a zip with your profile, your conversations, your feedback, your usage and the files you uploaded. The export is kept for 7 days.',
    start: 'Export my data',
    queued: 'Your export is waiting to start…',
    records: 'Collecting your records…',
    files: (done: number, total: number) => `Copying your files: ${done} of ${total}…`,
    storing: 'Finishing the zip…',
    ready: (size: string, until: string) => `Your export is ready (${size}). It is kept until ${until}.`,
    download: 'Download my data (zip)',
    failed: 'The export failed. Please try again.',
    progress: 'Export progress',
    error: 'Something went wrong',
  },
  nl: {
    title: 'Mijn gegevens exporteren',
    intro: 'Download een zip met je profiel, je gesprekken, je feedback, je gebruik en de bestanden die je uploadde. De export wordt 7 dagen bewaard.',
    start: 'Mijn gegevens exporteren',
    queued: 'Je export wacht om te starten…',
    records: 'Je gegevens worden verzameld…',
    files: (done: number, total: number) => `Je bestanden worden gekopieerd: ${done} van ${total}…`,
    storing: 'De zip wordt afgewerkt…',
    ready: (size: string, until: string) => `Je export is klaar (${size}). Hij wordt bewaard tot ${until}.`,
    download: 'Mijn gegevens downloaden (zip)',
    failed: 'De export is mislukt. Probeer het opnieuw.',
    progress: 'Voortgang van de export',
    error: 'Er ging iets mis',
  },
};

const POLL_MS = 1000;

function sizeText(bytes: number | undefined, language: Language): string {
  const kb = (bytes ?? 0) / 1024;
  const format = (n: number) => n.toLocaleString(language === 'nl' ? 'nl-BE' : 'en-GB', { maximumFractionDigits: 1 });
  return kb < 1024 ? `${format(kb)} KB` : `${format(kb / 1024)} MB`;
}

/** The export part of My data, independent of the rest of the page. */
export function exportSection(options: { language: Language; request: Request }): HTMLElement {
  const w = words[options.language];
  const start = el('button', { type: 'button', class: 'primary', id: 'export-start' }, w.start);
  const bar = el('progress', { id: 'export-progress', 'aria-label': w.progress, hidden: true });
  const status = el('p', { class: 'note', role: 'status', id: 'export-status' });
  const result = el('p', { id: 'export-result' });
  const section = el('section', { class: 'export', id: 'export', 'aria-labelledby': 'export-title' }, el('h3', { id: 'export-title' }, w.title), el('p', {}, w.intro), start, bar, status, result);

  const failed = (text: string) => {
    bar.hidden = true;
    status.replaceChildren(el('span', { class: 'error' }, text));
    start.disabled = false;
  };

  const show = (job: ExportStatus) => {
    const { filesDone, filesTotal, phase } = job.progress;
    bar.hidden = job.status === 'done';
    if (filesTotal > 0) {
      bar.max = filesTotal;
      bar.value = filesDone;
    } else bar.removeAttribute('value');
    status.textContent = phase === 'files' ? w.files(filesDone, filesTotal) : phase === 'records' ? w.records : phase === 'storing' ? w.storing : w.queued;
  };

  async function statusOf(id: string): Promise<ExportStatus | undefined> {
    const response = await options.request(`/api/me/export/${encodeURIComponent(id)}`);
    const body = (await response.json().catch(() => undefined)) as ExportStatus | undefined;
    if (!response.ok || !body) {
      failed(`${w.error}: ${(body as { error?: { message?: string } } | undefined)?.error?.message ?? response.status}`);
      return undefined;
    }
    return body;
  }

  function offer(job: ExportStatus) {
    let current = job;
    bar.hidden = true;
    const until = new Date(job.expiresAt).toLocaleDateString(options.language === 'nl' ? 'nl-BE' : 'en-GB', { dateStyle: 'medium' });
    status.textContent = w.ready(sizeText(job.sizeBytes, options.language), until);
    const link = el('a', { href: job.download!.url, id: 'export-download', download: 'kluis-export.zip' }, w.download);
    link.addEventListener('click', (event) => {
      event.preventDefault();
      void (async () => {
        let response = await options.request(current.download!.url);
        if (response.status === 410) {
          // The short-lived link expired while the page was open: ask the job for a fresh one.
          const renewed = await statusOf(current.id);
          if (!renewed?.download) return;
          current = renewed;
          response = await options.request(current.download!.url);
        }
        if (!response.ok) return failed(w.error);
        const url = URL.createObjectURL(await response.blob());
        const save = el('a', { href: url, download: `kluis-export-${current.createdAt.slice(0, 10)}.zip`, hidden: true });
        document.body.append(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      })();
    });
    result.replaceChildren(link);
    start.disabled = false;
    link.focus();
  }

  async function follow(id: string): Promise<void> {
    for (;;) {
      const job = await statusOf(id);
      if (!job) return;
      if (job.status === 'failed') return failed(w.failed);
      if (job.status === 'done' && job.download) return offer(job);
      show(job);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  start.addEventListener('click', () => {
    start.disabled = true;
    result.replaceChildren();
    void (async () => {
      const response = await options.request('/api/me/export', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const body = (await response.json().catch(() => undefined)) as (ExportStatus & { error?: { message?: string } }) | undefined;
      if (!response.ok || !body?.id) return failed(`${w.error}: ${body?.error?.message ?? response.status}`);
      show(body);
      await follow(body.id);
    })().catch(() => failed(w.error));
  });
  return section;
}
