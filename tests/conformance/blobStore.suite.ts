/**
 * The BlobStore conformance suite: the rules every blob-store adapter must keep. Above all, no call
 * made for one workspace reads, replaces or deletes another workspace's blobs, no caller-chosen
 * name or workspace id reaches outside its own namespace, and a blob altered in storage is refused
 * rather than returned. Each adapter's test file calls `blobStoreConformance` once; a new adapter
 * is done when it passes this suite unchanged.
 *
 * `open` must return a fresh handle on the SAME underlying storage every time it is called (the
 * same folder and key, the same server, bucket prefix and key), so the persistence case can read
 * through a second handle. Every case uses its own random workspace ids (lower-case UUIDs, as
 * Kluis creates them), so cases never see each other's blobs even though they share the storage.
 *
 * `tamper` rewrites the stored form of one blob in place, as someone with write access to the
 * storage (a stolen disk, a storage operator) could: it reads what the adapter stored for
 * (workspaceId, name), passes it to `change`, and stores the result in its place. Without it the
 * tampering cases are reported as skipped, never silently passed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isKluisError } from '../../api/errors';
import type { BlobStore } from '../../api/files/ports';

export type Tamper = (workspaceId: string, name: string, change: (stored: Buffer) => Buffer) => Promise<void>;

export interface BlobStoreHooks {
  tamper: Tamper;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** How a call ended. A synchronous throw fails the test: the port promises a rejected promise. */
async function outcome<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  let promise: Promise<T>;
  try {
    promise = work();
  } catch (error) {
    throw new Error(`threw synchronously instead of rejecting: ${String(error)}`);
  }
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

async function failure(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Names a caller might pass on purpose or by accident; none may escape, collide or crash. */
export const HOSTILE_NAMES: ReadonlyArray<[string, string]> = [
  ['a parent-directory walk', '../../etc/passwd'],
  ['a Windows parent-directory walk', '..\\..\\windows\\win.ini'],
  ['an absolute path', '/etc/passwd'],
  ['a walk hidden mid-path', 'a/../../../b'],
  ['a long walk', `${'../'.repeat(50)}tmp/escape`],
  ['an encoded walk', '%2e%2e%2f%2e%2e%2fetc%2fpasswd'],
  ['a NUL byte mid-name', 'report.pdf\0.png'],
  ['a lone NUL', '\0'],
  ['the empty name', ''],
  ['a dot', '.'],
  ['two dots', '..'],
  ['a trailing slash', 'folder/'],
  ['a drive letter', 'C:\\Windows\\system.ini'],
  ['control characters and newlines', 'line1\r\nline2\t\u0001\u007f'],
  ['emoji and right-to-left text', '📄 \u202Egnp.exe'],
  ['a 10,000-character name', 'n'.repeat(10_000)],
  ['a 5,000-character multi-byte name', 'é'.repeat(5_000)],
];

export function blobStoreConformance(name: string, open: () => Promise<BlobStore>, hooks: BlobStoreHooks): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let store: BlobStore;
    let workspaceA: string;
    let workspaceB: string;

    beforeEach(async () => {
      store = await open();
      workspaceA = randomUUID();
      workspaceB = randomUUID();
    });

    afterEach(async () => {
      await store.deleteWorkspace(workspaceA);
      await store.deleteWorkspace(workspaceB);
    });

    const text = async (workspaceId: string, key: string) => (await store.get(workspaceId, key))?.toString();

    describe('reading and writing', () => {
      it.each([
        ['an empty blob', Buffer.alloc(0)],
        ['a small binary blob', Buffer.from([0, 1, 2, 255, 254, 10, 13, 0])],
        ['a 3 MB blob', randomBytes(3 * 1024 * 1024)],
      ])('round-trips %s byte for byte', async (_label, bytes) => {
        await store.put(workspaceA, 'uploads/blob.bin', bytes);

        const back = await store.get(workspaceA, 'uploads/blob.bin');

        expect(Buffer.isBuffer(back)).toBe(true);
        expect(back!.length).toBe(bytes.length);
        expect(back!.equals(bytes)).toBe(true);
      });

      it('returns undefined for a name never written, in a new workspace and in one that holds blobs', async () => {
        expect(await store.get(workspaceA, 'never-written')).toBeUndefined();

        await store.put(workspaceA, 'written', Buffer.from('x'));

        expect(await store.get(workspaceA, 'never-written')).toBeUndefined();
      });

      it('replaces a blob on a second put', async () => {
        await store.put(workspaceA, 'uploads/report.pdf', Buffer.from('first version, which is the longer one'));

        await store.put(workspaceA, 'uploads/report.pdf', Buffer.from('second version'));

        expect(await text(workspaceA, 'uploads/report.pdf')).toBe('second version');
      });

      it('returns undefined after delete, and deleting again or deleting a name never written resolves', async () => {
        await store.put(workspaceA, 'doomed', Buffer.from('x'));
        await store.put(workspaceA, 'kept', Buffer.from('y'));

        await store.delete(workspaceA, 'doomed');

        expect(await store.get(workspaceA, 'doomed')).toBeUndefined();
        expect(await text(workspaceA, 'kept')).toBe('y');
        await expect(store.delete(workspaceA, 'doomed')).resolves.toBeUndefined();
        await expect(store.delete(workspaceA, 'never-written')).resolves.toBeUndefined();
        await expect(store.delete(randomUUID(), 'in-a-workspace-never-written')).resolves.toBeUndefined();
      });

      it('keeps names that differ only in case, spacing or a trailing slash apart', async () => {
        const names = ['report', 'Report', 'REPORT', 'report ', ' report', 'report/', 'report/.', './report', 'report\0'];
        await Promise.all(names.map((n, i) => store.put(workspaceA, n, Buffer.from(`blob ${i}`))));

        for (const [i, n] of names.entries()) expect(await text(workspaceA, n)).toBe(`blob ${i}`);
      });

      it('lands both of two concurrent first writes to a new workspace', async () => {
        await Promise.all([store.put(workspaceA, 'one', Buffer.from('1')), store.put(workspaceA, 'two', Buffer.from('2'))]);

        expect(await text(workspaceA, 'one')).toBe('1');
        expect(await text(workspaceA, 'two')).toBe('2');
      });

      it('keeps blobs across a new open of the same storage', async () => {
        await store.put(workspaceA, 'kept', Buffer.from('still readable'));

        const reopened = await open();

        expect((await reopened.get(workspaceA, 'kept'))?.toString()).toBe('still readable');
      });

      it('deleteWorkspace removes a workspace of more blobs than one listing page holds', async () => {
        const names = Array.from({ length: 1_050 }, (_, i) => `bulk/${i}`);
        for (let i = 0; i < names.length; i += 25) {
          await Promise.all(names.slice(i, i + 25).map((n) => store.put(workspaceA, n, Buffer.from(n))));
        }

        await store.deleteWorkspace(workspaceA);

        for (const n of [names[0]!, names[999]!, names[1_000]!, names[1_049]!]) expect(await store.get(workspaceA, n)).toBeUndefined();
      });

      // Paging is shared with deleteWorkspace (one listing helper), whose test crosses a page.
      it('count tells the blobs of one workspace only, and 0 after deleteWorkspace', async () => {
        expect(await store.count(randomUUID())).toBe(0);
        const names = Array.from({ length: 60 }, (_, i) => `counted/${i}`);
        for (let i = 0; i < names.length; i += 25) {
          await Promise.all(names.slice(i, i + 25).map((n) => store.put(workspaceA, n, Buffer.from(n))));
        }
        await store.put(workspaceB, 'other', Buffer.from('b'));
        await store.put(workspaceA, names[0]!, Buffer.from('overwritten, still one blob'));

        expect(await store.count(workspaceA)).toBe(60);
        expect(await store.count(workspaceB)).toBe(1);
        await store.delete(workspaceA, names[5]!);
        expect(await store.count(workspaceA)).toBe(59);
        await store.deleteWorkspace(workspaceA);
        expect(await store.count(workspaceA)).toBe(0);
        expect(await store.count(workspaceB)).toBe(1);
      });

      it('deleteWorkspace of a workspace never written resolves, and a deleted workspace can be written again', async () => {
        await expect(store.deleteWorkspace(randomUUID())).resolves.toBeUndefined();
        await store.put(workspaceA, 'before', Buffer.from('old'));
        await store.deleteWorkspace(workspaceA);

        await store.put(workspaceA, 'after', Buffer.from('new'));

        expect(await store.get(workspaceA, 'before')).toBeUndefined();
        expect(await text(workspaceA, 'after')).toBe('new');
      });

      it('ping resolves', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('cross-tenant isolation', () => {
      it('keeps the same name in two workspaces apart', async () => {
        await store.put(workspaceA, 'policy.docx', Buffer.from('content of A'));
        await store.put(workspaceB, 'policy.docx', Buffer.from('content of B'));

        expect(await text(workspaceA, 'policy.docx')).toBe('content of A');
        expect(await text(workspaceB, 'policy.docx')).toBe('content of B');

        await store.put(workspaceB, 'policy.docx', Buffer.from('B, revised'));
        expect(await text(workspaceA, 'policy.docx')).toBe('content of A');
      });

      it("stops workspace B from reading workspace A's blob by its name", async () => {
        await store.put(workspaceA, 'salaries.xlsx', Buffer.from('A only'));

        expect(await store.get(workspaceB, 'salaries.xlsx')).toBeUndefined();
      });

      it("stops delete with workspace B's id from deleting workspace A's blob", async () => {
        await store.put(workspaceA, 'salaries.xlsx', Buffer.from('A only'));
        await store.put(workspaceB, 'unrelated', Buffer.from('B'));

        await store.delete(workspaceB, 'salaries.xlsx');

        expect(await text(workspaceA, 'salaries.xlsx')).toBe('A only');
      });

      it("stops deleteWorkspace of workspace B from deleting workspace A's blobs", async () => {
        await store.put(workspaceA, 'one', Buffer.from('a1'));
        await store.put(workspaceA, 'two', Buffer.from('a2'));
        await store.put(workspaceB, 'one', Buffer.from('b1'));

        await store.deleteWorkspace(workspaceB);

        expect(await store.get(workspaceB, 'one')).toBeUndefined();
        expect(await text(workspaceA, 'one')).toBe('a1');
        expect(await text(workspaceA, 'two')).toBe('a2');
      });
    });

    describe('tampering', () => {
      // Every adapter must let the suite reach its stored form: tampering is not optional to test.
      const tamperIt = it;
      const tamper: Tamper = (workspaceId, key, change) => hooks.tamper(workspaceId, key, change);
      const LEDGER = Buffer.from('amount;1000\namount;2000\n'.repeat(20));
      const flipAt = (position: (length: number) => number) => (stored: Buffer) => {
        const copy = Buffer.from(stored);
        const at = position(copy.length);
        copy[at] = copy[at]! ^ 0x01;
        return copy;
      };
      /** The stored form of a blob, read through the tamper hook without changing it. */
      const storedForm = async (workspaceId: string, key: string): Promise<Buffer> => {
        let captured: Buffer | undefined;
        await tamper(workspaceId, key, (stored) => {
          captured = Buffer.from(stored);
          return stored;
        });
        return captured!;
      };

      tamperIt('still opens a blob whose stored form was written back unchanged (the hook reaches the real blob)', async () => {
        await store.put(workspaceA, 'ledger.csv', LEDGER);

        const stored = await storedForm(workspaceA, 'ledger.csv');

        expect(stored.equals(LEDGER)).toBe(false);
        expect((await store.get(workspaceA, 'ledger.csv'))?.equals(LEDGER)).toBe(true);
      });

      tamperIt.each([
        ['the first byte', () => 0],
        ['the sixth byte', () => 5],
        ['a middle byte', (n: number) => Math.floor(n / 2)],
        ['the last byte', (n: number) => n - 1],
      ])('a flipped bit in %s fails with store_unavailable instead of returning altered bytes', async (_where, position) => {
        await store.put(workspaceA, 'ledger.csv', LEDGER);
        await tamper(workspaceA, 'ledger.csv', flipAt(position));

        const error = await failure(store.get(workspaceA, 'ledger.csv'));

        expect(isKluisError(error, 'store_unavailable')).toBe(true);
      });

      tamperIt.each([
        ['to 20 bytes', 20],
        ['to nothing', 0],
      ])('a blob truncated %s fails with store_unavailable', async (_label, length) => {
        await store.put(workspaceA, 'short', Buffer.from('some content'));
        await tamper(workspaceA, 'short', (stored) => stored.subarray(0, length));

        expect(isKluisError(await failure(store.get(workspaceA, 'short')), 'store_unavailable')).toBe(true);
      });

      tamperIt('a blob copied over another name fails to open (swap attack)', async () => {
        await store.put(workspaceA, 'invoice.pdf', Buffer.from('pay 10 EUR'));
        await store.put(workspaceA, 'approved.pdf', Buffer.from('approved'));
        const invoice = await storedForm(workspaceA, 'invoice.pdf');

        await tamper(workspaceA, 'approved.pdf', () => invoice);

        expect(isKluisError(await failure(store.get(workspaceA, 'approved.pdf')), 'store_unavailable')).toBe(true);
      });

      tamperIt('a blob copied into another workspace fails to open (cross-tenant replay)', async () => {
        await store.put(workspaceA, 'contract.pdf', Buffer.from("A's contract"));
        await store.put(workspaceB, 'contract.pdf', Buffer.from("B's contract"));
        const fromA = await storedForm(workspaceA, 'contract.pdf');

        await tamper(workspaceB, 'contract.pdf', () => fromA);

        expect(isKluisError(await failure(store.get(workspaceB, 'contract.pdf')), 'store_unavailable')).toBe(true);
      });
    });

    describe('hostile names', () => {
      it.each(HOSTILE_NAMES)('%s round-trips and deletes within its own blob, touching no other', async (_label, hostile) => {
        await store.put(workspaceA, 'sibling', Buffer.from('sibling of A'));
        await store.put(workspaceB, hostile, Buffer.from('same name in B'));

        await store.put(workspaceA, hostile, Buffer.from('payload'));

        expect(await text(workspaceA, hostile)).toBe('payload');
        expect(await text(workspaceA, 'sibling')).toBe('sibling of A');
        expect(await text(workspaceB, hostile)).toBe('same name in B');

        await store.delete(workspaceA, hostile);

        expect(await store.get(workspaceA, hostile)).toBeUndefined();
        expect(await text(workspaceA, 'sibling')).toBe('sibling of A');
        expect(await text(workspaceB, hostile)).toBe('same name in B');
      });

      it('keeps every hostile name a blob of its own (no two collapse into one)', async () => {
        await Promise.all(HOSTILE_NAMES.map(([, hostile], i) => store.put(workspaceA, hostile, Buffer.from(`blob ${i}`))));

        for (const [i, [, hostile]] of HOSTILE_NAMES.entries()) expect(await text(workspaceA, hostile)).toBe(`blob ${i}`);
      });
    });

    describe('hostile workspace ids', () => {
      // Each id either is refused (a rejected promise) or names a workspace of its own: it never
      // reads, replaces or deletes workspace A's blobs.
      const hostileIds: Array<[string, (a: string, b: string) => string]> = [
        ['the empty id', () => ''],
        ['a parent-directory walk', () => '../..'],
        ['a walk from workspace A to B', (a, b) => `${a}/../${b}`],
        ['workspace A plus a walk', (a) => `${a}/..`],
        ['workspace A plus a NUL byte', (a) => `${a}\0`],
        ['workspace A upper-cased', (a) => a.toUpperCase()],
        ['workspace A without dashes', (a) => a.replaceAll('-', '')],
        ['workspace A with a leading space', (a) => ` ${a}`],
        ['workspace A as a prefix of a longer id', (a) => `${a}0`],
        ['a 300-character id', () => 'w'.repeat(300)],
      ];

      it.each(hostileIds)('%s never reaches workspace A', async (_label, build) => {
        const hostile = build(workspaceA, workspaceB);
        await store.put(workspaceA, 'file', Buffer.from('content of A'));

        const put = await outcome(() => store.put(hostile, 'file', Buffer.from('written through a hostile id')));
        const got = await outcome(() => store.get(hostile, 'file'));
        const deleted = await outcome(() => store.delete(hostile, 'file'));
        const wiped = await outcome(() => store.deleteWorkspace(hostile));

        for (const result of [put, got, deleted, wiped]) if (!result.ok) expect(result.error).toBeInstanceOf(Error);
        // Whatever a read through the hostile id returned, it was never A's blob.
        if (got.ok) expect(got.value?.toString()).not.toBe('content of A');
        expect(await text(workspaceA, 'file')).toBe('content of A');
      });
    });
  });
}
