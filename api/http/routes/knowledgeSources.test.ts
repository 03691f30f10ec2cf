/**
 * POST /api/knowledge/sources/:id/sync over real HTTP: a bearer caller's sync runs with their
 * delegated Graph access, a cookie session's (and a bearer caller's without an On-Behalf-Of app)
 * app-only; malformed ids are refused before the module is asked.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import type { SessionService } from '../../identity/sessions';
import type { DelegatedGraph, GraphDriveClient } from '../../knowledge/sharepoint/ports';
import type { KnowledgeSources } from '../../knowledge/sharepoint/sources';
import type { Principal } from '../../tenancy/principal';
import type { Principals } from '../../tenancy/principals';
import type { AuthenticateDeps } from '../authenticate';
import { errorHandler } from '../errors';
import { knowledgeSourcesRouter } from './knowledgeSources';

const USER_TOKEN = 'user-access-token';
const principal = (authMethod: Principal['authMethod']): Principal => ({ workspaceId: randomUUID(), tenantId: randomUUID(), userId: randomUUID(), roles: ['admin'], authMethod });
const userDrive = { delta: async () => ({ kind: 'page', value: [] }) } as unknown as GraphDriveClient;

async function serve(withDelegation: boolean) {
  const calls: Array<{ sourceId: string; asUser?: GraphDriveClient; authMethod: string }> = [];
  const sources = {
    async syncNow(p: Principal, sourceId: string, options: { asUser?: GraphDriveClient } = {}) {
      calls.push({ sourceId, asUser: options.asUser, authMethod: p.authMethod });
      return { status: 'started', delegated: options.asUser !== undefined };
    },
  } as unknown as KnowledgeSources;
  const authenticate: AuthenticateDeps = {
    principals: { resolve: async () => principal('entra-token'), resolveUser: async () => principal('credentials'), isOnboarded: async () => true } as unknown as Principals,
    sessions: { resume: async () => ({ id: 's', workspaceId: randomUUID(), userId: randomUUID() }) } as unknown as SessionService,
    cookieName: 'kluis_session',
    bearer: { validate: async () => ({ tenantId: randomUUID(), objectId: randomUUID(), roles: [] }) },
    delegate: withDelegation ? (): DelegatedGraph => ({ access: { canOpen: async () => new Map() }, drive: userDrive }) : undefined,
  };
  const app = express();
  app.use(express.json());
  app.use('/api', knowledgeSourcesRouter({ authenticate, sources }));
  app.use(errorHandler(pino({ level: 'silent' })));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (path: string, headers: Record<string, string>) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return { post, calls, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('POST /api/knowledge/sources/:id/sync', () => {
  it("runs a bearer caller's sync with their delegated Graph access", async () => {
    const api = await serve(true);
    try {
      const id = randomUUID();
      const r = await api.post(`/api/knowledge/sources/${id}/sync`, { authorization: `Bearer ${USER_TOKEN}` });
      expect(r).toEqual({ status: 202, body: { status: 'started', delegated: true } });
      expect(api.calls).toEqual([{ sourceId: id, asUser: userDrive, authMethod: 'entra-token' }]);
      expect(JSON.stringify(r.body)).not.toContain(USER_TOKEN);
    } finally {
      await api.close();
    }
  });

  it('runs a cookie session\'s sync app-only, and a bearer caller\'s when no On-Behalf-Of app is configured', async () => {
    for (const [withDelegation, headers] of [
      [true, { cookie: 'kluis_session=abc' }],
      [false, { authorization: `Bearer ${USER_TOKEN}` }],
    ] as const) {
      const api = await serve(withDelegation);
      try {
        const r = await api.post(`/api/knowledge/sources/${randomUUID()}/sync`, headers);
        expect(r.body).toEqual({ status: 'started', delegated: false });
        expect(api.calls.map((c) => c.asUser)).toEqual([undefined]);
      } finally {
        await api.close();
      }
    }
  });

  it.each([['a path', '..%2F..%2Fsites'], ['an injection', "1'%20OR%20'1'%3D'1"], ['an over-long id', 'a'.repeat(300)]])('refuses %s as the source id with 404 before the module is asked', async (_label, id) => {
    const api = await serve(true);
    try {
      const r = await api.post(`/api/knowledge/sources/${id}/sync`, { authorization: `Bearer ${USER_TOKEN}` });
      expect(r.status).toBe(404);
      expect(api.calls).toEqual([]);
    } finally {
      await api.close();
    }
  });
});
