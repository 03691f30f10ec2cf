/** A light Dutch/English guess from function words: enough to pick the reply language and analyzer. */
const DUTCH = new Set('de het een en van is dat op te in voor met zijn niet aan er ook als bij om wordt worden je jij u uw we wij ze zij hoe wat wie waar wanneer welke hoeveel mijn kan kunnen mag moet naar over per dan nog geen deze die dit'.split(' '));
const ENGLISH = new Set('the a an and of is that on to in for with are not at there also as by how what who where when which many much my can could may must about per than no this these those do does i you your we our it be have has'.split(' '));

export function detectLanguage(text: string): 'nl' | 'en' {
  let nl = 0;
  let en = 0;
  for (const word of text.toLowerCase().match(/[a-zà-ÿ]+/g) ?? []) {
    if (DUTCH.has(word)) nl++;
    if (ENGLISH.has(word)) en++;
  }
  return nl > en ? 'nl' : 'en';
}
