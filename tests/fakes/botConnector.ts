/**
 * A local stand-in for the Bot Framework Connector service (the serviceUrl a channel puts on each
 * activity). It speaks the Connector REST wire format for replies: POST
 * /v3/conversations/{conversationId}/activities[/{activityId}] answered with a ResourceResponse.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedReply {
  conversationId: string;
  replyToId?: string;
  authorization?: string;
  activity: { type: string; text?: string; attachments?: Array<{ contentType: string; content: unknown }>; [key: string]: unknown };
}

export async function startFakeConnector() {
  const replies: RecordedReply[] = [];
  const waiters: Array<() => void> = [];
  let sequence = 0;
  const server = http.createServer((req, res) => {
    const match = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NotFound', message: 'Unknown path' } }));
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      replies.push({ conversationId: decodeURIComponent(match[1]!), replyToId: match[2] && decodeURIComponent(match[2]), authorization: req.headers.authorization, activity: JSON.parse(body) });
      waiters.splice(0).forEach((w) => w());
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `reply-${++sequence}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    serviceUrl: `http://127.0.0.1:${port}/`,
    replies,
    /** Replies of type message (cards and text), in order. */
    messages: () => replies.filter((r) => r.activity.type === 'message'),
    async waitForMessages(count: number, timeoutMs = 10000): Promise<RecordedReply[]> {
      const deadline = Date.now() + timeoutMs;
      while (replies.filter((r) => r.activity.type === 'message').length < count) {
        if (Date.now() > deadline) throw new Error(`Expected ${count} message replies, got ${replies.filter((r) => r.activity.type === 'message').length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return replies.filter((r) => r.activity.type === 'message');
    },
    reset: () => void replies.splice(0),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The visible text of an Adaptive Card: every TextBlock text and TextRun text, in order. */
export function cardText(card: unknown): string {
  const out: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if ((n.type === 'TextBlock' || n.type === 'TextRun') && typeof n.text === 'string') out.push(n.text);
    for (const key of ['body', 'items', 'inlines', 'columns']) if (key in n) walk(n[key]);
  };
  walk(card);
  return out.join('\n');
}
