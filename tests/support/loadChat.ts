/**
 * Chat load over real HTTP with autocannon: each connection is one conversation of one user, and
 * every request on it is the next turn of that conversation (POST /api/chat with the user's
 * bearer token and the conversation's id, questions about the demo documents in turn). Every
 * response body is read to its end and checked to be a complete answer: status events, deltas,
 * then one `done` whose text the deltas add up to, and no `error` event.
 *
 * Used by tests/operations/load.test.ts and bench/replicas.ts. Only figures are returned; what
 * to assert (never a time) is the caller's business.
 */
import autocannon from 'autocannon';

/** Questions about the demo documents (demo/knowledge); every one has an answer there. */
export const LOAD_QUESTIONS: readonly string[] = [
  'What is the maximum hotel rate per night in London on a business trip?',
  'Hoeveel bedraagt de thuiswerkvergoeding per maand?',
  'What phone number do I call to report a security incident?',
  'Hoeveel wettelijke vakantiedagen krijgt een voltijdse medewerker?',
  'Who approves business trips outside Europe?',
  'Hoeveel ADV-dagen heb ik per jaar?',
  'Who is the Data Protection Officer and how do I contact them?',
  'Hoeveel bedraagt de kilometervergoeding met de eigen wagen?',
  'How many working days before departure must I send a request to the Travel Desk?',
  'Wie heeft recht op een bedrijfswagen?',
  'Where may I store site photos in which people are recognisable?',
  'Vanaf welk bedrag heb ik vooraf toestemming nodig voor een uitgave?',
];

export interface LoadConversation {
  /** An Entra access token of the conversation's user. */
  bearer: string;
  /** The id the client picked for the conversation (letters, digits, - and _). */
  conversationId: string;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface ChatLoadResult {
  /** Responses with a 2xx status that arrived before the end (in-flight ones at the end are not counted). */
  turns: number;
  /** 2xx responses whose body was a complete answer. */
  completeAnswers: number;
  /** Bodies that were not a complete answer, with the first few kept to explain why. */
  incompleteAnswers: number;
  incompleteSamples: string[];
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  statusCounts: Record<string, number>;
  /** Seconds the load ran. */
  durationSeconds: number;
  turnsPerSecond: number;
  /** Whole-answer latency of 2xx turns in ms, from the request written to the last byte of the stream. */
  latencyMs: LatencySummary;
  connections: number;
  /** Distinct conversations that got at least one complete answer. */
  conversationsAnswered: number;
}

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function parseSse(text: string): SseEvent[] | undefined {
  try {
    return text
      .split('\n\n')
      .filter((block) => block.trim())
      .map((block) => {
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        return { event, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
      });
  } catch {
    return undefined;
  }
}

/** A complete answer: status events, then deltas, then one done whose text the deltas make up. */
export function completeAnswerOf(body: string): { conversationId: string } | undefined {
  const events = parseSse(body);
  if (!events || events.length < 3) return undefined;
  if (!/^(status )+(delta )+done$/.test(events.map((e) => e.event).join(' '))) return undefined;
  const done = events.at(-1)!.data;
  const text = typeof done.text === 'string' ? done.text : '';
  const streamed = events.filter((e) => e.event === 'delta').map((e) => String(e.data.text)).join('');
  if (!text || streamed !== text || typeof done.conversationId !== 'string') return undefined;
  return { conversationId: done.conversationId };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

export function summarizeLatency(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN,
  };
}

function chatBody(conversationId: string, turn: number): string {
  return JSON.stringify({ message: LOAD_QUESTIONS[turn % LOAD_QUESTIONS.length], channel: 'tab', conversationId });
}

/**
 * Runs `conversations.length` connections (one conversation each) against `urls` (connections
 * are spread over them in turn) for `durationSeconds`.
 */
export async function runChatLoad(options: { urls: string[]; conversations: LoadConversation[]; durationSeconds: number; timeoutSeconds?: number }): Promise<ChatLoadResult> {
  const { conversations } = options;
  if (conversations.length === 0) throw new Error('runChatLoad needs at least one conversation');
  let next = 0;
  let completeAnswers = 0;
  let incompleteAnswers = 0;
  const incompleteSamples: string[] = [];
  const answered = new Set<string>();
  const latencies: number[] = [];

  const instance = autocannon({
    url: options.urls.map((u) => `${u}/api/chat`),
    connections: conversations.length,
    duration: options.durationSeconds,
    timeout: options.timeoutSeconds ?? 30,
    method: 'POST',
    setupClient: (client) => {
      const conversation = conversations[next++ % conversations.length]!;
      let turn = next;
      client.setHeadersAndBody({ 'content-type': 'application/json', authorization: `Bearer ${conversation.bearer}` }, chatBody(conversation.conversationId, turn));
      // The response event comes before the client writes its next request: that one asks the next question.
      client.on('response', () => client.setBody(chatBody(conversation.conversationId, ++turn)));
    },
    verifyBody: (body) => {
      const answer = completeAnswerOf(body);
      if (answer) {
        completeAnswers++;
        answered.add(answer.conversationId);
        return true;
      }
      incompleteAnswers++;
      if (incompleteSamples.length < 5) incompleteSamples.push(body.slice(0, 500));
      return false;
    },
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await instance;
  const durationSeconds = (result.finish.getTime() - result.start.getTime()) / 1000;
  const statusCounts: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) statusCounts[status] = count;
  return {
    turns: result['2xx'],
    completeAnswers,
    incompleteAnswers,
    incompleteSamples,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCounts,
    durationSeconds,
    turnsPerSecond: result['2xx'] / durationSeconds,
    latencyMs: summarizeLatency(latencies),
    connections: conversations.length,
    conversationsAnswered: answered.size,
  };
}
