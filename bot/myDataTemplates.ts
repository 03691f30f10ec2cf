/**
 * Adaptive Card templates of the "my data" card (schema 1.5, Universal Actions), bound with
 * adaptivecards-templating like the admin panel's (bot/admin/templates.ts): whatever the data
 * holds stays data. Every button carries the userId the card was made for; a press whose userId
 * is not the presser's own is refused (bot/myData.ts). A deletion's card also carries the job's
 * status token, so it still shows the end of a deletion that took the presser's account with it.
 */
import { heading, SCHEMA, text } from './admin/templates';

export const MY_DATA_VERBS = {
  open: 'kluis.mydata.open',
  exportData: 'kluis.mydata.export',
  askDelete: 'kluis.mydata.deleteAsk',
  deleteData: 'kluis.mydata.delete',
} as const;

export const MY_DATA_VERB = /^kluis\.mydata\./;

const execute = (title: string, verb: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'Action.Execute', title, verb, data: { userId: '${userId}', ...data }, ...extra });

/** The home card (export and the way to deletion), the confirmation and the deletion progress. */
export const MY_DATA_TEMPLATE = {
  type: 'AdaptiveCard',
  $schema: SCHEMA,
  version: '1.5',
  refresh: { action: { type: 'Action.Execute', title: 'Refresh', verb: MY_DATA_VERBS.open, data: { userId: '${userId}', exportId: '${exportId}', jobId: '${jobId}', statusToken: '${statusToken}' } }, userIds: ['${userId}'] },
  body: [
    { type: 'TextBlock', text: 'My data in Kluis', weight: 'Bolder', size: 'Large', wrap: true },
    { type: 'Container', $when: "${status.text != ''}", style: '${status.style}', items: [{ type: 'RichTextBlock', inlines: [text('${status.text}', { weight: 'Bolder' })] }] },
    {
      type: 'Container',
      $when: "${view == 'home'}",
      items: [
        heading('Export my data'),
        { type: 'TextBlock', text: 'A zip file with your conversations, your uploaded files and what Kluis keeps about you. It can be downloaded for 7 days.', wrap: true },
        { type: 'FactSet', $when: "${exportStatus != ''}", facts: [{ title: 'Export', value: '${exportStatus}' }, { title: 'Progress', value: '${exportProgress}' }] },
        {
          type: 'ActionSet',
          actions: [
            { type: 'Action.OpenUrl', title: 'Download my data', url: '${downloadUrl}', $when: "${downloadUrl != ''}", style: 'positive' },
            { ...execute('Refresh', MY_DATA_VERBS.open, { exportId: '${exportId}' }), $when: '${exportRunning}' },
            { ...execute('Export my data', MY_DATA_VERBS.exportData, {}), $when: '${!exportRunning}' },
          ],
        },
        { ...heading('Delete my user data'), separator: true },
        { type: 'TextBlock', text: 'Deletes your conversations, uploaded files, feedback and sign-in data from every store of Kluis. This cannot be undone.', wrap: true },
        { type: 'ActionSet', actions: [execute('Delete my user data…', MY_DATA_VERBS.askDelete, {}, { style: 'destructive' })] },
      ],
    },
    {
      type: 'Container',
      $when: "${view == 'confirm'}",
      style: 'attention',
      items: [
        heading('Delete your data for good?'),
        { type: 'TextBlock', text: 'Everything Kluis keeps about you is deleted from the database, the search index and the file store. Your exports are deleted too.', wrap: true },
        { type: 'Input.Toggle', id: 'deleteAccount', title: 'Also delete my account', value: 'false', valueOn: 'true', valueOff: 'false' },
        { type: 'ActionSet', actions: [execute('Yes, delete my data', MY_DATA_VERBS.deleteData, { confirm: 'yes' }, { style: 'destructive' }), execute('Cancel', MY_DATA_VERBS.open, {})] },
      ],
    },
    {
      type: 'Container',
      $when: "${view == 'deleting'}",
      items: [
        heading('Deletion progress'),
        { type: 'FactSet', facts: [{ title: 'Status', value: '${jobStatus}' }, { title: 'Requested', value: '${requestedAt}' }, { title: 'Finished', value: '${finishedAt}' }] },
        { type: 'FactSet', facts: [{ $data: '${steps}', title: '${name}', value: '${state}' }] },
        { type: 'ActionSet', $when: '${jobRunning}', actions: [execute('Refresh', MY_DATA_VERBS.open, { jobId: '${jobId}', statusToken: '${statusToken}' })] },
      ],
    },
  ],
};

/** Posted in the conversation: nothing of anyone's data, only the way in for the person who asked. */
export const MY_DATA_OPENING_TEMPLATE = {
  type: 'AdaptiveCard',
  $schema: SCHEMA,
  version: '1.5',
  refresh: { action: { type: 'Action.Execute', title: 'Open', verb: MY_DATA_VERBS.open, data: { userId: '${userId}' } }, userIds: ['${userId}'] },
  body: [
    { type: 'TextBlock', text: 'My data in Kluis', weight: 'Bolder', size: 'Large', wrap: true },
    { type: 'TextBlock', text: 'Export or delete your own data. The card opens here for the person who asked for it.', wrap: true },
  ],
  actions: [execute('Open my data', MY_DATA_VERBS.open, {})],
};

/** A refused press: no controls, no data. */
export const MY_DATA_REFUSAL_TEMPLATE = {
  type: 'AdaptiveCard',
  $schema: SCHEMA,
  version: '1.5',
  body: [
    { type: 'TextBlock', text: 'Not available to you', weight: 'Bolder', wrap: true },
    { type: 'RichTextBlock', inlines: [text('${reason}')] },
  ],
};
