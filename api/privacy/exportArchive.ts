/**
 * What goes into an export archive, per scope. A workspace export holds every record of the
 * workspace and every uploaded file; a user export holds only what is about that user (profile
 * and memberships, their conversations with all messages, their feedback, their usage, the files
 * they uploaded, the pictures they generated) and nothing of anyone else. Each file is
 * `files/<uploadId>/<name>`, each picture `images/<imageId>.png`; `manifest.json` lists what is in
 * the archive.
 */
import { createHash } from 'node:crypto';
import type { BlobStore } from '../files/ports';
import { blobNameOf } from '../knowledge/uploads';
import type { ArchiveWriter, ExportImage, ExportJob, ExportProgress, ExportRecords, ExportUpload, RecordFilter } from './exportPorts';

export interface BuildDeps {
  job: ExportJob;
  records: ExportRecords;
  blobs: BlobStore;
  archive: ArchiveWriter;
  /** Persists progress and renews the job's lock; false when another worker took the job over. */
  save: (progress: ExportProgress) => Promise<boolean>;
  now: () => Date;
}

/** Progress is saved after this many files (and after each phase). */
const SAVE_EVERY_FILES = 25;

/** A file name safe as one zip path segment (no separators, no `..`, no control characters). */
export function archiveSegment(name: string): string {
  const cleaned = name.replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_').replace(/^\.+/, '_').trim();
  return cleaned.slice(0, 200) || 'file';
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** The archive of the job's scope; undefined when the job was taken over by another worker. */
export async function buildExportArchive(deps: BuildDeps): Promise<{ bytes: Buffer; progress: ExportProgress } | undefined> {
  const { job, records, archive } = deps;
  const { workspaceId } = job;
  const filter: RecordFilter = job.scope.kind === 'user' ? { workspaceId, userId: job.scope.userId } : { workspaceId };
  let progress: ExportProgress = { phase: 'records', filesDone: 0, filesTotal: 0 };
  try {
    if (!(await deps.save(progress))) return abandon(archive);
    const uploads = await records.uploads(filter);
    const images = await records.images(filter);
    const sections: Record<string, unknown> =
      job.scope.kind === 'workspace'
        ? {
            'workspace.json': await records.workspace(workspaceId),
            'members.json': await records.members(filter),
            'conversations.json': await records.conversations(filter),
            'feedback.json': await records.feedback(filter),
            'usage.json': await records.usage(filter),
            'sources.json': await records.sources(workspaceId),
            'documents.json': await records.documents(workspaceId),
            'settings.json': await records.settings(workspaceId),
            'audit-events.json': await records.auditEvents(workspaceId),
          }
        : {
            'profile.json': (await records.members(filter))[0] ?? null,
            'conversations.json': await records.conversations(filter),
            'feedback.json': await records.feedback(filter),
            'usage.json': await records.usage(filter),
          };
    sections['uploads.json'] = uploads;
    sections['images.json'] = images;
    for (const [name, value] of Object.entries(sections)) await archive.add(name, json(value));

    progress = { phase: 'files', filesDone: 0, filesTotal: uploads.length + images.length };
    if (!(await deps.save(progress))) return abandon(archive);
    const files: Array<{ uploadId: string; path: string | null; sizeBytes: number; sha256: string | null }> = [];
    const pictures: Array<{ imageId: string; path: string | null; sizeBytes: number; sha256: string | null }> = [];
    const next = async () => {
      progress = { ...progress, filesDone: progress.filesDone + 1 };
      return progress.filesDone % SAVE_EVERY_FILES !== 0 || (await deps.save(progress));
    };
    for (const upload of uploads) {
      files.push(await addFile(deps, upload));
      if (!(await next())) return abandon(archive);
    }
    for (const image of images) {
      pictures.push(await addImage(deps, image));
      if (!(await next())) return abandon(archive);
    }

    const manifest = {
      format: 'kluis-export/1',
      jobId: job.id,
      scope: job.scope,
      requestedByUserId: job.requestedByUserId,
      requestedAt: job.createdAt.toISOString(),
      builtAt: deps.now().toISOString(),
      entries: Object.keys(sections),
      files,
      images: pictures,
    };
    await archive.add('manifest.json', json(manifest));
    return { bytes: await archive.finish(), progress };
  } catch (error) {
    archive.abort();
    throw error;
  }
}

async function addFile(deps: BuildDeps, upload: ExportUpload) {
  const bytes = await deps.blobs.get(deps.job.workspaceId, blobNameOf(upload.id));
  // A record whose blob is gone (erased, never stored) is listed with no path rather than failing the export.
  if (!bytes) return { uploadId: upload.id, path: null, sizeBytes: 0, sha256: null };
  const path = `files/${upload.id}/${archiveSegment(upload.fileName)}`;
  await deps.archive.add(path, bytes);
  return { uploadId: upload.id, path, sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function addImage(deps: BuildDeps, image: ExportImage) {
  const bytes = await deps.blobs.get(deps.job.workspaceId, image.blobKey);
  if (!bytes) return { imageId: image.id, path: null, sizeBytes: 0, sha256: null };
  // Named by Kluis's id, never by the stored key, so the path is always one safe segment.
  const path = `images/${archiveSegment(image.id)}.png`;
  await deps.archive.add(path, bytes);
  return { imageId: image.id, path, sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function abandon(archive: ArchiveWriter): undefined {
  archive.abort();
  return undefined;
}
