/**
 * The Teams answer pipeline over real HTTP against a real database: a personal chat streams the
 * answer of a (slowly writing) OpenAI-compatible provider, a group chat gets one final card, the
 * feedback loop stores thumbs on the streamed reply and refuses every reply that is not the
 * rater's own, and `/image` puts a Stability picture inline and in the workspace's blob store.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createEncryptedFolderStore } from '../../api/files/encryptedFolderStore';
import { createSealedBlobStore } from '../../api/files/sealedBlobStore';
import { cardText, startFakeConnector, type RecordedReply } from '../fakes/botConnector';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openaiServer';
import { FAKE_PNG, startFakeStability, type FakeStability } from '../fakes/stabilityServer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;
let openai: FakeOpenAi;
let stability: FakeStability;

interface Person { tenantId: string; oid: string; mri: string }
const person = (tenantId: string): Person => ({ tenantId, oid: randomUUID(), mri: `29:${randomUUID()}` });
const alex = person(tenantA);
const colleague = person(tenantA);
const stranger = person(tenantB);

function activity(p: Person, overrides: Record<string, unknown> = {}) {
  return {
    type: 'message',
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: { id: p.mri, name: 'Alex Wilber', aadObjectId: p.oid },
    recipient: { id: 'bot-id', name: 'Kluis' },
    conversation: { id: `a:${p.oid}`, conversationType: 'personal', tenantId: p.tenantId },
    channelData: { tenant: { id: p.tenantId } },
    ...overrides,
  };
}

async function post(body: unknown) {
  const response = await fetch(`${kluis.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { error?: { id: string } }) : undefined };
}

const ask = (p: Person, text: string, overrides: Record<string, unknown> = {}) => post(activity(p, { text, ...overrides }));

/** Teams' feedback invoke on a reply (`message/submitAction`, actionName feedback). */
const rate = (p: Person, replyToId: string, actionValue: unknown) => post(activity(p, { type: 'invoke', name: 'message/submitAction', replyToId, value: { actionName: 'feedback', actionValue } }));

const streamTypeOf = (r: RecordedReply) => (r.activity.channelData as { streamType?: string } | undefined)?.streamType;
const streamIdOf = (r: RecordedReply) => (r.activity.channelData as { streamId?: string } | undefined)?.streamId;
const aiEntityOf = (r: RecordedReply) => (r.activity.entities as Array<{ additionalType?: string[]; citation?: Array<{ position: number; appearance: { name: string; abstract: string; url?: string } }> }> | undefined)?.find((e) => e.additionalType?.includes('AIGeneratedContent'));
const workspaceOf = async (tenantId: string) => (await db.workspace.findUniqueOrThrow({ where: { tenantId } })).id;
const feedbackRows = async () => Number((await db.$queryRawUnsafe<Array<{ n: bigint }>>('SELECT COUNT(*) AS n FROM `MessageFeedback` WHERE `workspaceId` IN (?, ?)', await workspaceOf(tenantA), await workspaceOf(tenantB)))[0]!.n);

const HOTEL_ANSWER = 'Hotels in London are reimbursed up to EUR 185 per night [1].';
let streamed: { streamId: string; messageId: string };

beforeAll(async () => {
  connector = await startFakeConnector();
  openai = await startFakeOpenAi({ apiKey: 'sk-test-kluis' });
  stability = await startFakeStability();
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: tenantA,
    ONBOARD_TENANTS: `${tenantB}=Fabrikam`,
    KNOWLEDGE_DIR: 'demo/knowledge',
    ASSISTANT_PROVIDER: 'openai',
    OPENAI_API_KEY: 'sk-test-kluis',
    OPENAI_BASE_URL: openai.baseUrl,
    OPENAI_MODEL: 'gpt-test',
    OPENAI_MAX_RETRIES: '0',
    STABILITY_API_KEY: stability.apiKey,
    STABILITY_BASE_URL: stability.baseUrl,
    STABILITY_MAX_RETRIES: '0',
  });
  // Members first (the first one of a workspace becomes its admin): help is answered without a model.
  for (const p of [alex, colleague, stranger]) await ask(p, 'help');
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await openai?.close();
  await stability?.close();
  await connector?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

beforeEach(() => {
  connector.reset();
  openai.requests.splice(0);
});

describe('a streamed answer in a personal chat', () => {
  it('shows progress, then the text in chunks, then one final message with citations, the AI label and feedback', async () => {
    // Slower than teams-ai's 1.5 s between sends, so the text reaches Teams in more than one chunk.
    openai.enqueue({ kind: 'completion', content: HOTEL_ANSWER, chunkDelayMs: 600 });
    expect((await ask(alex, 'What is the maximum hotel rate per night in London on a business trip?')).status).toBe(200);

    const replies = connector.replies.filter((r) => streamTypeOf(r) !== undefined);
    expect(replies[0]!.activity).toMatchObject({ type: 'typing', text: 'Searching your documents…' });
    const chunks = replies.filter((r) => streamTypeOf(r) === 'streaming');
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks.at(-1)!.activity.text!.length).toBeGreaterThan(chunks[0]!.activity.text!.length);
    expect(HOTEL_ANSWER.startsWith(chunks[0]!.activity.text!)).toBe(true);

    const finals = connector.messages();
    expect(finals).toHaveLength(1);
    const final = finals[0]!;
    expect(streamTypeOf(final)).toBe('final');
    expect(final.activity.text).toBe(`${HOTEL_ANSWER}\n\n_Answered by: openai (gpt-test)_`);
    expect((final.activity.channelData as { feedbackLoopEnabled?: boolean }).feedbackLoopEnabled).toBe(true);
    const citations = aiEntityOf(final)?.citation ?? [];
    expect(citations.length).toBeGreaterThan(0);
    expect(citations[0]).toMatchObject({ '@type': 'Claim', position: 1, appearance: { '@type': 'DigitalDocument', name: expect.stringMatching(/travel/i) } });
    expect(citations[0]!.appearance.abstract.length).toBeGreaterThan(20);
    // Updates and the final message are one stream: the final message replaces the first update.
    const streamId = streamIdOf(final)!;
    expect(streamId).toMatch(/^reply-/);
    expect(chunks.every((c) => streamIdOf(c) === streamId)).toBe(true);

    const answer = await db.message.findFirstOrThrow({ where: { workspaceId: await workspaceOf(tenantA), role: 'assistant', replyActivityId: streamId } });
    expect(answer.text).toBe(HOTEL_ANSWER);
    streamed = { streamId, messageId: answer.id };
  }, 30000);

  it('ends the stream with the error text when the provider fails part-way', async () => {
    openai.enqueue({ kind: 'stream-error', message: 'The server had an error', type: 'server_error' });
    expect((await ask(alex, 'What is the maximum hotel rate per night in London on a business trip?')).status).toBe(200);
    const finals = connector.messages();
    expect(finals).toHaveLength(1);
    expect(streamTypeOf(finals[0]!)).toBe('final');
    expect(finals[0]!.activity.text).toMatch(/^(The language model is busy|Something went wrong while answering)/);
    expect(aiEntityOf(finals[0]!)).toBeUndefined();
    // Nothing comes after the final message: no stream left open.
    expect(connector.replies.at(-1)).toBe(finals[0]);
  }, 30000);
});

describe('a group chat', () => {
  it('gets one final message: the answer card with its sources and the AI label, no stream', async () => {
    openai.enqueue({ kind: 'completion', content: HOTEL_ANSWER, chunkDelayMs: 50 });
    await ask(alex, 'What is the maximum hotel rate per night in London on a business trip?', { conversation: { id: `19:${randomUUID()}@thread.v2`, conversationType: 'groupChat', tenantId: tenantA } });
    expect(connector.replies.filter((r) => streamTypeOf(r) !== undefined)).toEqual([]);
    const [reply, ...more] = connector.messages();
    expect(more).toEqual([]);
    const text = cardText(reply!.activity.attachments![0]!.content);
    expect(text).toContain('EUR 185 per night');
    expect(text).toContain('Answered by: openai (gpt-test)');
    expect(aiEntityOf(reply!)).toBeDefined();
  });
});

describe("Teams' feedback loop", () => {
  it('stores a thumbs up with the comment on the streamed answer, and keeps the comment out of the audit log', async () => {
    const response = await rate(alex, streamed.streamId, { reaction: 'like', feedback: JSON.stringify({ feedbackText: 'Precies wat ik zocht' }) });
    expect(response.status).toBe(200);
    const row = await db.messageFeedback.findFirstOrThrow({ where: { workspaceId: await workspaceOf(tenantA), messageId: streamed.messageId } });
    expect(row).toMatchObject({ reaction: 'like', comment: 'Precies wat ik zocht' });
    const audit = await db.auditEvent.findMany({ where: { workspaceId: await workspaceOf(tenantA), kind: 'assistant.feedback' } });
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain('Precies');

    expect((await rate(alex, streamed.streamId, { reaction: 'dislike', feedback: '' })).status).toBe(200);
    expect(await db.messageFeedback.findFirstOrThrow({ where: { workspaceId: await workspaceOf(tenantA), messageId: streamed.messageId } })).toMatchObject({ reaction: 'dislike', comment: null });
  });

  it.each([
    ['rating a reply of another tenant (cross-tenant)', () => stranger, () => streamed.streamId, 404, 'not_found'],
    ["rating a colleague's answer (cross-user)", () => colleague, () => streamed.streamId, 404, 'not_found'],
    ['a reply id no answer has', () => alex, () => `1:${randomUUID()}`, 404, 'not_found'],
  ])('refuses %s, storing nothing', async (_name, who, replyToId, status, id) => {
    const before = await db.messageFeedback.findFirstOrThrow({ where: { workspaceId: await workspaceOf(tenantA), messageId: streamed.messageId } });
    const response = await rate(who(), replyToId(), { reaction: 'like', feedback: JSON.stringify({ feedbackText: 'overwrite' }) });
    expect(response.status).toBe(status);
    expect(response.body?.error?.id).toBe(id);
    expect(await db.messageFeedback.findFirstOrThrow({ where: { workspaceId: await workspaceOf(tenantA), messageId: streamed.messageId } })).toEqual(before);
  });

  it.each([
    ['a reaction that is neither like nor dislike', { reaction: 'love', feedback: '' }, 'request_malformed'],
    ['a comment over 2000 characters', { reaction: 'dislike', feedback: JSON.stringify({ feedbackText: 'x'.repeat(2001) }) }, 'request_malformed'],
    ['a comment that is not text', { reaction: 'dislike', feedback: { feedbackText: { $gt: '' } } }, 'request_malformed'],
    ['no actionValue', undefined, 'request_malformed'],
  ])('refuses %s with a 400, storing nothing', async (_name, actionValue, id) => {
    const before = await feedbackRows();
    const response = await rate(alex, streamed.streamId, actionValue);
    expect(response.status).toBe(400);
    expect(response.body?.error?.id).toBe(id);
    expect(await feedbackRows()).toBe(before);
  });

  it('refuses a submitAction invoke without a value with a 400', async () => {
    const response = await post(activity(alex, { type: 'invoke', name: 'message/submitAction', replyToId: streamed.streamId }));
    expect(response.status).toBe(400);
    expect(response.body?.error?.id).toBe('activity_invalid');
  });
});

describe('/image', () => {
  it('replies with the picture inline and the AI label, keeps it in the workspace, and audits without the prompt', async () => {
    stability.enqueue({ kind: 'image', seed: 7 });
    const prompt = 'a lighthouse on the Zeeland coast at dusk, watercolour';
    expect((await ask(alex, `/image ${prompt}`)).status).toBe(200);
    const [reply] = connector.messages();
    const attachment = (reply!.activity.attachments as Array<{ contentType: string; contentUrl?: string }>)[0]!;
    expect(attachment.contentType).toBe('image/png');
    expect(attachment.contentUrl).toBe(`data:image/png;base64,${FAKE_PNG.toString('base64')}`);
    expect(aiEntityOf(reply!)).toBeDefined();
    // Only the prompt left Kluis.
    expect(stability.forms.at(-1)).toEqual({ prompt, output_format: 'png' });

    const workspaceId = await workspaceOf(tenantA);
    const [event] = await db.auditEvent.findMany({ where: { workspaceId, kind: 'assistant.image', outcome: 'success' } });
    expect(JSON.stringify(event)).not.toContain('lighthouse');
    const imageId = (event!.detail as { imageId: string }).imageId;
    // Kluis seals every blob with the workspace's data key on top of the folder's own encryption.
    const blobs = createSealedBlobStore(createEncryptedFolderStore(path.join(kluis.dataDir, 'blobs')), kluis.modules.dataKeys);
    expect((await blobs.get(workspaceId, `images/${imageId}.png`))?.equals(FAKE_PNG)).toBe(true);
    expect(await blobs.get(await workspaceOf(tenantB), `images/${imageId}.png`)).toBeUndefined();
  });

  it('answers the Dutch form too, and says politely when the image service declines the description', async () => {
    stability.enqueue({ kind: 'moderation' });
    await ask(alex, 'afbeelding iets dat de filter weigert');
    const [reply] = connector.messages();
    expect(reply!.activity.text).toMatch(/the image service declined the request/);
    expect(reply!.activity.attachments ?? []).toEqual([]);
    const refused = await db.auditEvent.findMany({ where: { workspaceId: await workspaceOf(tenantA), kind: 'assistant.image', outcome: 'refused' } });
    expect(refused.map((e) => (e.detail as { errorId: string }).errorId)).toEqual(['image_filtered']);
  });

  it('shows the problem text when the image service fails, and how to use the command without a description', async () => {
    stability.enqueue({ kind: 'server-error' });
    await ask(alex, 'image a harbour');
    expect(connector.messages()[0]!.activity.text).toMatch(/^The language model is busy or unreachable right now/);
    connector.reset();
    await ask(alex, '/image');
    expect(connector.messages()[0]!.activity.text).toMatch(/^Describe the picture after the command/);
  });
});
