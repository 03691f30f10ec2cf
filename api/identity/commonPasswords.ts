/**
 * The passwords people pick most often, for when the Have I Been Pwned range API cannot be
 * reached. NIST SP 800-63B §5.1.1.2 requires refusing passwords found in breach corpuses and
 * dictionaries; during an outage this list keeps the worst of them out rather than checking
 * nothing (OWASP Authentication Cheat Sheet, "Password Strength Controls").
 *
 * Compiled from the top of the public most-common-password rankings, plus the Dutch and Belgian
 * favourites (welkom, wachtwoord, azerty, motdepasse, club and city names) that international
 * lists under-represent. Entries are stored lower-case and compared case-insensitively, so
 * "Welkom123" is caught by "welkom123". Entries shorter than the policy minimum of eight stay in:
 * the list is also used on its own, and a short entry costs nothing.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  '123456', '123456789', '12345678', '1234567890', '12345', '1234567', 'password', 'password1', 'password12',
  'password123', 'password1234', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'pa55word', 'qwerty', 'qwerty1',
  'qwerty12', 'qwerty123', 'qwerty1234', 'qwertyui', 'qwertyuiop', 'qwerty123456', '1q2w3e4r', '1q2w3e4r5t',
  '1q2w3e4r5t6y', '1qaz2wsx', '1qaz2wsx3edc', 'zaq12wsx', 'zaq1zaq1', 'zaq1xsw2', 'q1w2e3r4', 'q1w2e3r4t5',
  'qazwsxedc', 'qazwsx123', 'asdfghjkl', 'asdfgh', 'asdf1234', 'zxcvbnm', 'zxcvbnm123', 'abc123', 'abcd1234',
  'abcdefgh', 'abcdefg1', 'a1b2c3d4', 'aa123456', 'aa12345678', '111111', '11111111', '1111111111', '000000',
  '00000000', '0000000000', '112233', '11223344', '121212', '12121212', '123123', '123123123', '123321',
  '123654', '1234512345', '12344321', '123456123', '123456654321', '12345678910', '123456789a', '123456789q',
  '123qwe', '123qweasd', '123qweasdzxc', '123abc', '147258', '147258369', '159357', '159753', '159753456',
  '147852369', '159951', '654321', '987654321', '9876543210', '666666', '66666666', '777777', '7777777',
  '77777777', '88888888', '99999999', '888888', '987654', '555555', '222222', '121314', '131313', '696969',
  '112233445566', 'iloveyou', 'iloveyou1', 'iloveyou2', 'iloveu', 'ilovegod', 'princess', 'princess1',
  'sunshine', 'sunshine1', 'football', 'football1', 'baseball', 'basketball', 'soccer', 'hockey', 'monkey',
  'monkey123', 'dragon', 'dragon123', 'master', 'master123', 'letmein', 'letmein1', 'letmein123', 'welcome',
  'welcome1', 'welcome123', 'welcome2024', 'welcome2025', 'login', 'admin', 'admin123', 'admin1234',
  'administrator', 'root', 'toor', 'changeme', 'changeme123', 'default', 'guest', 'secret', 'secret123',
  'trustno1', 'whatever', 'shadow', 'superman', 'batman', 'batman123', 'starwars', 'pokemon', 'naruto',
  'michael', 'jennifer', 'jessica', 'charlie', 'jordan23', 'hunter2', 'hunter', 'ranger', 'buster', 'thomas',
  'tigger', 'robert', 'daniel', 'andrew', 'joshua', 'matthew', 'anthony', 'ashley', 'nicole', 'chelsea',
  'liverpool', 'arsenal', 'manchester', 'barcelona', 'realmadrid', 'juventus', 'computer', 'internet',
  'freedom', 'mustang', 'harley', 'corvette', 'ferrari', 'porsche', 'mercedes', 'samsung', 'iphone',
  'google', 'facebook', 'linkedin', 'microsoft', 'windows', 'apple123', 'summer', 'summer2024', 'summer2025',
  'winter', 'winter2024', 'spring', 'autumn', 'flower', 'cookie', 'cheese', 'chocolate', 'banana', 'orange',
  'purple', 'silver', 'golden', 'diamond', 'maggie', 'ginger', 'pepper', 'jasmine', 'hello', 'hello123',
  'hello1234', 'helloworld', 'loveme', 'lovely', 'love123', 'lovelove', 'iloveyou123', 'mylove', 'babygirl',
  'angel', 'angel123', 'angels', 'blink182', 'eminem', 'matrix', 'zxcvbn', 'asdasd', 'asdasd123', 'qweqwe',
  'qweasd', 'qweasdzxc', 'qwe123', 'qwer1234', 'q1w2e3', 'aaaaaa', 'aaaaaaaa', 'abcabc', 'abc12345', 'pass',
  'pass123', 'pass1234', 'passpass', 'test', 'test123', 'test1234', 'testing', 'testtest', 'user', 'user123',
  'demo', 'temp', 'temp123', 'access', 'access14', 'killer', 'superstar', 'rockstar', 'password1!',
  'welcome1!', 'qwerty123!', 'aa123456!', 'p@ssw0rd!', '!qaz2wsx', '!@#$%^&*', '1234qwer', '4815162342',
  '0987654321', 'wachtwoord', 'wachtwoord1', 'wachtwoord12', 'wachtwoord123', 'wachtwoord1234', 'wachtw00rd',
  'welkom', 'welkom01', 'welkom1', 'welkom12', 'welkom123', 'welkom1234', 'welkom2024', 'welkom2025',
  'welkomwelkom', 'geheim', 'geheim123', 'geheim12', 'hallo', 'hallo123', 'hallo1234', 'hallohallo', 'doei',
  'inloggen', 'inloggen123', 'gebruiker', 'beheerder', 'beheer123', 'voetbal', 'voetbal1', 'voetbal123',
  'ajax', 'ajax1900', 'ajax123', 'ajaxamsterdam', 'feyenoord', 'feyenoord1', 'feyenoord1908', 'psveindhoven',
  'amsterdam', 'amsterdam1', 'rotterdam', 'rotterdam010', 'utrecht', 'denhaag', 'eindhoven', 'groningen',
  'nederland', 'nederland1', 'holland', 'holland1', 'oranje', 'oranjeboven', 'hupholland', 'zomer',
  'zomer2024', 'zomer2025', 'winter123', 'lente', 'herfst', 'zonneschijn', 'zonnetje', 'schatje', 'schatje1',
  'lieverd', 'liefje', 'lieveke', 'knuffel', 'snoepje', 'poesje', 'tijger', 'konijn', 'kabouter', 'prinses',
  'prinsesje', 'kikker', 'vlinder', 'bloemetje', 'tulpen', 'fiets', 'klompen', 'stroopwafel', 'appeltaart',
  'drop', 'hagelslag', 'kaas', 'kaasje', 'paardje', 'hondje', 'katje', 'mijnwachtwoord', 'nieuwwachtwoord',
  'wachtwoordje', 'azerty', 'azerty1', 'azerty12', 'azerty123', 'azerty1234', 'azertyuiop', 'azertyui',
  'azertyu', 'azer1234', 'aqwzsx', 'motdepasse', 'motdepasse1', 'motdepasse123', 'mdp123', 'soleil',
  'soleil123', 'bonjour', 'bonjour1', 'bonjour123', 'doudou', 'chouchou', 'loulou', 'marseille', 'belgique',
  'belgique1', 'belgie', 'belgie123', 'belgium', 'belgium1', 'brussel', 'bruxelles', 'brussels', 'antwerpen',
  'anvers', 'gent', 'gand', 'liege', 'luik', 'namur', 'charleroi', 'brugge', 'leuven', 'mechelen',
  'vlaanderen', 'wallonie', 'anderlecht', 'anderlecht1', 'clubbrugge', 'standard', 'standard1', 'rsca',
  'diables', 'rodeduivels', 'manneken', 'frieten', 'chocolade', 'speculoos', 'jupiler', 'stella', 'duvel',
  'kapoentje', 'nounours', 'chaton', 'tintin', 'milou',
]);

/** True when the password, ignoring case, is one of the most common passwords. */
export function isCommonPassword(password: string): boolean {
  return COMMON_PASSWORDS.has(password.normalize('NFKC').toLowerCase());
}
