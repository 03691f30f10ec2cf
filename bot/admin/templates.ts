/**
 * Adaptive Card templates of the admin panel (schema 1.5, Universal Actions). They are bound to
 * data with adaptivecards-templating (`bindCard` in render.ts), never assembled from strings: a
 * source name, a file name or an audit detail is data, so `${...}`, `{"$when": ...}` or a
 * markdown link in it stays literal text. Text that did not come from Kluis itself only ever
 * appears in TextRuns (rendered without markdown) and input values, never in a TextBlock or a
 * FactSet, which render markdown.
 */

import { USAGE_SECTION_TEMPLATE, usageNavigation } from './usageSection';

/** Every verb the panel's buttons send; the panel routes them all through one handler. */
export const VERBS = {
  open: 'kluis.admin.open',
  saveRetention: 'kluis.admin.retention.save',
  syncSource: 'kluis.admin.knowledge.sync',
  askRemoveSource: 'kluis.admin.knowledge.removeAsk',
  removeSource: 'kluis.admin.knowledge.remove',
  addSource: 'kluis.admin.knowledge.add',
  filterAudit: 'kluis.admin.audit.filter',
  // The Data cards (dataSection.ts).
  openData: 'kluis.admin.data.open',
  askEraseWorkspace: 'kluis.admin.data.workspaceAsk',
  eraseWorkspace: 'kluis.admin.data.workspaceErase',
  erasureProgress: 'kluis.admin.data.progress',
  eraseConversation: 'kluis.admin.data.conversationErase',
  exportWorkspace: 'kluis.admin.data.export',
  exportProgress: 'kluis.admin.data.exportProgress',
} as const;

export const ADMIN_VERB = /^kluis\.admin\./;

export const SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';

export const text = (value: string, extra: Record<string, unknown> = {}) => ({ type: 'TextRun', text: value, ...extra });
export const heading = (value: string) => ({ type: 'TextBlock', text: value, weight: 'Bolder', size: 'Medium', wrap: true });
const note = (value: string) => ({ type: 'TextBlock', text: value, isSubtle: true, size: 'Small', wrap: true });

/** Keeps the card refreshing for the person who opened it, and only for them. */
const REFRESH = {
  action: { type: 'Action.Execute', title: 'Refresh', verb: VERBS.open, data: { section: '${section}' } },
  userIds: ['${userId}'],
};

const execute = (title: string, verb: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'Action.Execute', title, verb, data, ...extra });

function periodInput(id: string, label: string, placeholder: string) {
  return [
    { type: 'Input.Text', id, label, placeholder, value: `\${retention.${id}}`, maxLength: 10, isRequired: true, errorMessage: 'Required' },
    { type: 'RichTextBlock', $when: `\${problems.${id} != ''}`, spacing: 'None', inlines: [text(`\${problems.${id}}`, { color: 'Attention', size: 'Small' })] },
  ];
}

/** The panel: a navigation row, a status line (confirmation or problem) and one section. */
export const PANEL_TEMPLATE = {
  type: 'AdaptiveCard',
  $schema: SCHEMA,
  version: '1.5',
  refresh: REFRESH,
  body: [
    { type: 'TextBlock', text: 'Kluis administration', weight: 'Bolder', size: 'Large', wrap: true },
    note('${roleLine}'),
    // Two rows: an action set may hold at most five actions (host config maxActions).
    {
      type: 'ActionSet',
      actions: [
        execute('Overview', VERBS.open, { section: 'home' }),
        { ...execute('Retention', VERBS.open, { section: 'retention' }), $when: '${canRetention}' },
        execute('Knowledge', VERBS.open, { section: 'knowledge' }),
      ],
    },
    {
      type: 'ActionSet',
      $when: '${canAudit}',
      actions: [
        { ...execute('Audit log', VERBS.open, { section: 'audit' }), $when: '${canAudit}' },
        usageNavigation(VERBS.open),
        { ...execute('Data', VERBS.openData, {}), $when: '${canAudit}' },
      ],
    },
    {
      type: 'Container',
      $when: "${status.text != ''}",
      style: '${status.style}',
      items: [{ type: 'RichTextBlock', inlines: [text('${status.text}', { weight: 'Bolder' })] }],
    },
    {
      type: 'Container',
      $when: "${section == 'home'}",
      items: [
        heading('Overview'),
        { type: 'TextBlock', text: 'Choose a section above. Changes you make here are saved for the whole workspace and recorded in the audit log.', wrap: true },
        { type: 'FactSet', facts: [{ title: 'Knowledge sources', value: '${string(sourceCount)}' }] },
      ],
    },
    {
      type: 'Container',
      $when: "${section == 'retention'}",
      items: [
        heading('Retention'),
        note('How long Kluis keeps data of this workspace, in days (1 to 3650). Expired data is deleted from every store by the retention sweeper.'),
        ...periodInput('conversationDays', 'Conversations: days to keep, or "keep"', 'keep'),
        ...periodInput('uploadedFileDays', 'Uploaded files: days to keep', '180'),
        ...periodInput('loginLogDays', 'Login log (IP addresses): days to keep', '37'),
        ...periodInput('inactiveConversationDays', 'Clean up conversations inactive for this many days, or "off"', 'off'),
        note('${retention.updatedLine}'),
        { type: 'ActionSet', actions: [execute('Save retention', VERBS.saveRetention, { section: 'retention' }, { style: 'positive' })] },
      ],
    },
    {
      type: 'Container',
      $when: "${section == 'knowledge'}",
      items: [
        heading('Knowledge sources'),
        { ...note('No SharePoint sources yet.'), $when: '${count(sources) == 0}' },
        { ...note('${sourcesMore}'), $when: "${sourcesMore != ''}" },
        {
          type: 'Container',
          $data: '${sources}',
          separator: true,
          items: [
            { type: 'RichTextBlock', inlines: [text('${displayName}', { weight: 'Bolder' })] },
            {
              type: 'FactSet',
              facts: [
                { title: 'Last sync', value: '${lastSync}' },
                { title: 'Schedule', value: '${schedule}' },
                { title: 'Progress', value: '${progress}' },
              ],
            },
            { type: 'RichTextBlock', $when: "${errors != ''}", inlines: [text('${errors}', { color: 'Attention', size: 'Small' })] },
            {
              type: 'ActionSet',
              $when: '${$root.canManageKnowledge}',
              actions: [execute('Sync now', VERBS.syncSource, { section: 'knowledge', sourceId: '${id}' }), execute('Remove…', VERBS.askRemoveSource, { section: 'knowledge', sourceId: '${id}' }, { style: 'destructive' })],
            },
          ],
        },
        {
          type: 'Container',
          $when: '${canManageKnowledge}',
          separator: true,
          items: [
            heading('Add a SharePoint source'),
            { type: 'Input.Text', id: 'displayName', label: 'Name', maxLength: 512, isRequired: true, errorMessage: 'Required', value: '${form.displayName}' },
            { type: 'Input.Text', id: 'driveId', label: 'Drive id (Microsoft Graph)', maxLength: 255, isRequired: true, errorMessage: 'Required', value: '${form.driveId}' },
            {
              type: 'Input.ChoiceSet',
              id: 'schedule',
              label: 'Sync schedule',
              style: 'compact',
              value: 'monthly',
              choices: [
                { title: 'Monthly', value: 'monthly' },
                { title: 'Weekly', value: 'weekly' },
                { title: 'Daily', value: 'daily' },
                { title: 'Only on request', value: 'manual' },
              ],
            },
            { type: 'ActionSet', actions: [execute('Add source', VERBS.addSource, { section: 'knowledge' })] },
          ],
        },
      ],
    },
    {
      type: 'Container',
      $when: "${section == 'confirmRemove'}",
      style: 'attention',
      items: [
        heading('Remove this knowledge source?'),
        { type: 'RichTextBlock', inlines: [text('${confirm.displayName}', { weight: 'Bolder' })] },
        { type: 'TextBlock', text: 'Kluis deletes everything it indexed from this source. The files in SharePoint are not touched.', wrap: true },
        {
          type: 'ActionSet',
          actions: [
            execute('Yes, remove', VERBS.removeSource, { section: 'knowledge', sourceId: '${confirm.id}', confirm: 'yes' }, { style: 'destructive' }),
            execute('Cancel', VERBS.open, { section: 'knowledge' }),
          ],
        },
      ],
    },
    {
      type: 'Container',
      $when: "${section == 'audit'}",
      items: [
        heading('Audit log: latest events'),
        {
          type: 'Input.ChoiceSet',
          id: 'area',
          label: 'Kind',
          style: 'compact',
          value: '${auditArea}',
          choices: [
            { title: 'All', value: 'all' },
            { title: 'Refusals (authorization)', value: 'authorization' },
            { title: 'Retention', value: 'retention' },
            { title: 'Knowledge', value: 'knowledge' },
            { title: 'Assistant', value: 'assistant' },
            { title: 'Sign-in and accounts (identity)', value: 'identity' },
            { title: 'Roles', value: 'role' },
            { title: 'File downloads', value: 'file' },
            { title: 'Usage budget', value: 'usage' },
            { title: 'API requests', value: 'api' },
            { title: 'Audit log upkeep (pruning)', value: 'audit' },
          ],
        },
        { type: 'ActionSet', actions: [execute('Show', VERBS.filterAudit, { section: 'audit' })] },
        { ...note('No events of this kind yet.'), $when: '${count(events) == 0}' },
        {
          type: 'Container',
          $data: '${events}',
          separator: true,
          spacing: 'Small',
          items: [
            { type: 'RichTextBlock', inlines: [text('${at}', { isSubtle: true, size: 'Small' }), text('  ${kind}', { weight: 'Bolder' }), text('  ${outcome}')] },
            { type: 'RichTextBlock', $when: "${detail != ''}", spacing: 'None', inlines: [text('${detail}', { isSubtle: true, size: 'Small' })] },
          ],
        },
      ],
    },
    USAGE_SECTION_TEMPLATE,
  ],
};

/** Posted in the conversation: no workspace data, only the way in. The person who asked gets
 * their own view through `refresh` (their client calls the bot), or by pressing Open. */
export const OPENING_TEMPLATE = {
  type: 'AdaptiveCard',
  $schema: SCHEMA,
  version: '1.5',
  refresh: { action: { type: 'Action.Execute', title: 'Open', verb: VERBS.open, data: { section: 'home' } }, userIds: ['${userId}'] },
  body: [
    { type: 'TextBlock', text: 'Kluis administration', weight: 'Bolder', size: 'Large', wrap: true },
    { type: 'TextBlock', text: 'The admin panel opens here for the person who asked for it.', wrap: true },
  ],
  actions: [execute('Open admin panel', VERBS.open, { section: 'home' })],
};

/** For anyone who may not use the panel, and for any refused action: polite, no controls, no data. */
export const REFUSAL_TEMPLATE = {
  type: 'AdaptiveCard',
  $schema: SCHEMA,
  version: '1.5',
  body: [
    { type: 'TextBlock', text: 'Not available to you', weight: 'Bolder', wrap: true },
    { type: 'RichTextBlock', inlines: [text('${reason}')] },
    { type: 'TextBlock', text: 'Het beheer van Kluis is voor beheerders en managers. Vraag het aan je beheerder.', isSubtle: true, wrap: true },
  ],
};
