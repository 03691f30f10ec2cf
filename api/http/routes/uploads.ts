/**
 * /api/knowledge/uploads: managers upload files (one per multipart/form-data request), every
 * member lists them, managers delete them.
 *
 * The body is streamed through busboy with tight limits (one file, a few small fields, few header
 * pairs) and the file is held only up to UPLOAD_MAX_FILE_MB: past that the rest is discarded
 * unread and the answer is 413 with nothing stored. Who may upload is checked before a byte of
 * the body is read.
 *
 * The rest of the API accepts only JSON writes, which a cross-site form cannot send. Multipart is
 * what a form sends, so this route refuses what browsers mark as cross-site or same-site
 * (Sec-Fetch-Site); the session cookie is SameSite=Strict besides.
 */
import busboy from 'busboy';
import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { fail, isKluisError, KluisError } from '../../errors';
import type { UploadRecord, Uploads } from '../../knowledge/uploads';
import { principalOf, requirePrincipal, type AuthenticateDeps } from '../authenticate';
import { parseBody } from '../validate';

/** What the multipart body may hold besides the file: nothing large. */
const PART_LIMITS = { files: 1, fields: 4, parts: 6, fieldSize: 1024, fieldNameSize: 100, headerPairs: 16 } as const;
/** Headers, boundaries and the few small fields on top of the file itself. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
/**
 * How much of a refused body is read (and thrown away) before answering. Closing a socket whose
 * request is still arriving makes the kernel reset the connection, and the client then never sees
 * the 413 or 403; past this much the connection is cut anyway.
 */
const DISCARD_LIMIT_BYTES = 8 * 1024 * 1024;

/** Reads and drops the rest of a request body; resolves when it has ended or has been cut off. */
function discardRest(req: Request, limit = DISCARD_LIMIT_BYTES): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let discarded = 0;
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > limit) {
        req.destroy();
        resolve();
      }
    });
    req.once('end', () => resolve());
    req.once('close', () => resolve());
    req.resume();
  });
}

export interface UploadsRouteDeps {
  authenticate: AuthenticateDeps;
  uploads: Uploads;
  maxFileBytes: number;
}

/** What a client sees of an upload (no workspace id, no content hash). */
export function uploadView(u: UploadRecord) {
  return { id: u.id, fileName: u.fileName, mimeType: u.mimeType, kind: u.kind, sizeBytes: u.sizeBytes, indexStatus: u.indexStatus, uploadedByUserId: u.uploadedByUserId ?? null, createdAt: u.createdAt.toISOString() };
}

interface ReceivedFile {
  fileName: string;
  bytes: Buffer;
}

/**
 * Reads the one file of a multipart body. Settles once the whole body is consumed, so the answer
 * reaches the client cleanly. Past the limit (plus the multipart overhead) the parser is dropped
 * and the rest is discarded unread, up to DISCARD_LIMIT_BYTES, after which the connection is cut.
 */
function receiveFile(req: Request, maxFileBytes: number): Promise<ReceivedFile> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // preservePath: the name arrives as sent, and api/files/fileName.ts cleans it, not a guess here.
      parser = busboy({ headers: req.headers, limits: { ...PART_LIMITS, fileSize: maxFileBytes }, preservePath: true, defParamCharset: 'utf8' });
    } catch (error) {
      reject(new KluisError('upload_malformed', 'Not a multipart/form-data body with a boundary', { cause: error }));
      return;
    }
    let problem: KluisError | undefined;
    let file: { name: string; chunks: Buffer[]; size: number; ended: boolean } | undefined;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
    };
    const refuse = (id: 'upload_malformed' | 'upload_too_large', detail: string) => {
      // The first problem wins: an oversized file stays a 413 even if a stray part follows.
      problem ??= new KluisError(id, detail);
      if (file) file.chunks = [];
    };

    parser.on('file', (_field, stream, info) => {
      if (file) {
        stream.on('error', () => undefined);
        stream.resume();
        refuse('upload_malformed', 'More than one file in the request');
        return;
      }
      const entry = { name: info.filename ?? '', chunks: [] as Buffer[], size: 0, ended: false };
      file = entry;
      stream.on('data', (chunk: Buffer) => {
        entry.size += chunk.length;
        if (!problem) entry.chunks.push(chunk);
      });
      stream.on('limit', () => refuse('upload_too_large', `File passed ${maxFileBytes} bytes`));
      stream.on('end', () => {
        entry.ended = true;
      });
      // busboy destroys the file stream when the form ends mid-file; the parser reports it too.
      stream.on('error', () => refuse('upload_malformed', 'The file part ended early'));
    });
    parser.on('filesLimit', () => refuse('upload_malformed', 'More than one file in the request'));
    parser.on('partsLimit', () => refuse('upload_malformed', 'Too many parts'));
    parser.on('fieldsLimit', () => refuse('upload_malformed', 'Too many fields'));
    parser.on('field', (_name, _value, info) => {
      if (info.valueTruncated || info.nameTruncated) refuse('upload_malformed', 'A field is too long');
    });
    parser.on('error', (error: unknown) => {
      req.unpipe(parser);
      settle(() => void discardRest(req).then(() => reject(new KluisError('upload_malformed', 'The multipart body is malformed', { cause: error }))));
    });
    parser.on('close', () =>
      settle(() => {
        if (problem) return reject(problem);
        if (!file) return reject(new KluisError('upload_malformed', 'No file part in the request'));
        if (!file.ended) return reject(new KluisError('upload_malformed', 'The file part ended early'));
        if (file.size === 0) return reject(new KluisError('upload_malformed', 'The file is empty'));
        resolve({ fileName: file.name, bytes: Buffer.concat(file.chunks, file.size) });
      }),
    );

    // Past the limit the rest is discarded while it arrives, but not forever.
    let received = 0;
    const hardCap = maxFileBytes + MULTIPART_OVERHEAD_BYTES;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > hardCap && !settled) {
        req.unpipe(parser);
        settled = true;
        void discardRest(req).then(() => reject(Object.assign(new KluisError('upload_too_large', `Request passed ${hardCap} bytes`), { closeConnection: true })));
      }
    });
    req.on('aborted', () => settle(() => reject(new KluisError('upload_malformed', 'The client aborted the upload'))));
    req.pipe(parser);
  });
}

/** The multipart upload; mounted outside the API's JSON-only body parsing. */
export function uploadsStreamRouter(deps: UploadsRouteDeps): Router {
  const router = Router();
  const authenticate = requirePrincipal(deps.authenticate);
  // A refused caller's body is read and dropped too, so the 401 arrives rather than a reset.
  const signedIn: RequestHandler = (req, res, next) => authenticate(req, res, (error?: unknown) => (error ? void discardRest(req).then(() => next(error)) : next()));
  router.post('/knowledge/uploads', signedIn, async (req, res) => {
    const principal = principalOf(res);
    const declared = Number(req.headers['content-length']);
    try {
      const site = req.headers['sec-fetch-site'];
      if (site === 'cross-site' || site === 'same-site') fail('forbidden', `Multipart upload from a ${site} page`);
      if (!req.is('multipart/form-data')) fail('upload_malformed', 'Content-Type is not multipart/form-data');
      await deps.uploads.mayUpload(principal);
      if (Number.isFinite(declared) && declared > deps.maxFileBytes + MULTIPART_OVERHEAD_BYTES) {
        // Said up front: nothing of it is parsed or kept.
        throw Object.assign(new KluisError('upload_too_large', `Content-Length ${declared}`), { closeConnection: true });
      }
    } catch (error) {
      if (isKluisError(error, 'upload_too_large') || isKluisError(error, 'upload_malformed')) await deps.uploads.recordRefusal(principal, error.id, { declaredBytes: Number.isFinite(declared) ? declared : null });
      res.setHeader('Connection', 'close');
      await discardRest(req);
      throw error;
    }
    let received: ReceivedFile;
    try {
      received = await receiveFile(req, deps.maxFileBytes);
    } catch (error) {
      if (isKluisError(error)) await deps.uploads.recordRefusal(principal, error.id, { declaredBytes: Number.isFinite(declared) ? declared : null });
      if ((error as { closeConnection?: boolean }).closeConnection) res.setHeader('Connection', 'close');
      throw error;
    }
    res.status(201).json(uploadView(await deps.uploads.accept(principal, received.fileName, received.bytes)));
  });
  return router;
}

const uploadId = (raw: unknown) => {
  const id = String(raw);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) fail('not_found', 'Malformed upload id');
  return id;
};

/** Listing and deleting; mounted with the JSON API routers. */
export function uploadsRouter(deps: Omit<UploadsRouteDeps, 'maxFileBytes'>): Router {
  const router = Router();
  const signedIn = requirePrincipal(deps.authenticate);
  router.get('/knowledge/uploads', signedIn, async (_req, res) => {
    res.json({ uploads: (await deps.uploads.list(principalOf(res))).map(uploadView) });
  });
  router.delete('/knowledge/uploads/:id', signedIn, async (req, res) => {
    parseBody(z.object({}).strict(), req);
    await deps.uploads.remove(principalOf(res), uploadId(req.params.id));
    res.status(204).end();
  });
  return router;
}

export { uploadId };
