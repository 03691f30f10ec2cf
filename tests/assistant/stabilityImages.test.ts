/**
 * The Stability AI image adapter against a local server speaking the Stable Image Core wire
 * format: multipart in, image bytes out, and Stability's errors and content filter.
 */
import type { ImageRequest } from '../../api/assistant/ports';
import { createStabilityImageProvider, type StabilityImageProviderOptions } from '../../api/assistant/providers/stabilityImageProvider';
import { FAKE_PNG, startFakeStability, type FakeStability } from '../fakes/stabilityServer';
import { everythingSaidAbout, kluisRejection } from '../support/errors';

let fake: FakeStability;
beforeEach(async () => {
  fake = await startFakeStability();
});
afterEach(async () => {
  await fake.close();
});

const provider = (overrides: Partial<StabilityImageProviderOptions> = {}) =>
  createStabilityImageProvider({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, timeoutMs: 5000, maxRetries: 0, ...overrides });

describe('Stability image provider', () => {
  it('sends the prompt as multipart form fields and returns the image bytes with type and seed', async () => {
    fake.enqueue({ kind: 'image', seed: 42 });

    const image = await provider().generate({ prompt: 'A lighthouse on the Dutch coast at dawn', negativePrompt: 'text', aspectRatio: '16:9', outputFormat: 'webp' });

    expect(Buffer.from(image.bytes).equals(FAKE_PNG)).toBe(true);
    expect(image).toMatchObject({ contentType: 'image/webp', provider: 'stability', model: 'stable-image-core', seed: 42 });
    expect(fake.forms).toEqual([{ prompt: 'A lighthouse on the Dutch coast at dawn', negative_prompt: 'text', aspect_ratio: '16:9', output_format: 'webp' }]);
    expect(fake.requests[0]?.headers.accept).toBe('image/*');
    expect(fake.requests[0]?.headers.authorization).toBe('[redacted]');
  });

  it('maps a filtered result and a flagged prompt to image_filtered, never returning the blurred image', async () => {
    fake.enqueue({ kind: 'filtered' }, { kind: 'moderation' });
    const filtered = await kluisRejection(provider().generate({ prompt: 'something' }));
    const flagged = await kluisRejection(provider().generate({ prompt: 'something else' }));
    expect(filtered.id).toBe('image_filtered');
    expect(flagged.id).toBe('image_filtered');
    expect(flagged.message).toContain('content_moderation');
    expect(flagged.message).not.toContain('something');
  });

  it('maps 401 to provider_auth_failed without the key, and 400 to provider_rejected', async () => {
    const wrongKey = 'sk-stab-wrong-0123456789';
    const denied = await kluisRejection(provider({ apiKey: wrongKey }).generate({ prompt: 'a cat' }));
    fake.enqueue({ kind: 'error', status: 400, name: 'bad_request', errors: ['aspect_ratio: invalid'] });
    const rejected = await kluisRejection(provider().generate({ prompt: 'a cat' }));

    expect(denied.id).toBe('provider_auth_failed');
    expect(everythingSaidAbout(denied)).not.toContain(wrongKey);
    expect(rejected.id).toBe('provider_rejected');
    expect(rejected.message).toContain('bad_request');
  });

  it('retries a 429 after Retry-After, and maps one that outlasts the retries to provider_unavailable with retryAfterSeconds', async () => {
    fake.enqueue({ kind: 'rate-limit', retryAfterSeconds: 1 }, { kind: 'image' });
    const image = await provider({ maxRetries: 1 }).generate({ prompt: 'a cat' });
    expect(image.bytes.byteLength).toBe(FAKE_PNG.length);
    expect(fake.requests).toHaveLength(2);

    fake.enqueue({ kind: 'rate-limit', retryAfterSeconds: 30 });
    const limited = await kluisRejection(provider().generate({ prompt: 'a cat' }));
    expect(limited).toMatchObject({ id: 'provider_unavailable', retryAfterSeconds: 30 });
  });

  it('maps 500, a hang and a 200 that is not an image', async () => {
    fake.enqueue({ kind: 'server-error' }, { kind: 'hang' }, { kind: 'not-an-image' });
    const failed = await kluisRejection(provider().generate({ prompt: 'a cat' }));
    const hung = await kluisRejection(provider({ timeoutMs: 200 }).generate({ prompt: 'a cat' }));
    const notImage = await kluisRejection(provider().generate({ prompt: 'a cat' }));
    expect(failed.id).toBe('provider_unavailable');
    expect(hung.id).toBe('provider_unavailable');
    expect(hung.message).toContain('200 ms');
    expect(notImage.id).toBe('provider_stream_invalid');
  });

  it('refuses an image above the size limit', async () => {
    fake.enqueue({ kind: 'image', bytes: Buffer.alloc(5000, 1) });
    const error = await kluisRejection(provider({ maxImageBytes: 1000 }).generate({ prompt: 'a cat' }));
    expect(error.id).toBe('provider_stream_invalid');
  });

  it.each<[string, ImageRequest]>([
    ['an empty prompt', { prompt: '   ' }],
    ['an oversized prompt', { prompt: 'x'.repeat(10_001) }],
    ['an unknown aspect ratio', { prompt: 'a cat', aspectRatio: '7:3' as ImageRequest['aspectRatio'] }],
    ['a hostile output format', { prompt: 'a cat', outputFormat: '../../etc/passwd' as ImageRequest['outputFormat'] }],
    ['a negative seed', { prompt: 'a cat', seed: -1 }],
  ])('rejects %s before calling Stability', async (_why, request) => {
    const error = await kluisRejection(provider().generate(request));
    expect(error.id).toBe('request_malformed');
    expect(fake.requests).toHaveLength(0);
  });
});
