/** Every object in a card (or any JSON) that matches, depth first: for asserting on buttons and inputs. */
export function cardNodes(card: unknown, match: (n: Record<string, unknown>) => boolean): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    if (match(o)) out.push(o);
    Object.values(o).forEach(walk);
  };
  walk(card);
  return out;
}
