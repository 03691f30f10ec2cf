import { REDACTED, redactSecrets } from './secrets';

describe('redactSecrets', () => {
  it.each([
    ['a JWT', 'token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlX2J5dGVz here', 'token [secret removed] here'],
    ['a bearer header', 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123', 'Authorization: Bearer [secret removed]'],
    ['an OpenAI key', 'key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234', 'key [secret removed]'],
    ['an Anthropic key', 'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx1234', '[secret removed]'],
    ['an AWS access key id', 'id AKIAIOSFODNN7EXAMPLE.', 'id [secret removed].'],
    ['a GitHub token', 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB', '[secret removed]'],
    ['a Slack token', 'xoxb-1234567890-abcdefghij', '[secret removed]'],
    ['a Google API key', 'AIzaSyA-0123456789abcdefghijklmnopqrstu', '[secret removed]'],
    ['a Stripe key', 'sk_live_0123456789abcdefABCD', '[secret removed]'],
    ['an Azure storage connection string', 'DefaultEndpointsProtocol=https;AccountName=kluis;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy==;', 'DefaultEndpointsProtocol=https;AccountName=kluis;AccountKey=[secret removed];'],
    ['a SAS signature', 'https://x.blob.core.windows.net/c/f?sv=2024&sig=abcdefghijklmnopqrstuvwx%3D', 'https://x.blob.core.windows.net/c/f?sv=2024&sig=[secret removed]'],
    ['a password pair', 'Server=db;User Id=app;Password=Tr0ub4dor&3;', 'Server=db;User Id=app;Password=[secret removed];'],
    ['a Dutch password line', 'wachtwoord: Zomer2026!', 'wachtwoord: [secret removed]'],
    ['a quoted client secret', 'client_secret = "a b c"', 'client_secret = [secret removed]'],
    ['credentials in a URL', 'mysql://kluis:hunter2@db.internal:3306/kluis', 'mysql://kluis:[secret removed]@db.internal:3306/kluis'],
  ])('removes %s', (_name, input, expected) => {
    expect(redactSecrets(input).text).toBe(expected);
  });

  it('removes a PEM private key block whole, even when cut off', () => {
    const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----';
    expect(redactSecrets(`before\n${key}\nafter`).text).toBe(`before\n${REDACTED}\nafter`);
    expect(redactSecrets('x -----BEGIN PRIVATE KEY-----\nMIIEv').text).toBe(`x ${REDACTED}`);
  });

  it('leaves ordinary business text alone', () => {
    const text = 'Declareer via finance@contoso.example, IBAN NL91 ABNA 0417 1643 00, EUR 185 per nacht; het wachtwoordbeleid staat op intranet. Ref 2026-11-22.';
    expect(redactSecrets(text)).toEqual({ text, removed: {} });
  });

  it('counts removals by kind without the values', () => {
    const { removed } = redactSecrets('sk-AbCdEfGhIjKlMnOpQrStUvWx1234 and sk-ZyXwVuTsRqPoNmLkJiHgFeDc9876, password=x');
    expect(removed).toEqual({ 'openai-anthropic': 2, 'password-pair': 1 });
    expect(JSON.stringify(removed)).not.toContain('AbCd');
  });

  it('is idempotent', () => {
    const once = redactSecrets('password=geheim and Bearer abcdefghijklmnopqrstuvwxyz0123').text;
    expect(redactSecrets(once).text).toBe(once);
  });
});
