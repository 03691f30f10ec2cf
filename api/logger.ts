/** Structured JSON logs (pino). Secrets and tokens are redacted wherever they might appear. */
import pino, { type Logger } from 'pino';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'kluis' },
      redact: { paths: ['*.authorization', '*.headers.authorization', '*.password', '*.apiKey', '*.token', '*.secret', 'req.headers.cookie'], censor: '[redacted]' },
    },
    destination,
  );
}
