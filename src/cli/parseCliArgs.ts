import { parseArgs } from 'node:util';

/** What the command line asks for. */
export interface CliConfig {
  /** Empty when the prompt is to be read from stdin. */
  prompt: string;
  apiKeyEnv: string;
  baseURL: string;
  model: string;
  system?: string;
  maxRetries: number;
  /** Milliseconds; `0` turns the idle timeout off. */
  idleTimeout: number;
  /** Milliseconds for the whole answer, retries included; `0`: no deadline. */
  timeout: number;
  json: boolean;
  /** Keep the answer's bytes as sent, control characters included, even on a terminal. */
  raw: boolean;
  /** Send no API key, and need none. */
  noKey: boolean;
  mock: boolean;
  /** `chat`: `POST /chat/completions` (`fromChatCompletion`); `responses`: `POST /responses` (`fromResponses`). */
  api: 'chat' | 'responses';
  /** Responses API only: `background: true, store: true`, so that a drop is resumed instead of restarted. */
  background: boolean;
}

export type ParsedCommandLine = { kind: 'help' } | { kind: 'error'; message: string } | { kind: 'run'; config: CliConfig };

/**
 * Parses the command line with `util.parseArgs` into a typed config, a help
 * request or a one-line usage error; never throws, never exits. Defaults come
 * from `env`: `OPENAI_BASE_URL`, `OPENAI_MODEL`.
 *
 * ```text
 * ["--model", "m", "Say", "hi"]  -> { kind: 'run', config: { prompt: 'Say hi', model: 'm', maxRetries: 3, ... } }
 * ["--max-retries", "x", "q"]    -> { kind: 'error', message: '--max-retries must be an integer >= 0, got "x"' }
 * ["--api", "responses", "--background", "q"] -> { kind: 'run', config: { api: 'responses', background: true, ... } }
 * ["-h"]                         -> { kind: 'help' }
 * ```
 *
 * @example
 * ```ts
 * const parsed = parseCliArgs(process.argv.slice(2), process.env);
 * if (parsed.kind === 'run') await runChat(parsed.config, endpoint, io);
 * ```
 */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        model: { type: 'string' },
        system: { type: 'string' },
        'base-url': { type: 'string' },
        'api-key-env': { type: 'string' },
        'max-retries': { type: 'string' },
        'idle-timeout': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean', default: false },
        raw: { type: 'boolean', default: false },
        'no-key': { type: 'boolean', default: false },
        mock: { type: 'boolean', default: false },
        api: { type: 'string' },
        background: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return { kind: 'error', message: (error as Error).message.replace(/\s*\n\s*/g, ' ') };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const maxRetries = integerFlag('--max-retries', values['max-retries'], 3, 0);
  if (typeof maxRetries === 'string') return { kind: 'error', message: maxRetries };
  const idleTimeout = integerFlag('--idle-timeout', values['idle-timeout'], 60_000, 0);
  if (typeof idleTimeout === 'string') return { kind: 'error', message: idleTimeout };
  // The longest delay a JavaScript timer holds.
  const timeout = integerFlag('--timeout', values.timeout, 0, 0, 2_147_483_647);
  if (typeof timeout === 'string') return { kind: 'error', message: timeout };
  const baseURL = (values['base-url'] ?? env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
  if (!isHttpUrl(baseURL)) return { kind: 'error', message: `${values['base-url'] === undefined ? 'OPENAI_BASE_URL' : '--base-url'} must be an absolute http(s) URL` };
  const api = values.api ?? 'chat';
  if (api !== 'chat' && api !== 'responses') return { kind: 'error', message: `--api must be "chat" or "responses", got "${api}"` };
  const background = values.background ?? false;
  if (background && api !== 'responses') return { kind: 'error', message: '--background needs --api responses (only the Responses API can resume a response)' };
  const apiKeyEnv = values['api-key-env'] ?? 'OPENAI_API_KEY';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv)) return { kind: 'error', message: `--api-key-env must be a variable name, got "${apiKeyEnv}"` };
  return {
    kind: 'run',
    config: {
      prompt: positionals.join(' '),
      apiKeyEnv,
      baseURL,
      model: values.model ?? env.OPENAI_MODEL ?? 'gpt-4o-mini',
      system: values.system,
      maxRetries,
      idleTimeout,
      timeout,
      json: values.json ?? false,
      raw: values.raw ?? false,
      noKey: values['no-key'] ?? false,
      mock: values.mock ?? false,
      api,
      background,
    },
  };
}

function integerFlag(flag: string, raw: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number | string {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min) return `${flag} must be an integer >= ${min}, got "${raw}"`;
  if (value > max) return `${flag} must be at most ${max}, got "${raw}"`;
  return value;
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol, host } = new URL(text);
    return (protocol === 'http:' || protocol === 'https:') && host !== '';
  } catch {
    return false;
  }
}
