import type { CliConfig } from './parseCliArgs.js';

/** The key to send (none for a keyless server), or a one-line usage error. */
export type ApiKeyResolution = { kind: 'key'; apiKey: string | undefined } | { kind: 'error'; message: string };

/**
 * Reads the API key from the variable `config.apiKeyEnv` names, trimmed (a
 * key pasted with a trailing space or read from a CRLF file would otherwise
 * be sent as is). No key is needed with `--no-key` (none is then sent, even
 * when the variable is set) or for a loopback server (`localhost`,
 * `127.0.0.0/8`, `[::1]`: Ollama, llama.cpp, vLLM on this machine), which
 * gets the key only when one is set. The messages never quote the key.
 *
 * ```text
 * OPENAI_API_KEY=" sk-1\r\n", https://api.openai.com/v1  -> { kind: 'key', apiKey: 'sk-1' }
 * (unset), http://localhost:11434/v1                     -> { kind: 'key', apiKey: undefined }
 * (unset), https://api.openai.com/v1                     -> { kind: 'error', message: 'no API key: set OPENAI_API_KEY ...' }
 * ```
 *
 * @example
 * ```ts
 * const key = resolveApiKey(config, process.env);
 * if (key.kind === 'error') process.stderr.write(`error: ${key.message}\n`);
 * ```
 */
export function resolveApiKey(config: Pick<CliConfig, 'apiKeyEnv' | 'baseURL' | 'noKey'>, env: NodeJS.ProcessEnv): ApiKeyResolution {
  if (config.noKey) return { kind: 'key', apiKey: undefined };
  const apiKey = env[config.apiKeyEnv]?.trim();
  if (apiKey && /[\r\n\0]/.test(apiKey)) {
    return { kind: 'error', message: `${config.apiKeyEnv} contains a line break or NUL; set it to the key alone.` };
  }
  if (apiKey || isLoopbackUrl(config.baseURL)) return { kind: 'key', apiKey: apiKey || undefined };
  const other = config.apiKeyEnv === 'OPENAI_API_KEY' ? ' (or name another variable with --api-key-env)' : '';
  return {
    kind: 'error',
    message: `no API key: set ${config.apiKeyEnv}${other}, pass --no-key for a server that needs none, or try --mock.`,
  };
}

/**
 * Whether `url` points at this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
 *
 * ```text
 * http://localhost:11434/v1 -> true     http://localhost.example.test/v1 -> false
 * ```
 *
 * @example
 * ```ts
 * if (isLoopbackUrl(config.baseURL)) console.log('a local server: no key needed');
 * ```
 */
export function isLoopbackUrl(url: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}
