/**
 * The browser side of POST /api/chat: sends the question with the caller's credentials and reads
 * the Server-Sent Events stream from fetch (EventSource cannot POST or send a bearer token).
 * Events: status {text}, delta {text}, done {text, citations, provider, nothingFound, conversationId},
 * error {id, message}. Shared by the Teams tab and the Outlook add-in.
 */
export interface Citation {
  number: number;
  documentId: string;
  title: string;
  url?: string;
  sourceRef: string;
  passage: string;
}

export interface ChatDone {
  text: string;
  citations: Citation[];
  provider: string;
  nothingFound: boolean;
  conversationId: string;
}

export type ChatEvent =
  | { event: 'status'; data: { text: string } }
  | { event: 'delta'; data: { text: string } }
  | { event: 'done'; data: ChatDone }
  | { event: 'error'; data: { id: string; message: string } };

export interface ChatRequest {
  message: string;
  channel: 'tab' | 'outlook';
  conversationId?: string;
  task?: 'answer' | 'summarise' | 'draft';
  mail?: { subject: string; body: string };
}

/** Parses complete SSE blocks out of `buffer`; returns the events and what is left over. */
export function takeEvents(buffer: string): { events: ChatEvent[]; rest: string } {
  const events: ChatEvent[] = [];
  let rest = buffer.replace(/\r\n/g, '\n');
  let end = rest.indexOf('\n\n');
  while (end >= 0) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let name = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length) {
      try {
        events.push({ event: name, data: JSON.parse(data.join('\n')) } as ChatEvent);
      } catch {
        // A frame that is not JSON is not part of the contract: ignored.
      }
    }
    end = rest.indexOf('\n\n');
  }
  return { events, rest };
}

/** Error text of a refused request (before the stream), from the API's `{error: {id, message}}`. */
async function refusal(response: Response): Promise<{ id: string; message: string }> {
  try {
    const body = (await response.json()) as { error?: { id?: string; message?: string } };
    return { id: body.error?.id ?? 'internal', message: body.error?.message ?? `HTTP ${response.status}` };
  } catch {
    return { id: 'internal', message: `HTTP ${response.status}` };
  }
}

export async function streamChat(request: ChatRequest, headers: Record<string, string>, onEvent: (e: ChatEvent) => void, signal?: AbortSignal): Promise<void> {
  const response = await fetch('/api/chat', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(request),
    credentials: 'same-origin',
    signal,
  });
  if (!response.ok || !response.body || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    onEvent({ event: 'error', data: await refusal(response) });
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const taken = takeEvents(buffer + value);
    buffer = taken.rest;
    for (const e of taken.events) onEvent(e);
  }
  for (const e of takeEvents(buffer + '\n\n').events) onEvent(e);
}
