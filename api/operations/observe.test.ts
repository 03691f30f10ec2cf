import type { Assistant } from '../assistant/assistant';
import type { AuditEventInput } from '../audit/ports';
import type { Principal } from '../tenancy/principal';
import type { AlertDetectors } from './alerts';
import { observeAssistant, observeAuditLog, observeLoginAttempts, observeUsageCall, type Observers } from './observe';
import { NO_METRICS } from './ports';

function observers() {
  const seen: string[] = [];
  const detectors: AlertDetectors = {
    loginFailed: (w) => void seen.push(`loginFailed ${w}`),
    documentsRead: (w, u, n) => void seen.push(`documentsRead ${w} ${u} ${n}`),
    authorizationRefused: (w, u) => void seen.push(`refused ${w} ${u}`),
    providerFailed: (p, w) => void seen.push(`providerFailed ${p} ${w}`),
  };
  const o: Observers = {
    detectors,
    metrics: {
      ...NO_METRICS,
      loginFailure: (r) => void seen.push(`metric login ${r}`),
      authorizationRefused: () => void seen.push('metric refused'),
      providerCall: (p, out, i, t) => void seen.push(`metric call ${p} ${out} ${i} ${t}`),
      turn: (c, out) => void seen.push(`metric turn ${c} ${out}`),
    },
  };
  return { o, seen };
}

describe('observers', () => {
  it('counts failed sign-ins by a bounded reason and passes every attempt on', async () => {
    const { o, seen } = observers();
    const recorded: string[] = [];
    const log = observeLoginAttempts({ record: async (a) => void recorded.push(a.outcome), purgeOlderThan: async () => 7 }, o);
    for (const outcome of ['success', 'wrong-password', 'created', 'unknown-account', 'weird<label>', 'second-factor-required']) await log.record({ workspaceId: 'w', ip: '1', method: 'password', outcome });
    await log.record({ ip: '1', method: 'reset-request', outcome: 'unknown-account' });
    expect(recorded).toHaveLength(7);
    expect(seen).toEqual(['metric login wrong-password', 'loginFailed w', 'metric login unknown-account', 'loginFailed w', 'metric login other', 'loginFailed w']);
    expect(await log.purgeOlderThan(new Date())).toBe(7);
  });

  it('watches refusals, cited answers and downloads in the audit log and keeps its other methods', async () => {
    const { o, seen } = observers();
    const recorded: AuditEventInput[] = [];
    const audit = observeAuditLog({ record: async (e: AuditEventInput) => void recorded.push(e), pruneOlderThan: async () => 3 }, o);
    await audit.record({ workspaceId: 'w', actorUserId: 'u', kind: 'authorization.refused', outcome: 'refused' });
    await audit.record({ workspaceId: 'w', actorUserId: 'u', kind: 'assistant.answer', outcome: 'success', detail: { citations: 4 } });
    await audit.record({ workspaceId: 'w', actorUserId: 'u', kind: 'assistant.answer', outcome: 'success', detail: { citations: 0 } });
    await audit.record({ workspaceId: 'w', actorUserId: 'u', kind: 'file.downloaded', outcome: 'success' });
    await audit.record({ workspaceId: 'w', actorUserId: 'u', kind: 'export.downloaded', outcome: 'success' });
    await audit.record({ workspaceId: 'w', actorUserId: 'u', kind: 'identity.logout', outcome: 'success' });
    expect(recorded).toHaveLength(6);
    expect(seen).toEqual(['metric refused', 'refused w u', 'documentsRead w u 4', 'documentsRead w u 1', 'documentsRead w u 1']);
    expect(await audit.pruneOlderThan()).toBe(3);
  });

  it('never lets an observer failure reach the caller', async () => {
    const { o } = observers();
    o.detectors.loginFailed = () => {
      throw new Error('observer broke');
    };
    const recorded: string[] = [];
    const log = observeLoginAttempts({ record: async (a) => void recorded.push(a.outcome), purgeOlderThan: async () => 0 }, o);
    await expect(log.record({ ip: '1', method: 'password', outcome: 'wrong-password' })).resolves.toBeUndefined();
    expect(recorded).toEqual(['wrong-password']);
  });

  it('counts provider calls and tokens, and reports failed calls to the detector', () => {
    const { o, seen } = observers();
    const onCall = observeUsageCall(o);
    const call = { workspaceId: 'w', userId: 'u', provider: 'openai', model: 'm', inputTokens: 10, outputTokens: 5, latencyMs: 1 };
    onCall({ ...call, outcome: 'success' });
    onCall({ ...call, inputTokens: 0, outputTokens: 0, outcome: 'failure' });
    expect(seen).toEqual(['metric call openai success 10 5', 'metric call openai failure 0 0', 'providerFailed openai w']);
  });

  it('counts a turn as answered or failed and passes the error on', async () => {
    const { o, seen } = observers();
    let fail = false;
    const inner: Assistant = {
      answer: async () => {
        if (fail) throw new Error('provider down');
        return { text: 'x' } as Awaited<ReturnType<Assistant['answer']>>;
      },
      startNewConversation: async () => undefined,
    };
    const assistant = observeAssistant(inner, o);
    const principal = { workspaceId: 'w', tenantId: 't', userId: 'u', roles: ['user'], authMethod: 'credentials' } as Principal;
    await assistant.answer(principal, 'q', { channel: 'tab' } as Parameters<Assistant['answer']>[2]);
    fail = true;
    await expect(assistant.answer(principal, 'q', { channel: 'teams' } as Parameters<Assistant['answer']>[2])).rejects.toThrow('provider down');
    expect(seen).toEqual(['metric turn tab answered', 'metric turn teams failed']);
  });
});
