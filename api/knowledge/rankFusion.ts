/**
 * Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): each list adds 1 / (k + rank) for
 * every item it holds, ranks counted from 1. Scores of different kinds (BM25, cosine) never have
 * to be compared, only positions, which is why hybrid search fuses by rank. k = 60 as in the
 * paper and in Qdrant's own RRF.
 */
const K = 60;

export function fuseByReciprocalRank<T>(lists: T[][], key: (item: T) => string): Array<{ item: T; score: number }> {
  const fused = new Map<string, { item: T; score: number; best: number }>();
  for (const list of lists) {
    list.forEach((item, index) => {
      const id = key(item);
      const entry = fused.get(id);
      if (entry) {
        entry.score += 1 / (K + index + 1);
        entry.best = Math.min(entry.best, index);
      } else {
        fused.set(id, { item, score: 1 / (K + index + 1), best: index });
      }
    });
  }
  // Ties go to the item placed higher in any list, then to the key, so the order is stable.
  return [...fused.entries()]
    .sort(([ka, a], [kb, b]) => b.score - a.score || a.best - b.best || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .map(([, { item, score }]) => ({ item, score }));
}
