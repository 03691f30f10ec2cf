/** Request validation: a zod schema per route; a failure is a catalogued 400 naming the field. */
import type { Request } from 'express';
import type { z } from 'zod';
import { fail } from '../errors';

export function parseBody<T extends z.ZodTypeAny>(schema: T, req: Request): z.infer<T> {
  const parsed = schema.safeParse(req.body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail('request_malformed', `Field ${issue.path.join('.') || '(body)'}: ${issue.message}`);
  }
  return parsed.data;
}
