import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import type { AuditEventInput, AuditLog } from '../audit/ports';
import { recordApiRequests } from './requestAudit';

async function serve(audit: AuditLog, logged: unknown[]) {
  const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const app = express();
  app.use('/api', recordApiRequests({ audit, logger }));
  const router = express.Router();
  router.get('/things/:id', (_req, res) => {
    res.locals.principal = { workspaceId: 'w1', userId: 'u1', tenantId: 't', roles: ['user'], authMethod: 'entra-token' };
    res.json({ ok: true });
  });
  router.get('/anonymous', (_req, res) => void res.json({ ok: true }));
  app.use('/api', router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

describe('recording API requests', () => {
  it('answers without waiting for the audit write, and logs a failed write instead of throwing', async () => {
    const logged: unknown[] = [];
    let fail!: (error: Error) => void;
    const pending: AuditEventInput[] = [];
    const audit: AuditLog = { record: (event) => (pending.push(event), new Promise((_resolve, reject) => (fail = reject))) };
    const server = await serve(audit, logged);
    try {
      const response = await fetch(`${server.url}/api/things/42?secret=1`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true });
      while (pending.length === 0) await new Promise((r) => setTimeout(r, 5));
      expect(pending).toEqual([{ workspaceId: 'w1', actorUserId: 'u1', kind: 'api.request', outcome: 'success', detail: { method: 'GET', route: '/api/things/:id', status: 200 } }]);
      fail(new Error('database down'));
      while (logged.length === 0) await new Promise((r) => setTimeout(r, 5));
      expect(logged[0]).toMatchObject({ msg: 'could not record the API request in the audit log', workspaceId: 'w1', route: '/api/things/:id' });
      // The server still serves.
      expect((await fetch(`${server.url}/api/things/43`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('records nothing for a request without a Principal', async () => {
    const recorded: AuditEventInput[] = [];
    const server = await serve({ record: async (e) => void recorded.push(e) }, []);
    try {
      expect((await fetch(`${server.url}/api/anonymous`)).status).toBe(200);
      expect((await fetch(`${server.url}/api/things/1`)).status).toBe(200);
      while (recorded.length === 0) await new Promise((r) => setTimeout(r, 5));
      expect(recorded.map((e) => e.detail?.route)).toEqual(['/api/things/:id']);
    } finally {
      await server.close();
    }
  });
});
