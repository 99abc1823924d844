/** The `--help` text of the command-line tool. */
export const USAGE = `Usage: rxjs-llm-stream [options] "prompt"
       echo "prompt" | rxjs-llm-stream [options]

Streams an answer from an OpenAI-compatible /chat/completions endpoint (or the
Responses API with --api responses), with retries, an idle timeout and no
duplicated text. The answer goes to stdout, progress and errors to stderr.

Options:
  --model NAME          model (default: $OPENAI_MODEL, else gpt-4o-mini)
  --system TEXT         a system message sent before the prompt
  --base-url URL        API base URL (default: $OPENAI_BASE_URL, else https://api.openai.com/v1)
  --api-key-env NAME    environment variable holding the key (default: OPENAI_API_KEY)
  --max-retries N       retries on transient errors (default: 3)
  --idle-timeout MS     abort (and retry) when no byte arrives for MS milliseconds;
                        0 turns it off (default: 60000; raise it for reasoning models)
  --timeout MS          deadline for the whole answer, retries included; past it the
                        request is aborted and the exit code is 124 (default: 0, none)
  --json                print NDJSON: one line per delta, then the final snapshot
  --raw                 keep the answer's control characters and escape sequences
                        on a terminal too (they are always kept in a pipe or file)
  --no-key              send no API key and need none (servers on localhost,
                        127.0.0.1 or [::1] need none anyway)
  --api chat|responses  chat: POST /chat/completions (default); responses: POST
                        /responses with { model, input } (--system becomes instructions)
  --background          with --api responses: background: true, store: true; a drop
                        is resumed where it stopped, not restarted, and the response
                        id is printed to stderr
  --mock                use the embedded mock server (no key, no network)
  -h, --help            show this help

Exit codes: 0 done (or stdout closed by its reader), 1 failed (HTTP error such
as 401/403, retries exhausted), 2 bad usage or no key, 124 --timeout passed,
130 interrupted (Ctrl-C).

Examples:
  OPENAI_API_KEY=sk-... rxjs-llm-stream "Explain backpressure in one paragraph"
  rxjs-llm-stream --mock "anything"          # embedded mock server with a drop
  rxjs-llm-stream --mock --api responses --background "anything"   # the same drop, resumed
  git diff | rxjs-llm-stream --system "Review this diff" > review.md
  rxjs-llm-stream --json "hi" | tail -n 1    # the final snapshot as JSON
  rxjs-llm-stream --base-url http://localhost:11434/v1 --model llama3.2 "hi"   # Ollama, no key
`;
