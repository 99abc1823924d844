import { isLoopbackUrl, resolveApiKey } from '../src/cli/resolveApiKey.js';

const KEY = 'sk-resolve-0123456789';
const remote = { apiKeyEnv: 'OPENAI_API_KEY', baseURL: 'https://api.openai.com/v1', noKey: false };

describe('resolveApiKey', () => {
  it('reads and trims the key from the named variable', () => {
    expect(resolveApiKey(remote, { OPENAI_API_KEY: ` ${KEY}\r\n` })).toEqual({ kind: 'key', apiKey: KEY });
    expect(resolveApiKey({ ...remote, apiKeyEnv: 'MY_KEY' }, { MY_KEY: KEY })).toEqual({ kind: 'key', apiKey: KEY });
  });

  it('asks for a key for a remote server, naming the variable and the ways out, never quoting a value', () => {
    const missing = resolveApiKey(remote, {});
    expect(missing).toEqual({
      kind: 'error',
      message: 'no API key: set OPENAI_API_KEY (or name another variable with --api-key-env), pass --no-key for a server that needs none, or try --mock.',
    });
    const broken = resolveApiKey(remote, { OPENAI_API_KEY: `${KEY}\nsecond` });
    expect(broken).toEqual({ kind: 'error', message: 'OPENAI_API_KEY contains a line break or NUL; set it to the key alone.' });
  });

  it.each(['http://localhost:11434/v1', 'http://127.0.0.1:8080/v1', 'http://127.1.2.3/v1', 'http://[::1]:8000/v1', 'http://LOCALHOST/v1'])(
    'needs no key for the loopback server %s, and sends one when it is set',
    (baseURL) => {
      expect(resolveApiKey({ ...remote, baseURL }, {})).toEqual({ kind: 'key', apiKey: undefined });
      expect(resolveApiKey({ ...remote, baseURL }, { OPENAI_API_KEY: KEY })).toEqual({ kind: 'key', apiKey: KEY });
    },
  );

  it('with --no-key, needs no key for any server and sends none even when one is set', () => {
    expect(resolveApiKey({ ...remote, noKey: true }, {})).toEqual({ kind: 'key', apiKey: undefined });
    expect(resolveApiKey({ ...remote, noKey: true }, { OPENAI_API_KEY: KEY })).toEqual({ kind: 'key', apiKey: undefined });
  });

  it('does not take a remote host that merely looks local for a loopback one', () => {
    for (const url of ['http://localhost.evil.test/v1', 'http://127.0.0.1.evil.test/v1', 'http://10.0.0.1/v1', 'https://api.openai.com/v1', 'not a url']) {
      expect(isLoopbackUrl(url)).toBe(false);
    }
  });
});
