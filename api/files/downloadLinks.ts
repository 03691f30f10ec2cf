/**
 * Short-lived download links for uploaded files.
 *
 * Files are never reachable by a store URL. Instead Kluis signs a token that names the workspace,
 * the file, the user it was issued to and when it expires, with HMAC-SHA-256 under a key derived
 * from the master key for this purpose only (api/identity/keys.ts). The token is
 * `base64url(payload) "." base64url(mac)`, the MAC taken over a versioned label and the encoded
 * payload, and compared in constant time before the payload is even parsed.
 *
 * A valid signature is necessary, not sufficient: the download route also requires the caller to
 * be signed in as that same user, in that workspace, with read access to a file that still exists
 * (api/files/downloads.ts). A link that leaks (a browser history, a proxy log, a forwarded chat)
 * is therefore useless to anyone else, and useless to its owner after a few minutes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { fail } from '../errors';

export interface DownloadGrant {
  workspaceId: string;
  fileId: string;
  userId: string;
  expiresAt: Date;
}

const LABEL = 'kluis:download-link:v1.';
/** Far more than a real token (about 250 characters); anything longer is refused before hashing. */
const MAX_TOKEN_LENGTH = 1024;
const MAC_BYTES = 32;

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const payloadSchema = z
  .object({
    v: z.literal(1),
    w: uuid,
    f: uuid,
    u: uuid,
    e: z.number().int().positive(),
    // A nonce, so two links for the same file and second differ (and can be told apart in audits).
    n: z.string().regex(/^[A-Za-z0-9_-]{8,32}$/),
  })
  .strict();

export interface DownloadLinkSigner {
  sign(grant: Omit<DownloadGrant, 'expiresAt'>, now?: Date): { token: string; expiresAt: Date };
  /**
   * The grant a token carries. Throws `download_link_invalid` for anything not signed by this key
   * (altered, truncated, forged, malformed) and `download_link_expired` once it has expired.
   */
  verify(token: string, now?: Date): DownloadGrant;
}

export function createDownloadLinkSigner(key: Buffer, lifetimeSeconds: number): DownloadLinkSigner {
  if (key.length < 32) fail('config_invalid', 'The download link key must be at least 32 bytes');
  const mac = (encodedPayload: string) => createHmac('sha256', key).update(LABEL).update(encodedPayload).digest();

  return {
    sign(grant, now = new Date()) {
      const expiresSeconds = Math.floor(now.getTime() / 1000) + lifetimeSeconds;
      const payload = { v: 1, w: grant.workspaceId, f: grant.fileId, u: grant.userId, e: expiresSeconds, n: randomBytes(9).toString('base64url') };
      const encoded = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return { token: `${encoded}.${mac(encoded).toString('base64url')}`, expiresAt: new Date(expiresSeconds * 1000) };
    },

    verify(token, now = new Date()) {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) fail('download_link_invalid', 'Token missing or too long');
      const parts = token.split('.');
      if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]!) || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) fail('download_link_invalid', 'Token is not payload.mac in base64url');
      const [encoded, givenMac] = parts as [string, string];
      const given = Buffer.from(givenMac, 'base64url');
      const expected = mac(encoded);
      // Re-encoding catches non-canonical base64url (trailing bits) that would decode to the same MAC.
      if (given.length !== MAC_BYTES || given.toString('base64url') !== givenMac || !timingSafeEqual(given, expected)) fail('download_link_invalid', 'Signature does not match');
      let payload: z.infer<typeof payloadSchema>;
      try {
        payload = payloadSchema.parse(JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')));
      } catch (error) {
        // Only a holder of the key could have signed this: a bug or a key reused elsewhere.
        fail('download_link_invalid', 'Signed payload is malformed', { cause: error });
      }
      if (now.getTime() >= payload.e * 1000) fail('download_link_expired', 'Link expired');
      return { workspaceId: payload.w, fileId: payload.f, userId: payload.u, expiresAt: new Date(payload.e * 1000) };
    },
  };
}
