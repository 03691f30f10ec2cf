import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { fail } from '../errors';
import { createOtelTracing, tracesUrl, type ExportFailure } from './otelTracing';
import { errorIdOf, installTracing, NO_TRACING, tracing } from './tracing';

const settings = { exporter: 'console' as const, endpoint: 'http://127.0.0.1:4318', serviceName: 'kluis', environment: 'test', sampleRatio: 1 };

describe('the tracing port', () => {
  it('does nothing by default and passes results and errors through', async () => {
    expect(tracing()).toBe(NO_TRACING);
    await expect(tracing().span('assistant.answer', {}, async (span) => (span.set({ 'kluis.search.hits': 1 }), 7))).resolves.toBe(7);
    await expect(tracing().span('assistant.answer', {}, async () => fail('provider_unavailable', 'down'))).rejects.toThrow('down');
  });

  it('ignores an incoming traceparent when tracing is off, and passes results and errors through', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await expect(tracing().continueTrace(traceparent, () => tracing().span('chat.turn', {}, async () => 7))).resolves.toBe(7);
    await expect(tracing().continueTrace(traceparent, async () => fail('provider_unavailable', 'down'))).rejects.toThrow('down');
  });

  it('installs one tracer and puts the previous one back', () => {
    const t = createOtelTracing(settings, { exporter: new InMemorySpanExporter() });
    const uninstall = installTracing(t);
    expect(tracing()).toBe(t);
    uninstall();
    expect(tracing()).toBe(NO_TRACING);
  });

  it('names errors by their catalogue id only', () => {
    let caught: unknown;
    try {
      fail('budget_exhausted', 'workspace 1 spent 500 cents');
    } catch (error) {
      caught = error;
    }
    expect(errorIdOf(caught)).toBe('budget_exhausted');
    expect(errorIdOf(new TypeError('the question was: secret'))).toBe('internal');
  });
});

describe('createOtelTracing', () => {
  const finished = async (run: (t: ReturnType<typeof createOtelTracing>) => Promise<unknown>, ratio = 1) => {
    const exporter = new InMemorySpanExporter();
    const t = createOtelTracing({ ...settings, sampleRatio: ratio }, { exporter });
    await run(t).catch(() => undefined);
    await t.flush();
    const spans = exporter.getFinishedSpans();
    await t.shutdown();
    return spans;
  };

  it('nests spans by where they run, also across concurrent turns', async () => {
    const spans = await finished((t) =>
      Promise.all(
        [1, 2].map((n) =>
          t.span('chat.turn', { 'kluis.search.limit': n }, () => t.span('assistant.answer', {}, () => Promise.all([t.span('knowledge.search', {}, async () => n), t.span('provider.chat', {}, async () => n)]))),
        ),
      ),
    );
    const turns = spans.filter((s) => s.name === 'chat.turn');
    expect(turns).toHaveLength(2);
    for (const turn of turns) {
      const inTrace = spans.filter((s) => s.spanContext().traceId === turn.spanContext().traceId);
      const answer = inTrace.find((s) => s.name === 'assistant.answer')!;
      expect(inTrace.map((s) => s.name).sort()).toEqual(['assistant.answer', 'chat.turn', 'knowledge.search', 'provider.chat']);
      expect(answer.parentSpanContext?.spanId).toBe(turn.spanContext().spanId);
      for (const child of inTrace.filter((s) => s.name === 'knowledge.search' || s.name === 'provider.chat')) expect(child.parentSpanContext?.spanId).toBe(answer.spanContext().spanId);
    }
  });

  it('marks a thrown error and a handled failure ERROR with the catalogue id, without the message', async () => {
    const spans = await finished(async (t) => {
      await t.span('bot.turn', {}, async (turn) => {
        await t.span('provider.chat', {}, async () => fail('provider_rejected', 'the reply quoted: secret passage')).catch((error) => turn.fail(errorIdOf(error)));
      });
    });
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    for (const name of ['bot.turn', 'provider.chat']) {
      expect(byName(name).status).toEqual({ code: 2, message: 'provider_rejected' });
      expect(byName(name).attributes['error.type']).toBe('provider_rejected');
      expect(byName(name).events).toEqual([]);
    }
    expect(JSON.stringify(spans.map((s: ReadableSpan) => [s.attributes, s.status, s.events]))).not.toContain('secret');
  });

  it('leaves out undefined attributes and keeps the rest', async () => {
    const [span] = await finished((t) => t.span('provider.chat', { 'gen_ai.usage.input_tokens': undefined, 'kluis.streamed': false }, async (s) => s.set({ 'gen_ai.usage.output_tokens': 12 })));
    expect(span!.attributes).toEqual({ 'kluis.streamed': false, 'gen_ai.usage.output_tokens': 12 });
  });

  it('records nothing of a turn the sampler leaves out, children included', async () => {
    const spans = await finished((t) => t.span('chat.turn', {}, () => t.span('assistant.answer', {}, async () => 1)), 0);
    expect(spans).toEqual([]);
  });

  it('reports failed exports with the number of dropped spans, once a minute at most', async () => {
    const failures: ExportFailure[] = [];
    const refusing: SpanExporter = { export: (_spans, done) => done({ code: 1, error: new Error('collector refused') }), shutdown: async () => undefined };
    const t = createOtelTracing(settings, { exporter: refusing, onExportFailed: (f) => failures.push(f) });
    await t.span('chat.turn', {}, async () => 1);
    await t.flush();
    await t.span('chat.turn', {}, async () => 1);
    await t.flush();
    await t.shutdown();
    expect(failures).toEqual([{ droppedSpans: 1, reason: 'collector refused' }]);
  });

  describe("continuing a caller's trace from its traceparent header", () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';

    it('makes the turn a child of the caller\'s span, in the caller\'s trace, with its own spans under the turn', async () => {
      const spans = await finished((t) => t.continueTrace(`00-${traceId}-${parentId}-01`, () => t.span('chat.turn', {}, () => t.span('assistant.answer', {}, async () => 1))));
      const turn = spans.find((s) => s.name === 'chat.turn')!;
      const answer = spans.find((s) => s.name === 'assistant.answer')!;
      expect(turn.spanContext().traceId).toBe(traceId);
      expect(turn.parentSpanContext).toMatchObject({ traceId, spanId: parentId, isRemote: true });
      expect(turn.spanContext().spanId).not.toBe(parentId);
      expect(answer.spanContext().traceId).toBe(traceId);
      expect(answer.parentSpanContext?.spanId).toBe(turn.spanContext().spanId);
    });

    it('reads a later version with more fields after its flags, as the specification asks', async () => {
      const [turn] = await finished((t) => t.continueTrace(`01-${traceId}-${parentId}-01-what-comes-next`, () => t.span('bot.turn', {}, async () => 1)));
      expect(turn!.spanContext().traceId).toBe(traceId);
      expect(turn!.parentSpanContext?.spanId).toBe(parentId);
    });

    it("follows the caller's decision not to sample its trace", async () => {
      const spans = await finished((t) => t.continueTrace(`00-${traceId}-${parentId}-00`, () => t.span('chat.turn', {}, () => t.span('assistant.answer', {}, async () => 1))));
      expect(spans).toEqual([]);
    });

    it.each<[string, string | string[] | undefined]>([
      ['absent', undefined],
      ['empty', ''],
      ['oversized', `01-${traceId}-${parentId}-01-${'x'.repeat(300)}`],
      ['version ff', `ff-${traceId}-${parentId}-01`],
      ['a version that is not hex', `0g-${traceId}-${parentId}-01`],
      ['version 00 with a fifth field', `00-${traceId}-${parentId}-01-extra`],
      ['an all-zero trace id', `00-${'0'.repeat(32)}-${parentId}-01`],
      ['an all-zero parent id', `00-${traceId}-${'0'.repeat(16)}-01`],
      ['upper-case hex', `00-${traceId.toUpperCase()}-${parentId}-01`],
      ['a short trace id', `00-${traceId.slice(2)}-${parentId}-01`],
      ['flags that are not hex', `00-${traceId}-${parentId}-zz`],
      ['surrounded by text', ` 00-${traceId}-${parentId}-01;drop`],
      ['a line break inside', `00-${traceId}-${parentId}-01\n00-${traceId}-${parentId}-01`],
      ['sent twice (two values)', [`00-${traceId}-${parentId}-01`, `00-${traceId}-${parentId}-01`]],
      ['sent twice (joined by a comma)', `00-${traceId}-${parentId}-01, 00-${traceId}-${parentId}-01`],
    ])('starts a trace of its own for a traceparent that is %s, and the turn goes on', async (_what, header) => {
      const spans = await finished((t) => t.continueTrace(header, () => t.span('chat.turn', {}, async () => 1)));
      expect(spans.map((s) => s.name)).toEqual(['chat.turn']);
      const [turn] = spans as [ReadableSpan];
      expect(turn.parentSpanContext).toBeUndefined();
      expect(turn.spanContext().traceId).not.toBe(traceId);
      expect(turn.spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    });

    it('changes nothing for a call within a span: the span stays the parent', async () => {
      const spans = await finished((t) => t.span('bot.turn', {}, () => t.continueTrace(`00-${traceId}-${parentId}-01`, () => t.span('assistant.answer', {}, async () => 1))));
      const turn = spans.find((s) => s.name === 'bot.turn')!;
      const answer = spans.find((s) => s.name === 'assistant.answer')!;
      expect(turn.spanContext().traceId).not.toBe(traceId);
      expect(answer.spanContext().traceId).toBe(turn.spanContext().traceId);
      expect(answer.parentSpanContext?.spanId).toBe(turn.spanContext().spanId);
    });

    it('passes results and errors through', async () => {
      const exporter = new InMemorySpanExporter();
      const t = createOtelTracing(settings, { exporter });
      await expect(t.continueTrace(`00-${traceId}-${parentId}-01`, async () => 7)).resolves.toBe(7);
      await expect(t.continueTrace(`00-${traceId}-${parentId}-01`, async () => fail('provider_unavailable', 'down'))).rejects.toThrow('down');
      await t.shutdown();
    });
  });

  it('builds the OTLP traces URL from the base endpoint', () => {
    expect(tracesUrl('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/traces');
    expect(tracesUrl('https://otel.example.com/ingest/')).toBe('https://otel.example.com/ingest/v1/traces');
  });
});
