import { KluisError } from '../errors';
import type { BlobStore } from '../files/ports';
import type { Principal } from '../tenancy/principal';
import { createImages, imageBlobName, MAX_IMAGE_PROMPT_CHARS } from './images';
import type { ImageProvider, ImageRequest } from './ports';

const alex: Principal = { workspaceId: 'w1', tenantId: 't1', userId: 'u1', roles: ['user'], authMethod: 'bot-framework' };
const viewer: Principal = { ...alex, userId: 'u2', roles: ['viewer'] };
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

function setup(behaviour: 'ok' | 'filtered' | 'jpeg' = 'ok') {
  const blobs = new Map<string, Buffer>();
  const store: BlobStore = {
    put: async (w, k, b) => void blobs.set(`${w}|${k}`, b),
    get: async (w, k) => blobs.get(`${w}|${k}`),
    delete: async () => undefined,
    deleteWorkspace: async () => undefined,
    count: async (w) => [...blobs.keys()].filter((k) => k.startsWith(`${w}|`)).length,
    ping: async () => undefined,
  };
  const sent: ImageRequest[] = [];
  const provider: ImageProvider = {
    name: 'stability',
    async generate(request) {
      sent.push(request);
      if (behaviour === 'filtered') throw new KluisError('image_filtered', 'declined');
      return { bytes: PNG, contentType: behaviour === 'jpeg' ? 'image/jpeg' : 'image/png', provider: 'stability', model: 'stable-image-core' };
    },
  };
  const audit: Array<{ kind: string; outcome: string; detail?: unknown }> = [];
  const records: Array<{ id: string; workspaceId: string; userId: string; blobKey: string }> = [];
  const images = createImages({ provider, blobs: store, audit: { record: async (e) => void audit.push(e) }, records: { add: async ({ id, workspaceId, userId, blobKey }) => void records.push({ id, workspaceId, userId, blobKey }) } });
  return { images, blobs, sent, audit, records };
}

describe('images', () => {
  it('sends only the prompt, keeps the PNG under the workspace, and audits without the prompt', async () => {
    const { images, blobs, sent, audit, records } = setup();
    const image = await images.generate(alex, '  a lighthouse at dusk  ');
    // Recorded as made by the asker, so their export and erasure find it.
    expect(records).toEqual([{ id: image.id, workspaceId: 'w1', userId: 'u1', blobKey: `images/${image.id}.png` }]);
    expect(sent).toEqual([{ prompt: 'a lighthouse at dusk', outputFormat: 'png' }]);
    expect(image.blobName).toBe(imageBlobName(image.id));
    expect(blobs.get(`w1|images/${image.id}.png`)?.equals(Buffer.from(PNG))).toBe(true);
    expect(audit.map((e) => [e.kind, e.outcome])).toEqual([['assistant.image', 'success']]);
    expect(JSON.stringify(audit)).not.toContain('lighthouse');
  });

  it.each([
    ['an empty prompt', '   '],
    ['an oversized prompt', 'x'.repeat(MAX_IMAGE_PROMPT_CHARS + 1)],
  ])('refuses %s before calling the provider', async (_name, prompt) => {
    const { images, blobs, sent } = setup();
    await expect(images.generate(alex, prompt)).rejects.toMatchObject({ id: 'request_malformed' });
    expect(sent).toEqual([]);
    expect(blobs.size).toBe(0);
  });

  it('stores nothing when the content filter declines, and audits the refusal', async () => {
    const { images, blobs, audit } = setup('filtered');
    await expect(images.generate(alex, 'something declined')).rejects.toMatchObject({ id: 'image_filtered' });
    expect(blobs.size).toBe(0);
    expect(audit.map((e) => [e.kind, e.outcome])).toEqual([['assistant.image', 'refused']]);
  });

  it('refuses a result that is not the PNG asked for', async () => {
    const { images, blobs } = setup('jpeg');
    await expect(images.generate(alex, 'a harbour')).rejects.toMatchObject({ id: 'provider_stream_invalid' });
    expect(blobs.size).toBe(0);
  });

  it('lets only people who may ask generate pictures', async () => {
    const { images, sent } = setup();
    await expect(images.generate(viewer, 'a harbour')).rejects.toBeInstanceOf(KluisError);
    expect(sent).toEqual([]);
  });

  it('says it is not configured without a provider', async () => {
    const images = createImages({ blobs: { put: async () => undefined } as unknown as BlobStore, audit: { record: async () => undefined }, records: { add: async () => undefined } });
    expect(images.enabled).toBe(false);
    await expect(images.generate(alex, 'a harbour')).rejects.toMatchObject({ id: 'images_not_configured' });
  });
});
