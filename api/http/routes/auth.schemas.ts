/** Request bodies of /api/auth. Lengths are generous but bounded; the rules themselves live in the identity module. */
import { z } from 'zod';

const email = z.string().min(3).max(320);
const password = z.string().min(1).max(1024);
const token = z.string().regex(/^[A-Za-z0-9_-]{20,128}$/, 'not a token');

export const registerBody = z.object({ invitationToken: token, email, password, displayName: z.string().trim().min(1).max(200).optional() }).strict();
export const loginBody = z.object({ email, password, totpCode: z.string().regex(/^[A-Za-z0-9-]{6,32}$/, 'not a code').optional() }).strict();
export const changePasswordBody = z.object({ currentPassword: password, newPassword: password }).strict();
export const resetRequestBody = z.object({ email }).strict();
export const resetBody = z.object({ token, newPassword: password }).strict();
export const totpConfirmBody = z.object({ code: z.string().regex(/^\d{6}$/, 'expected 6 digits') }).strict();
export const invitationBody = z.object({ email, role: z.enum(['admin', 'manager', 'user', 'viewer']).default('user'), validDays: z.number().int().min(1).max(30).optional() }).strict();
