/**
 * The relevance gate. BM25 returns something for almost any question that shares one common word
 * with the documents ("company", "Friday"); answering from such a hit would be answering beside
 * the question. A passage counts as relevant only when it covers enough of the question's content
 * words (stop words of Dutch and English removed, words compared on their first five letters so
 * "vakantiedagen" meets "vakantiedag").
 */
const STOP_WORDS = new Set(
  (
    'a about above after again all also am an and any are many much as at be because been before being below between both but by can could did do does doing down during each few for from further get gets got had has have having he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our ours out over own same she should so some such than that the their them then there these they this those through to too under until up very was we were what when where which while who whom why will with would you your yours ' +
    'aan al alle als alsook ben bij dan dat de den der deze die dit doch doen door dus een eens en er ge geen geweest haar had heb hebben heeft hem het hier hij hoe hoeveel hun iemand iets ik in is ja je jij jullie kan kon kunnen maar me meer men met mij mijn moet mogen na naar niet niets nog nu of om omdat ons onze ook op over reeds te tegen toch toen tot u uit uw van veel voor waar wanneer want waren was wat we welk welke wie wij wil worden wordt zal ze zei zich zij zijn zo zonder zou'
  ).split(' '),
);

const STEM_LENGTH = 5;

export function contentTerms(text: string): string[] {
  const words = text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.filter((w) => w.length >= 2 && !STOP_WORDS.has(w)).map((w) => w.slice(0, STEM_LENGTH)))];
}

/** Share of the question's content terms that the passage contains (0..1). */
export function coverage(question: string, passage: string): number {
  const wanted = contentTerms(question);
  if (wanted.length === 0) return 0;
  const present = new Set(contentTerms(passage));
  return wanted.filter((t) => present.has(t)).length / wanted.length;
}
