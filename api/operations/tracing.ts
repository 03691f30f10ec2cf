/**
 * The tracing port: what domain modules and channels say about a turn's steps (bot turn or chat
 * turn -> answer pipeline -> retrieval -> provider call) so an operator can see where the time
 * went, without the domain knowing OpenTelemetry. The adapter (otelTracing.ts) turns spans into
 * OpenTelemetry spans; the default does nothing and costs one function call.
 *
 * Why a port of our own and not `@opentelemetry/api` itself: the OpenTelemetry API accepts any
 * attribute name and any string, and a span named after a question or an attribute holding a
 * passage would carry content out of Kluis to a collector. Here span names and attribute names are
 * closed sets (`SpanName`, `TraceAttributeName`) of ids, counts, flags and bounded labels: adding one
 * is a deliberate change to this file. Errors are recorded by their catalogue id only (an error's
 * message may quote a provider's reply or a file name).
 *
 * Why a process-wide installation instead of a constructor dependency: tracing is ambient, like
 * the active span it follows. The composition root installs the adapter once (api/main.ts) and the
 * call sites ask `tracing()`, so no domain signature changes for it. One Kluis process installs one
 * tracer; a second instance started in the same process (tests) replaces it until it stops.
 */
import { isKluisError } from '../errors';

/** Every span Kluis makes. */
export type SpanName =
  /** One Teams message activity the bot answers (bot/teamsBot.ts). */
  | 'bot.turn'
  /** One POST /api/chat (the tab and the Outlook add-in). */
  | 'chat.turn'
  /** The answer pipeline (api/assistant/assistant.ts). */
  | 'assistant.answer'
  /** Retrieval within the asker's workspace (api/knowledge/knowledge.ts). */
  | 'knowledge.search'
  /** The live access check of the final passages with the asker's own SharePoint access. */
  | 'knowledge.live_check'
  /** One call of a language model, streamed or whole, fallbacks included. */
  | 'provider.chat';

/**
 * Every attribute a span may carry: ids, counts, flags and bounded labels. Never a question, an
 * answer, a prompt, a passage, a document title, a user's name or address, or a token.
 */
export type TraceAttributeName =
  /** teams, tab or outlook. */
  | 'kluis.channel'
  /** The asker's workspace (an internal id; the tenant's own id is not needed to find a turn). */
  | 'kluis.workspace.id'
  /** Teams: personal, groupChat or channel. */
  | 'kluis.conversation.type'
  /** answer, summarise or draft. */
  | 'kluis.task'
  /** The asker asked for a web-grounded answer. */
  | 'kluis.grounding.web'
  /** The reply was streamed to the channel. */
  | 'kluis.streamed'
  /** Passages cited by the answer. */
  | 'kluis.answer.citations'
  | 'kluis.answer.nothing_found'
  /** The answer was withheld (it would have revealed the system prompt). */
  | 'kluis.answer.withheld'
  /** Passages asked of retrieval, found by the index, left after the relevance gate, returned. */
  | 'kluis.search.limit'
  | 'kluis.search.candidates'
  | 'kluis.search.relevant'
  | 'kluis.search.hits'
  /** The asker's delegated access confirms the passages (live check). */
  | 'kluis.search.live_check'
  | 'kluis.live_check.kept'
  /** GenAI semantic conventions: `chat`, the provider that answered, its model and token counts. */
  | 'gen_ai.operation.name'
  | 'gen_ai.provider.name'
  | 'gen_ai.response.model'
  | 'gen_ai.usage.input_tokens'
  | 'gen_ai.usage.output_tokens'
  /** success or failure. */
  | 'kluis.provider.outcome'
  /** The provider Kluis called (a router names itself; gen_ai.provider.name the one that answered). */
  | 'kluis.provider.requested'
  /** Providers passed over before one answered. */
  | 'kluis.provider.fallbacks'
  /** The workspace's budget was spent: the offline (quoting) provider answered. */
  | 'kluis.provider.offline';

export type TraceAttributes = Partial<Record<TraceAttributeName, string | number | boolean>>;

/** The span a step runs in: attributes learnt on the way, and a failure that was handled. */
export interface ActiveSpan {
  set(attributes: TraceAttributes): void;
  /** Marks the span failed with an error catalogue id, for failures the step catches itself. */
  fail(errorId: string): void;
}

export interface Tracing {
  /**
   * Runs `fn` in a span that is a child of the span it is called in. A throw marks the span failed
   * with the error's catalogue id and passes through unchanged.
   */
  span<T>(name: SpanName, attributes: TraceAttributes, fn: (span: ActiveSpan) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` as part of the caller's trace: the W3C Trace Context `traceparent` header of the
   * request as received (absent, repeated or hostile alike) becomes the remote parent of the span
   * `fn` starts, so a turn joins the trace of whoever sent the request. A header that is not a
   * valid traceparent, or a call from within a span, changes nothing: the span starts where it
   * would have. Nothing else of the header is kept (no `tracestate`).
   */
  continueTrace<T>(traceparent: string | string[] | undefined, fn: () => Promise<T>): Promise<T>;
}

const NO_SPAN: ActiveSpan = { set: () => undefined, fail: () => undefined };

/** Traces nothing: the default, and what Kluis uses with OTEL_TRACES_EXPORTER=none. */
export const NO_TRACING: Tracing = { span: (_name, _attributes, fn) => fn(NO_SPAN), continueTrace: (_traceparent, fn) => fn() };

let installed: Tracing = NO_TRACING;

/** The tracer the composition root installed, else NO_TRACING. */
export function tracing(): Tracing {
  return installed;
}

/** Installs `t` for this process; the returned function puts back what was there before. */
export function installTracing(t: Tracing): () => void {
  const previous = installed;
  installed = t;
  return () => {
    if (installed === t) installed = previous;
  };
}

/** What a span records of an error: its catalogue id, `internal` for anything uncatalogued. */
export function errorIdOf(error: unknown): string {
  return isKluisError(error) ? error.id : 'internal';
}
