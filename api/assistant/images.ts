/**
 * Pictures on request (the Teams `/image` command): the user's prompt goes to the image provider
 * (Stability AI) and nothing else leaves Kluis: no documents, no conversation, no name.
 *
 * Every generated picture is kept in the workspace's blob store (encrypted like every blob) under
 * `images/<id>.png`, so it is on record like a stored answer and goes with the workspace when it
 * is erased. Each picture also gets a row naming who made it (table Image, `ImageRecords`), written
 * before the blob: the person's data export and their erasure find their pictures by it, and a
 * crash between the two leaves a row without a picture, never a picture nobody can be traced to. The audit log records who generated a picture, with which provider, and its size;
 * never the prompt. Image calls are not metered: the usage meter counts language-model tokens
 * and has no unit for pictures.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/ports';
import { fail, isKluisError } from '../errors';
import type { BlobStore } from '../files/ports';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import type { ImageProvider } from './ports';

/** The longest prompt accepted (Stability takes more; a chat command needs no more). */
export const MAX_IMAGE_PROMPT_CHARS = 2000;

/** Where a generated picture is kept in its workspace's blob store. */
export const imageBlobName = (imageId: string) => `images/${imageId}.png`;

export interface GeneratedImage {
  id: string;
  blobName: string;
  contentType: string;
  bytes: Buffer;
  provider: string;
  model: string;
}

/** Who made which picture (api/assistant/prismaImageRecords.ts). */
export interface ImageRecords {
  add(image: { id: string; workspaceId: string; userId: string; blobKey: string; createdAt: Date }): Promise<void>;
}

export function createImages(deps: { provider?: ImageProvider; blobs: BlobStore; audit: AuditLog; records: ImageRecords }) {
  return {
    /** False when no image provider is configured: channels then say pictures are not enabled. */
    get enabled(): boolean {
      return !!deps.provider;
    },

    /** Generates a PNG from the principal's prompt and keeps it in their workspace; audited without the prompt. */
    async generate(principal: Principal, rawPrompt: string): Promise<GeneratedImage> {
      await authorize(principal, 'assistant.ask', { workspaceId: principal.workspaceId }, deps.audit);
      const provider = deps.provider;
      if (!provider) fail('images_not_configured', 'No image provider is configured (STABILITY_API_KEY)');
      const prompt = typeof rawPrompt === 'string' ? rawPrompt.trim() : '';
      if (prompt === '') fail('request_malformed', 'The image prompt is empty');
      if (prompt.length > MAX_IMAGE_PROMPT_CHARS) fail('request_malformed', `The image prompt is longer than ${MAX_IMAGE_PROMPT_CHARS} characters`);
      const audit = (outcome: 'success' | 'refused' | 'failure', detail: Record<string, string | number | boolean | null>) =>
        deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.image', outcome, detail: { provider: provider.name, ...detail } });

      let result;
      try {
        result = await provider.generate({ prompt, outputFormat: 'png' });
      } catch (error) {
        const errorId = isKluisError(error) ? error.id : 'unexpected';
        await audit(errorId === 'image_filtered' ? 'refused' : 'failure', { errorId, promptChars: prompt.length });
        throw error;
      }
      if (result.contentType !== 'image/png') fail('provider_stream_invalid', `The image provider sent ${result.contentType.slice(0, 40)}, not the PNG asked for`);
      const id = randomUUID();
      const blobName = imageBlobName(id);
      const bytes = Buffer.from(result.bytes);
      await deps.records.add({ id, workspaceId: principal.workspaceId, userId: principal.userId, blobKey: blobName, createdAt: new Date() });
      await deps.blobs.put(principal.workspaceId, blobName, bytes);
      await audit('success', { imageId: id, model: result.model, bytes: bytes.byteLength, promptChars: prompt.length });
      return { id, blobName, contentType: result.contentType, bytes, provider: result.provider, model: result.model };
    },
  };
}

export type Images = ReturnType<typeof createImages>;
