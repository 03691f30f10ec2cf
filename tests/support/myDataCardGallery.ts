/** Every kind of "my data" card (bot/myData.ts), bound with realistic and hostile data, for validation and rendering tests. */
import type { AdminCard } from '../../bot/admin/render';
import { myDataCard, myDataOpeningCard, myDataRefusalCard, MY_DATA_REFUSALS } from '../../bot/myData';
import type { ExportView } from '../../api/privacy/export';
import type { ErasureJobView } from '../../api/privacy/ports';
import { HOSTILE } from './adminCardGallery';

const USER = '29:1a2b3c';
export const DOWNLOAD_URL = 'https://kluis.contoso.example/api/export/download/eyJ2IjoxLCJ3IjoidyJ9.c2lnbmF0dXJl';

export const exportView = (status: ExportView['status'], download = false): ExportView => ({
  id: '00000000-0000-4000-8000-0000000000e1',
  scope: 'user',
  status,
  progress: { phase: status === 'done' ? 'done' : 'files', filesDone: status === 'done' ? 12 : 4, filesTotal: 12 },
  createdAt: '2026-11-20T09:30:00.000Z',
  expiresAt: '2026-11-27T09:30:00.000Z',
  ...(download ? { download: { token: DOWNLOAD_URL.split('/').pop()!, expiresAt: '2026-11-20T09:45:00.000Z' } } : {}),
});

const userJob = (status: ErasureJobView['status']): ErasureJobView => ({
  jobId: '00000000-0000-4000-8000-0000000000d1',
  scope: { kind: 'user', workspaceId: 'w', userId: 'u', deleteAccount: true },
  status,
  steps: [
    { name: 'rows', done: true, removed: 42 },
    { name: 'graphTokens', done: status === 'done', ...(status === 'done' ? { removed: 1 } : {}) },
    { name: 'usage', done: status === 'done' },
  ],
  requestedAt: '2026-11-20T09:30:00.000Z',
  ...(status === 'done' ? { finishedAt: '2026-11-20T09:31:00.000Z', residue: [] } : {}),
});

export function myDataCardGallery(): Array<{ name: string; card: AdminCard }> {
  return [
    { name: 'mydata-opening', card: myDataOpeningCard(USER) },
    { name: 'mydata-refusal', card: myDataRefusalCard(MY_DATA_REFUSALS.notYours) },
    { name: 'mydata-home', card: myDataCard({ view: 'home', userId: USER }) },
    { name: 'mydata-export-running', card: myDataCard({ view: 'home', userId: USER, exportView: exportView('running'), status: { kind: 'good', text: 'Export started. This card refreshes until your download is ready.' } }) },
    { name: 'mydata-export-done', card: myDataCard({ view: 'home', userId: USER, exportView: exportView('done', true), downloadUrl: DOWNLOAD_URL }) },
    { name: 'mydata-problem', card: myDataCard({ view: 'home', userId: USER, status: { kind: 'attention', text: `Could not do this: ${HOSTILE}` } }) },
    { name: 'mydata-confirm', card: myDataCard({ view: 'confirm', userId: USER }) },
    { name: 'mydata-deleting', card: myDataCard({ view: 'deleting', userId: USER, job: userJob('running'), status: { kind: 'good', text: 'Deleting your data and your account. This card refreshes until it is done.' } }) },
    { name: 'mydata-deleted', card: myDataCard({ view: 'deleting', userId: USER, job: userJob('done'), status: { kind: 'good', text: 'Your data is deleted: nothing of it was found in any store.' } }) },
  ];
}
