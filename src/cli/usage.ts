/** The `--help` text of the command-line tool. */
export const USAGE = `Usage: rxjs-llm-stream [options] "prompt"
       echo "prompt" | rxjs-llm-stream [options]

Streams an answer from an OpenAI-compatible /chat/completions endpoint, with
retries, an idle timeout and no duplicated text. The answer goes to stdout,
progress and errors to stderr.

Options:
  --model NAME          model (default: $OPENAI_MODEL, else gpt-4o-mini)
  --system TEXT         a system message sent before the prompt
  --base-url URL        API base URL (default: $OPENAI_BASE_URL, else https://api.openai.com/v1)
  --api-key-env NAME    environment variable holding the key (default: OPENAI_API_KEY)
  --max-retries N       retries on transient errors (default: 3)
  --idle-timeout MS     abort when no byte arrives for MS milliseconds (default: 60000)
  --json                print NDJSON snapshots instead of text
  --mock                use the embedded mock server (no key, no network)
  -h, --help            show this help

Exit codes: 0 done, 1 failed (HTTP error, retries exhausted), 2 bad usage or
no key, 130 interrupted (Ctrl-C).
`;
