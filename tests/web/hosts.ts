/**
 * Test hosts for the tab and the add-in, driven by playwright-core with Debian's Chromium.
 *
 * Microsoft Teams: a harness page at https://teams.microsoft.com (the browser's requests to that
 * origin are answered by the test, so the page really has the Teams origin that teams-js and the
 * tab's frame-ancestors check) frames the tab and answers teams-js's postMessage protocol the way
 * the Teams web client does: `initialize` (frame context, client type, runtime config, SDK version),
 * `getContext` (the host's context, with its locale) and `authentication.getAuthToken` (an Entra
 * access token, here from the fake issuer, fetched through an exposed function).
 *
 * Outlook: a harness page at https://outlook.office.com frames the task pane; Office.js, which the
 * task pane loads from Microsoft's CDN, is answered with a stand-in that provides the mailbox item
 * (read or compose) and the nested app authentication bridge the host injects
 * (`window.nestedAppAuthBridge`: GetInitContext, GetToken), and records every mailbox call.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The simulated host has a public origin (https://teams.microsoft.com) while Kluis listens on
  // 127.0.0.1; in production both are public. Chromium's local-network checks would refuse the frame.
  '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights',
];
export const SCREENSHOTS = path.resolve(__dirname, '..', '..', '.data', 'screenshots');

export const TEAMS_HOST = 'https://teams.microsoft.com';
export const OUTLOOK_HOST = 'https://outlook.office.com';

export async function launchBrowser(): Promise<Browser> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** Everything to the outside world is refused, so a page that reached out would fail visibly. */
export async function isolatedContext(browser: Browser, kluisUrl: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const kluis = new URL(kluisUrl).origin;
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === kluis) return route.continue();
    return route.abort('blockedbyclient');
  });
  return context;
}

const RUNTIME_CONFIG = JSON.stringify({
  apiVersion: 4,
  hostVersionsInfo: { adaptiveCardSchemaVersion: { majorVersion: 1, minorVersion: 5 } },
  isLegacyTeams: false,
  supports: { pages: { appButton: {}, tabs: {}, config: {}, backStack: {}, fullTrust: {} }, teamsCore: {}, dialog: { url: {} } },
});

/** The Teams harness page; `getAuthToken` calls the page's exposed `hostToken()`. */
export function teamsHarness(tabUrl: string, context: { locale: string; tid: string; oid: string }): string {
  return `<!doctype html><html><head><title>Teams (test host)</title><style>body{margin:0}iframe{border:0;width:100vw;height:100vh}</style></head>
<body><iframe id="tab" title="Kluis tab" src="${tabUrl}"></iframe>
<script>
window.teamsCalls = [];
const frame = document.getElementById('tab');
window.addEventListener('message', async (event) => {
  if (event.source !== frame.contentWindow) return;
  const m = event.data;
  if (!m || typeof m.func !== 'string') return;
  window.teamsCalls.push(m.func);
  const reply = (args) => frame.contentWindow.postMessage({ id: m.id, uuidAsString: m.uuidAsString, args }, event.origin);
  switch (m.func) {
    case 'initialize': return reply(['content', 'web', ${JSON.stringify(RUNTIME_CONFIG)}, '2.58.0']);
    case 'getContext': return reply([{ locale: ${JSON.stringify(context.locale)}, tid: ${JSON.stringify(context.tid)}, userObjectId: ${JSON.stringify(context.oid)}, frameContext: 'content', hostClientType: 'web', hostName: 'Teams', theme: 'default', entityId: 'kluis', appSessionId: 'test-session' }]);
    case 'authentication.getAuthToken':
      try { return reply([true, await window.hostToken()]); } catch (e) { return reply([false, String(e)]); }
    default: return reply([]);
  }
});
</script></body></html>`;
}

export function outlookHarness(paneUrl: string): string {
  return `<!doctype html><html><head><title>Outlook (test host)</title><style>body{margin:0}iframe{border:0;width:100vw;height:100vh}</style></head>
<body><iframe id="pane" title="Kluis task pane" src="${paneUrl}"></iframe></body></html>`;
}

export interface FakeMailItem {
  mode: 'read' | 'compose';
  subject: string;
  body: string;
}

/**
 * A host without nested app authentication (older Outlook builds): the add-in must sign in through
 * the Office dialog. `displayDialogAsync` records the URL it was asked to open and delivers
 * `message` as the dialog's messageParent, from `origin`, the way Office reports it.
 */
export interface DialogOnlyHost {
  message: string;
  origin: string;
}

/**
 * The Office.js stand-in served in place of Microsoft's CDN copy. `token` answers the NAA bridge's
 * GetToken (MSAL needs an id token too; the fake issuer's token carries the same claims).
 */
export function fakeOfficeJs(item: FakeMailItem, token: { accessToken: string; idToken: string; tid: string; oid: string }, dialogOnly?: DialogOnlyHost): string {
  return `(() => {
  const calls = [];
  window.mailboxCalls = calls;
  const item = ${JSON.stringify(item)};
  const ok = (value) => ({ status: 'succeeded', value });
  const mailItem = {
    itemType: 'message',
    subject: item.mode === 'read' ? item.subject : { getAsync(cb) { calls.push('subject.getAsync'); setTimeout(() => cb(ok(item.subject))); } },
    body: {
      getAsync(type, cb) { calls.push('body.getAsync:' + type); setTimeout(() => cb(ok(item.body))); },
      ...(item.mode === 'compose' ? { setSelectedDataAsync(data, options, cb) { calls.push('body.setSelectedDataAsync'); window.insertedText = data; setTimeout(() => cb(ok(undefined))); } } : {}),
    },
  };
  if (item.mode === 'read') {
    // Reading the subject in read mode is a property access; count it too.
    const subject = item.subject;
    Object.defineProperty(mailItem, 'subject', { get() { calls.push('subject'); return subject; } });
  }
  window.Office = {
    onReady: () => Promise.resolve({ host: 'Outlook', platform: 'OfficeOnline' }),
    CoercionType: { Text: 'text', Html: 'html' },
    EventType: { DialogMessageReceived: 'dialogMessageReceived', DialogEventReceived: 'dialogEventReceived' },
    context: {
      displayLanguage: 'en-US',
      mailbox: { item: mailItem },
      requirements: { isSetSupported: (name) => name === 'NestedAppAuth' || name === 'Mailbox' },
      ui: { displayDialogAsync() { calls.push('displayDialogAsync'); }, messageParent() {} },
    },
  };
  const dialogOnly = ${JSON.stringify(dialogOnly ?? null)};
  if (dialogOnly) {
    window.Office.context.requirements.isSetSupported = (name) => name === 'Mailbox';
    window.Office.context.ui.displayDialogAsync = (url, options, cb) => {
      calls.push('displayDialogAsync:' + url);
      const dialog = {
        addEventHandler(type, handler) {
          if (type === 'dialogMessageReceived') setTimeout(() => handler({ message: dialogOnly.message, origin: dialogOnly.origin }));
        },
        close() { calls.push('dialog.close'); },
      };
      setTimeout(() => cb({ status: 'succeeded', value: dialog }));
    };
  }
  const listeners = [];
  const token = ${JSON.stringify(token)};
  const account = { homeAccountId: token.oid + '.' + token.tid, environment: 'login.microsoftonline.com', tenantId: token.tid, username: 'user@contoso.example', localAccountId: token.oid, name: 'Test User' };
  window.nestedAppAuthBridge = {
    addEventListener(type, listener) { listeners.push(listener); },
    removeEventListener() {},
    postMessage(raw) {
      const request = JSON.parse(raw);
      calls.push('naa:' + request.method);
      let response;
      if (request.method === 'GetInitContext') response = { messageType: 'NestedAppAuthResponse', requestId: request.requestId, success: true, initContext: { sdkName: 'test host', sdkVersion: '1.0', capabilities: { queryAccount: false } } };
      else if (request.method === 'GetToken' || request.method === 'GetTokenPopup') response = { messageType: 'NestedAppAuthResponse', requestId: request.requestId, success: true, token: { access_token: token.accessToken, id_token: token.idToken, expires_in: 3600, scope: (request.tokenParams && request.tokenParams.scope) || '', token_type: 'Bearer' }, account };
      else response = { messageType: 'NestedAppAuthResponse', requestId: request.requestId, success: false, error: { status: 'NOT_SUPPORTED_ERROR' } };
      setTimeout(() => listeners.forEach((l) => l(JSON.stringify(response))));
    },
  };
})();`;
}
