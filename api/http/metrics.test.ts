import { createPrometheusMetrics } from './metrics';

describe('Prometheus metrics', () => {
  it('keeps labels bounded: unexpected values become other, tokens add up per direction', async () => {
    const m = createPrometheusMetrics();
    m.providerCall('openai', 'success', 100, 20);
    m.providerCall('openai', 'failure', 0, 0);
    m.providerCall('a provider with spaces {and} "quotes"', 'success', 1, 1);
    m.turn('tab', 'answered', 0.4);
    m.turn('x'.repeat(200), 'failed', 1);
    m.loginFailure('wrong-password');
    m.knowledgeFiles('indexed', 0);
    m.uploadLeftoversRemoved(0);
    m.uploadLeftoversRemoved(2);
    const text = await m.registry.metrics();
    expect(text).toContain('kluis_provider_tokens_total{provider="openai",direction="input"} 100');
    expect(text).toContain('kluis_provider_tokens_total{provider="openai",direction="output"} 20');
    expect(text).toContain('kluis_provider_errors_total{provider="openai"} 1');
    expect(text).toContain('kluis_provider_calls_total{provider="other",outcome="success"} 1');
    expect(text).toContain('kluis_turns_total{channel="other",outcome="failed"} 1');
    expect(text).toContain('kluis_turn_duration_seconds_count{channel="tab"} 1');
    expect(text).toContain('kluis_login_failures_total{reason="wrong-password"} 1');
    expect(text).not.toContain('kluis_knowledge_files_total{');
    expect(text).toContain('kluis_upload_leftovers_removed_total 2');
    expect(text).not.toContain('quotes');
  });

  it('gives each instance its own registry', async () => {
    const a = createPrometheusMetrics();
    const b = createPrometheusMetrics();
    a.loginFailure('throttled');
    expect(await a.registry.metrics()).toContain('kluis_login_failures_total{reason="throttled"} 1');
    expect(await b.registry.metrics()).not.toContain('reason="throttled"');
  });

  it('reports a failed queue count and still answers the scrape', async () => {
    const errors: unknown[] = [];
    const m = createPrometheusMetrics({ queueDepth: async () => Promise.reject(new Error('database down')), onCollectError: (e) => errors.push(e) });
    const text = await m.registry.metrics();
    expect(text).toContain('# TYPE kluis_queue_depth gauge');
    expect(errors).toHaveLength(1);
  });
});
