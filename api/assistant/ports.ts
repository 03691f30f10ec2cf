/**
 * The provider port: one language-model call, whole (`complete`) or as it is written (`stream`).
 * Adapters (extractive, OpenAI, Azure OpenAI, Anthropic, Gemini, Perplexity) implement it, and so
 * does the router that tries a workspace's allowed providers in turn. The prompt builder is the
 * only code that decides what goes into a ChatRequest.
 */

/** A passage retrieved for the question, numbered as the model sees it ([1], [2], ...). */
export interface Passage {
  number: number;
  documentId: string;
  title: string;
  url?: string;
  sourceRef: string;
  heading?: string;
  text: string;
  score: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  /** The complete message list that leaves Kluis for a remote provider. */
  messages: ChatMessage[];
  /** The question on its own (the extractive provider works from it and the passages). */
  question: string;
  /** The passages already embedded in `messages`, for providers that compose from them. */
  passages: Passage[];
  /** Reply language hint, e.g. 'nl' or 'en'. */
  language: 'nl' | 'en';
  /** What is asked: an answer (default), a summary of `mail`, or a reply draft to `mail`. */
  task?: AssistantTask;
  /** The one e-mail the user chose to share from Outlook (already in `messages`, framed as data). */
  mail?: MailItem;
  /** Set when the question needs current information from the web; routing may then pick a web-grounded provider. */
  grounding?: 'web';
}

export type AssistantTask = 'answer' | 'summarise' | 'draft';

/** The current Outlook item as the add-in shares it, only when the user asks. */
export interface MailItem {
  subject: string;
  /** Plain text of the item (the thread as Outlook quotes it). */
  body: string;
}

/** A web page a web-grounded provider (Perplexity) read for its answer; its own numbering. */
export interface WebCitation {
  number: number;
  url: string;
  title?: string;
  /** Publication or last-update date as the provider states it. */
  date?: string;
}

export interface ChatResult {
  text: string;
  /** The provider that answered (after any fallback). */
  provider: string;
  model: string;
  /** Passage numbers the answer relies on. */
  usedPassages: number[];
  usage?: { inputTokens: number; outputTokens: number };
  /** Web sources, only from providers that search the web; shown apart from the passages. */
  webCitations?: WebCitation[];
  /** Providers tried before the one that answered, in order, with why each was passed over. */
  fellBackFrom?: Array<{ provider: string; errorId: string }>;
}

/** One step of a streamed answer: text as it is written, then exactly one `done` with the result. */
export type ChatDelta = { type: 'text'; text: string } | { type: 'done'; result: ChatResult };

export interface ChatProvider {
  readonly name: string;
  complete(request: ChatRequest, signal?: AbortSignal): Promise<ChatResult>;
  /**
   * The same answer as `complete`, streamed. The final `done` carries the full result (its text is
   * the concatenation of the text deltas, trimmed). Errors are the same catalogued errors.
   */
  stream(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatDelta>;
}

/** A source shown with an answer. */
export interface Citation {
  number: number;
  documentId: string;
  title: string;
  url?: string;
  sourceRef: string;
  passage: string;
}

export interface StoredMessage {
  role: 'user' | 'assistant';
  text: string;
  createdAt: Date;
  /** Who asked (user messages) or was answered (assistant messages). */
  authorUserId?: string;
}

/** Where conversations and their messages are kept. */
export interface ConversationStore {
  /** Find or create the conversation for a channel's own conversation id. */
  openConversation(workspaceId: string, key: { channel: string; externalId: string; userId?: string }): Promise<{ id: string }>;
  appendMessage(
    workspaceId: string,
    conversationId: string,
    message: { role: 'user' | 'assistant'; text: string; authorUserId?: string; citations?: Citation[]; provider?: string; model?: string },
  ): Promise<{ id: string }>;
  /** The latest messages, oldest first; with `authorUserId`, only that person's questions and the answers given to them. */
  recentMessages(workspaceId: string, conversationId: string, limit: number, filter?: { authorUserId?: string }): Promise<StoredMessage[]>;
  /**
   * Start afresh: the channel's conversation is set aside (kept, with its messages, until retention
   * or the user removes it) and the next message opens a new one without memory of it.
   */
  setAside(workspaceId: string, key: { channel: string; externalId: string }): Promise<boolean>;
  listForUser(workspaceId: string, userId: string, limit: number): Promise<ConversationSummary[]>;
  /** Deletes the conversation and its messages; false when it is not in this workspace. */
  remove(workspaceId: string, conversationId: string): Promise<boolean>;
  /** The conversation with its messages, or undefined when it is not in this workspace. */
  find(workspaceId: string, conversationId: string): Promise<(ConversationSummary & { messages: Array<StoredMessage & { citations?: Citation[] }> }) | undefined>;
}

export interface ConversationSummary {
  id: string;
  userId?: string;
  channel: string;
  createdAt: Date;
  updatedAt: Date;
}

/** An image to generate (the `/image` command); the prompt is the user's own words. */
export interface ImageRequest {
  prompt: string;
  negativePrompt?: string;
  aspectRatio?: '1:1' | '16:9' | '21:9' | '2:3' | '3:2' | '4:5' | '5:4' | '9:16' | '9:21';
  outputFormat?: 'png' | 'jpeg' | 'webp';
  seed?: number;
}

export interface ImageResult {
  bytes: Uint8Array;
  /** e.g. image/png */
  contentType: string;
  provider: string;
  model: string;
  seed?: number;
}

/** The image-generation port (Stability AI); storing the result in the blob store is the caller's. */
export interface ImageProvider {
  readonly name: string;
  generate(request: ImageRequest, signal?: AbortSignal): Promise<ImageResult>;
}
