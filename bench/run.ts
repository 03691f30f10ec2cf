/**
 * `npm run bench [-- --quick] [name ...]`: runs the benchmarks one after the other (never in
 * parallel, so they do not compete for the CPU) and prints one summary table.
 *
 *   npx tsx bench/run.ts                 every benchmark, full sizes (about 10 minutes on 2 cores)
 *   npx tsx bench/run.ts --quick         smaller sizes, a smoke run of a minute or two
 *   npx tsx bench/run.ts retrieval       only the benchmarks whose name contains a given word
 *
 * Nothing is asserted: each figure is printed next to a baseline measured in the same run and the
 * ratio between them, because absolute numbers from a shared machine mean little on their own.
 */
import { runAssistant } from './assistant';
import { runAudit } from './audit';
import { runBotTurn } from './botTurn';
import { runColdStart } from './coldStart';
import { runDataKeys } from './dataKeys';
import { runEmbedding } from './embedding';
import { runExport } from './export';
import { runErasure } from './erasure';
import { runIdentity } from './identity';
import { runKnowledge } from './knowledge';
import { runRecovery } from './recovery';
import { runReplicas } from './replicas';
import { runRetrieval } from './retrieval';
import { runSweeper } from './sweeper';
import { formatRatio, formatValue, ratio, table, type BenchContext, type BenchResult, type Figure } from './stats';

const BENCHMARKS: Array<{ name: string; describe: string; run: (context: BenchContext) => Promise<BenchResult> }> = [
  { name: 'botTurn', describe: 'one Teams message turn over HTTP, against a bare teams-ai echo bot', run: runBotTurn },
  { name: 'retrieval', describe: 'LanceDB full-text search at 1k and 100k chunks per workspace, and indexing rate', run: runRetrieval },
  { name: 'knowledge', describe: 'extract+chunk per format, SharePoint delta sync (full and incremental) against a local Graph, ACL-trimmed search at 100k chunks, memory', run: runKnowledge },
  { name: 'embedding', describe: 'LanceDB writes of a many-file sync with and without compaction every 100 writes, ingestion with a fake embedder at fixed latency, lexical vs hybrid search p50/p95', run: runEmbedding },
  { name: 'identity', describe: 'credentials login at bcrypt cost 12 and 10, Entra token validation, login throttle, against bare bcrypt, jose and SELECT 1', run: runIdentity },
  { name: 'assistant', describe: 'first streamed chunk, Kluis part (instant in-process provider, demo knowledge), and prompt tokens per question vs sending everything retrieved', run: runAssistant },
  { name: 'export', describe: 'workspace data export (1,000 files, 10,000 messages) from MariaDB and the encrypted folder, against the same bytes into a plain zip', run: runExport },
  { name: 'dataKeys', describe: 'seal/open of 4 KiB, 1 MiB and 16 MiB with a workspace data key against a plain copy; upload+index and search with and without sealing', run: runDataKeys },
  { name: 'erasure', describe: 'erasing one workspace of 100k chunks, 10k files and 50k messages, per step and residue scan, against writing the same data', run: runErasure },
  { name: 'sweeper', describe: 'retention sweep of 2,000 expired conversations and 500 expired uploads among 10x kept ones through the real erasure engine, against the selection queries alone', run: runSweeper },
  { name: 'audit', describe: 'audit log appends with the per-workspace hash chain (sequential, 8 in flight on one and on 8 workspaces) and chain verification, against plain inserts', run: runAudit },
  { name: 'recovery', describe: 'store outages in a running Kluis: /readyz while the database or blob store is down, and from the restart to /readyz 200 and the first answered question or stored blob', run: runRecovery },
  { name: 'replicas', describe: 'chat turns/s at p95 < 1 s over HTTP (extractive provider, demo knowledge) for 1 and 2 Kluis processes sharing one MariaDB, and RSS per replica idle and after load', run: runReplicas },
  { name: 'coldStart', describe: '`npm start` to ready (fresh and warm) and idle memory, against a bare node HTTP server', run: runColdStart },
];

function usage(): string {
  return [
    'Usage: npx tsx bench/run.ts [--quick] [name ...]',
    '',
    ...BENCHMARKS.map((b) => `  ${b.name.padEnd(10)} ${b.describe}`),
    '',
    'A name selects every benchmark whose name contains it (case-insensitive).',
  ].join('\n');
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage());
    return 0;
  }
  const unknownFlags = args.filter((a) => a.startsWith('-') && a !== '--quick');
  if (unknownFlags.length) {
    console.error(`Unknown option ${unknownFlags.join(', ')}\n\n${usage()}`);
    return 2;
  }
  const quick = args.includes('--quick');
  const filters = args.filter((a) => !a.startsWith('-')).map((a) => a.toLowerCase());
  const selected = filters.length ? BENCHMARKS.filter((b) => filters.some((f) => b.name.toLowerCase().includes(f))) : BENCHMARKS;
  if (selected.length === 0) {
    console.error(`No benchmark matches ${filters.join(', ')}\n\n${usage()}`);
    return 2;
  }

  console.log(`Kluis benchmarks (${quick ? 'quick' : 'full'}): ${selected.map((b) => b.name).join(', ')}`);
  console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
  const figures: Figure[] = [];
  const notes: string[] = [];
  const durations: Array<[string, number]> = [];
  let failed = false;
  for (const benchmark of selected) {
    console.log(`> ${benchmark.name}: ${benchmark.describe}`);
    const started = performance.now();
    try {
      const result = await benchmark.run({ quick, log: (line) => console.log(line) });
      figures.push(...result.figures);
      notes.push(...result.notes);
    } catch (error) {
      // One broken benchmark should not hide the figures of the others.
      failed = true;
      console.error(`  ${benchmark.name} failed: ${(error as Error).stack ?? String(error)}`);
      // The whole error is printed above; the summary keeps only its first line.
      notes.push(`${benchmark.name}: FAILED (${String((error as Error).message ?? error).split('\n')[0]!.slice(0, 300)})`);
    }
    const seconds = (performance.now() - started) / 1000;
    durations.push([benchmark.name, seconds]);
    console.log(`  (${benchmark.name} took ${seconds.toFixed(1)} s)\n`);
  }

  console.log(`Summary (${quick ? 'quick' : 'full'} run)\n`);
  console.log(
    table(
      ['Benchmark', 'Metric', 'Value', 'Baseline', 'Baseline value', 'Ratio', 'Note'],
      figures.map((f) => [f.benchmark, f.metric, formatValue(f.value, f.unit), f.baseline?.label ?? '-', f.baseline ? formatValue(f.baseline.value, f.unit) : '-', formatRatio(ratio(f)), f.note ?? '']),
    ),
  );
  console.log(`\nTime taken: ${durations.map(([name, s]) => `${name} ${s.toFixed(1)} s`).join(', ')}; total ${durations.reduce((a, [, s]) => a + s, 0).toFixed(1)} s`);
  if (notes.length) console.log(`\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}`);
  return failed ? 1 : 0;
}

// Explicit exit: database pools and native index handles may keep the event loop alive after
// every benchmark has stopped what it started.
main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
