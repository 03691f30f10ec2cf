/**
 * End-to-end driver for the Microsoft 365 Agents Playground (the local Teams stand-in).
 *
 * `startPlayground` runs the playground server headless against a bot endpoint;
 * `openPlaygroundChat` drives its web chat with Chromium through playwright-core, so a test can
 * type like a Teams user and read what the bot shows, Adaptive Cards included.
 *
 * What the playground does, as observed with version 0.2.28 (keep in mind when writing tests):
 * - Opening the chat page (not starting the server) makes it post `installationUpdate` (action
 *   "add") and then `conversationUpdate` (membersAdded: the user and the bot) to the bot.
 * - Activities carry no Authorization header, only `x-ms-agents-playground: true`; tenant
 *   00000000-0000-0000-0000-0000000000001, user aadObjectId 00000000-0000-0000-0000-0000000000020.
 * - When the bot answers an activity with HTTP 4xx/5xx the chat shows nothing at all; only the
 *   playground's log panel records it ("message 500"). That is why timeouts here quote the panel.
 * - Streamed replies (streaminfo entities) are not rendered while streaming; only the final
 *   message appears. Typing indicators are not chat messages.
 * - Action.Execute replaces the card in place, so a refreshed card is not a *new* bot message.
 * - Each page load starts an empty chat but reuses the conversation id of that playground run and
 *   posts the opening activities again; use one playground per suite for independent tests.
 * - The server listens on all interfaces (there is no host flag), on the port it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export interface StartPlaygroundOptions {
  /** The bot's messaging endpoint, e.g. http://127.0.0.1:3978/api/messages. */
  botEndpoint: string;
  /** Port for the playground's web UI and mock connector; a free one when omitted. */
  port?: number;
  /** Receives every line the playground prints (stdout and stderr). */
  log?: (line: string) => void;
  /** How long to wait for the playground to answer HTTP; default 60 s. It takes about 1 s, but loads a 5 MB bundle on a possibly cold, busy CI machine. */
  startTimeoutMs?: number;
}

export interface RunningPlayground {
  /** Base URL of the playground web chat, e.g. http://127.0.0.1:56150. */
  url: string;
  /** Kills the playground's process group, waits for it to exit and removes its working directory. */
  stop(): Promise<void>;
}

export interface OpenPlaygroundChatOptions {
  /** Chromium (or Chrome) binary; default /usr/bin/chromium, as installed by `apt-get install chromium`. */
  chromiumPath?: string;
  /** How long to wait for the chat to load and the bot to answer the opening conversationUpdate; default 30 s. */
  readyTimeoutMs?: number;
}

export interface PlaygroundChat {
  /** Types `text` into the compose box as the user and sends it. */
  send(text: string): Promise<void>;
  /**
   * Resolves with the whole visible text (as rendered, trimmed) of the first bot message or
   * Adaptive Card that appeared after the most recent `send` (or since the chat opened, before
   * any send) and matches: a string matches when contained, a RegExp when it tests true.
   * Rejects after `timeoutMs` (default 15 s) listing the bot messages seen and the log panel.
   */
  waitForBotMessage(match: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Visible text of every bot message and card in the conversation, oldest first. */
  botMessages(): Promise<string[]>;
  /** Saves a PNG of the page. */
  screenshot(file: string): Promise<void>;
  /** Closes the browser. */
  close(): Promise<void>;
  /** The underlying page, for what the helpers above do not cover (e.g. pressing card buttons). */
  readonly page: Page;
}

const DEFAULT_CHROMIUM = '/usr/bin/chromium';

// Flags for a quiet, self-contained browser: no sandbox because CI containers run as root,
// no GPU in headless containers, and no background traffic to Google (QUIC, sync, component
// updates) that would only slow start-up or fail without internet access.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// The page has two contenteditable elements: the Lexical compose box and the log panel.
const COMPOSE_BOX = '[contenteditable="true"][data-lexical-editor="true"]';
const LOG_PANEL = '[contenteditable="true"]:not([data-lexical-editor])';
// Every bot message is a `.fai-OutputCard`, and Adaptive Cards render inside one, so the card's
// text is part of the message text. The second selector is insurance for a card rendered on its
// own, should a playground release stop wrapping them.
const BOT_MESSAGES = '.fai-OutputCard, .ac-adaptiveCard:not(.fai-OutputCard .ac-adaptiveCard)';

// The playground logs one line per activity it posts, ending in the bot's HTTP status; seeing it
// for the conversationUpdate means the bot has handled the opening activities (welcome sent).
const OPENING_HANDLED = /conversationUpdate \d{3}/;

const POLL_MS = 100;
// A matching message must keep the same text this long before it is returned, so a message
// that is still being re-rendered (or updated by the bot) is not read half-way.
const SETTLE_MS = 300;

/** Playgrounds still running (process group id -> working directory), for cleanup on exit. */
const livePlaygrounds = new Map<number, string>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // The playground runs in its own process group (so stop() can kill the whole tree), which
  // also means neither Ctrl-C in the terminal nor the test process dying reaches it; without
  // these hooks a crashed or interrupted run would leave it holding its port.
  const cleanUp = () => {
    for (const [pgid, dir] of livePlaygrounds) {
      killGroup(pgid, 'SIGKILL');
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort while exiting
      }
    }
    livePlaygrounds.clear();
  };
  process.on('exit', cleanUp);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanUp();
      // Re-raise, so the process still ends the way the signal asked (our listener is gone now).
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Finds node_modules/.bin/<name> from this file upwards, so the driver works from any cwd. */
function findBin(name: string): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', '.bin', name);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`Cannot find node_modules/.bin/${name} above ${__dirname}; is @microsoft/m365agentsplayground installed (npm install)?`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function answersHttp(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** Starts the playground server (no browser of its own) pointed at `botEndpoint`. */
export async function startPlayground(options: StartPlaygroundOptions): Promise<RunningPlayground> {
  const bin = findBin('agentsplayground');
  const requestedPort = options.port ?? (await freePort());
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  // The playground writes devTools/m365agentsplayground.log into its cwd and reads an optional
  // config file from there, so a private directory keeps the repo clean and the setup default.
  const workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'kluis-playground-'));

  // Inherited playground settings (port, service URL, config path, ...) from a developer's shell
  // would silently change what the bot receives; tests get the defaults plus our flags.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(TEAMSAPPTESTER_|M365_AGENTS_PLAYGROUND_|TEAMS_APP_TEST_TOOL_)/.test(key)) env[key] = value;
  }
  env.TEAMSAPPTESTER_BROWSER = 'none'; // never try to open a desktop browser

  const args = ['--app-endpoint', options.botEndpoint, '--channel-id', 'msteams', '--port', String(requestedPort), '--disable-telemetry'];
  // detached: its own process group, so stop() reaches anything it spawns too.
  const child = spawn(bin, args, { cwd: workDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid;
  if (pgid === undefined) {
    await fs.promises.rm(workDir, { recursive: true, force: true });
    throw new Error(`Could not spawn ${bin}`);
  }
  installExitHooks();
  livePlaygrounds.set(pgid, workDir);

  const recent: string[] = [];
  let listeningPort: number | undefined;
  const onLine = (line: string) => {
    recent.push(line);
    if (recent.length > 40) recent.shift();
    // The playground falls back to a random port when the requested one is taken; it reports
    // the port it really uses here.
    const m = /Listening on (\d+)/.exec(line);
    if (m) listeningPort = Number(m[1]);
    options.log?.(line);
  };
  readline.createInterface({ input: child.stdout! }).on('line', onLine);
  readline.createInterface({ input: child.stderr! }).on('line', onLine);
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    killGroup(pgid, 'SIGTERM');
    if (!(await waitForExit(child, 5000))) {
      killGroup(pgid, 'SIGKILL');
      await waitForExit(child, 5000);
    }
    // The main process exiting does not prove its children did; make sure of the group.
    killGroup(pgid, 'SIGKILL');
    livePlaygrounds.delete(pgid);
    await fs.promises.rm(workDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    const exited = child.exitCode !== null || child.signalCode !== null;
    if (spawnError || exited) {
      await stop();
      const why = spawnError ? spawnError.message : `exited with ${child.exitCode ?? child.signalCode}`;
      throw new Error(`Agents Playground ${why} before it was ready.\nIts output:\n${recent.join('\n') || '(none)'}`);
    }
    if (listeningPort !== undefined && (await answersHttp(`http://127.0.0.1:${listeningPort}/`))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `Agents Playground did not answer HTTP on port ${listeningPort ?? requestedPort} within ${startTimeoutMs} ms.\nIts output:\n${recent.join('\n') || '(none)'}`,
      );
    }
    await sleep(POLL_MS);
  }
  return { url: `http://127.0.0.1:${listeningPort}`, stop };
}

function matches(text: string, match: string | RegExp): boolean {
  if (typeof match === 'string') return text.includes(match);
  match.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
  return match.test(text);
}

function quoteList(texts: string[], start = 1): string {
  return texts.map((t, i) => `  ${start + i}. ${JSON.stringify(t)}`).join('\n');
}

/** Opens the playground's chat in headless Chromium and waits until the bot has greeted it. */
export async function openPlaygroundChat(url: string, options: OpenPlaygroundChatOptions = {}): Promise<PlaygroundChat> {
  const chromiumPath = options.chromiumPath ?? DEFAULT_CHROMIUM;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`No Chromium at ${chromiumPath}. Install it (apt-get install -y chromium) or pass chromiumPath.`);
  }
  // launch() gives each browser a fresh temporary profile, deleted on close.
  const browser: Browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));

    const composeBox = page.locator(COMPOSE_BOX);
    const logPanel = page.locator(LOG_PANEL);
    const messages: Locator = page.locator(BOT_MESSAGES);

    const readLog = async (lines: number): Promise<string> => {
      const text = await logPanel.innerText({ timeout: 1000 }).catch(() => '(log panel not readable)');
      return text.trim().split('\n').slice(-lines).join('\n');
    };
    const texts = async (): Promise<string[]> => (await messages.allInnerTexts()).map((t) => t.trim());

    await page.goto(url);
    await composeBox.waitFor({ state: 'visible', timeout: readyTimeoutMs });
    // Wait for the bot's answer to the opening conversationUpdate, so a welcome message cannot
    // arrive after a test's first send and be mistaken for the reply to it.
    const openedBy = Date.now() + readyTimeoutMs;
    while (!OPENING_HANDLED.test(await readLog(200))) {
      if (Date.now() > openedBy) {
        throw new Error(
          `The playground never delivered conversationUpdate to the bot within ${readyTimeoutMs} ms (is the bot listening?).\nPlayground log:\n${await readLog(15)}`,
        );
      }
      await sleep(POLL_MS);
    }
    // Then let replies to the opening activities finish rendering.
    for (let last = await messages.count(), quietSince = Date.now(); Date.now() - quietSince < 500; ) {
      await sleep(POLL_MS);
      const now = await messages.count();
      if (now !== last) [last, quietSince] = [now, Date.now()];
    }

    let baseline = 0;
    let lastSent: string | undefined;
    let closed = false;

    const chat: PlaygroundChat = {
      page,

      async send(text: string): Promise<void> {
        baseline = await messages.count();
        lastSent = text;
        await composeBox.click();
        await page.keyboard.press('Control+A');
        await page.keyboard.press('Backspace');
        // insertText goes through the editor's beforeinput handling like a paste, which Lexical
        // accepts, and is much faster than typing key by key.
        await page.keyboard.insertText(text);
        const typed = (await composeBox.innerText()).trim();
        if (typed !== text.trim()) {
          throw new Error(`The compose box holds ${JSON.stringify(typed)} instead of ${JSON.stringify(text)}`);
        }
        await page.getByRole('button', { name: 'Send Message' }).click();
        // The box empties once the client has taken the message; after that it is in flight.
        const sentBy = Date.now() + 5000;
        while ((await composeBox.innerText()).trim() !== '') {
          if (Date.now() > sentBy) throw new Error(`The playground did not accept the message ${JSON.stringify(text)} (compose box not cleared).`);
          await sleep(POLL_MS);
        }
      },

      async waitForBotMessage(match: string | RegExp, timeoutMs = 15_000): Promise<string> {
        const started = Date.now();
        let seen: string[] = [];
        let candidate: { index: number; text: string; since: number } | undefined;
        for (;;) {
          seen = (await texts()).slice(baseline);
          const index = seen.findIndex((t) => matches(t, match));
          if (index >= 0) {
            const text = seen[index]!;
            if (!candidate || candidate.index !== index || candidate.text !== text) {
              candidate = { index, text, since: Date.now() };
            } else if (Date.now() - candidate.since >= SETTLE_MS) {
              return text;
            }
          } else {
            candidate = undefined;
          }
          if (Date.now() - started > timeoutMs) {
            if (candidate) return candidate.text; // matched, only not settled: still the answer
            break;
          }
          await sleep(POLL_MS);
        }
        const all = await texts();
        const earlier = all.slice(0, baseline);
        const since = lastSent === undefined ? 'since the chat opened' : `after sending ${JSON.stringify(lastSent)}`;
        throw new Error(
          [
            `No bot message matching ${typeof match === 'string' ? JSON.stringify(match) : String(match)} appeared within ${timeoutMs} ms ${since}.`,
            seen.length ? `Bot messages ${since} (${seen.length}):\n${quoteList(seen)}` : `No bot messages ${since}.`,
            earlier.length ? `Earlier bot messages (last ${Math.min(3, earlier.length)} of ${earlier.length}):\n${quoteList(earlier.slice(-3), earlier.length - Math.min(3, earlier.length) + 1)}` : '',
            // A bot that failed the request (HTTP 4xx/5xx) shows nothing in the chat; the log panel
            // is where the playground records the status.
            `Playground log (last lines):\n${await readLog(12)}`,
            pageErrors.length ? `Page errors:\n${pageErrors.slice(-5).join('\n')}` : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      },

      botMessages: texts,

      async screenshot(file: string): Promise<void> {
        await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
        await page.screenshot({ path: file });
      },

      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await browser.close();
      },
    };
    return chat;
  } catch (err) {
    await browser.close().catch(() => undefined);
    throw err;
  }
}
