import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { accumulateContent, DONE, fromChatCompletion, markStreamStart, type ChatCompletionChunk } from '../src/index.js';
import { backoffDelay, baseDelay, type BackoffSettings } from '../src/timing/backoff.js';

describe('properties', () => {
  describe('every jitter kind keeps its delay in bounds, for any options and retry index', () => {
    const settings = fc
      .record({
        initialDelay: fc.double({ min: 0, max: 10_000, noNaN: true }),
        multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
        ceiling: fc.double({ min: 0, max: 100_000, noNaN: true }),
      })
      .map(({ initialDelay, multiplier, ceiling }) => ({ initialDelay, multiplier, maxDelay: initialDelay + ceiling }));
    const retryIndex = fc.integer({ min: 0, max: 60 });
    const random = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
    const bounds = (k: number, s: Omit<BackoffSettings, 'jitter'>) => baseDelay(k, { ...s, jitter: 'none' });

    it("'none' is exactly min(maxDelay, initialDelay * multiplier ** k)", () => {
      fc.assert(
        fc.property(settings, retryIndex, random, (s, k, r) => {
          const d = backoffDelay(k, { ...s, jitter: 'none' }, () => r);
          expect(d).toBe(Math.min(s.maxDelay, s.initialDelay * s.multiplier ** k));
        }),
      );
    });

    it("'full' is in [0, d]", () => {
      fc.assert(
        fc.property(settings, retryIndex, random, (s, k, r) => {
          const d = backoffDelay(k, { ...s, jitter: 'full' }, () => r);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(bounds(k, s));
        }),
      );
    });

    it("'equal' is in [d/2, d]", () => {
      fc.assert(
        fc.property(settings, retryIndex, random, (s, k, r) => {
          const d = backoffDelay(k, { ...s, jitter: 'equal' }, () => r);
          const base = bounds(k, s);
          expect(d).toBeGreaterThanOrEqual(base / 2 - 1e-9);
          expect(d).toBeLessThanOrEqual(base + 1e-9);
        }),
      );
    });

    it('a factor f is in [d(1-f), d(1+f)]', () => {
      fc.assert(
        fc.property(settings, retryIndex, random, fc.double({ min: 0, max: 1, noNaN: true }), (s, k, r, f) => {
          const d = backoffDelay(k, { ...s, jitter: f }, () => r);
          const base = bounds(k, s);
          expect(d).toBeGreaterThanOrEqual(base * (1 - f) - 1e-6);
          expect(d).toBeLessThanOrEqual(base * (1 + f) + 1e-6);
        }),
      );
    });

    it("'decorrelated' is in [initialDelay, maxDelay] and at most 3x the previous delay", () => {
      fc.assert(
        fc.property(settings, retryIndex, fc.array(random, { minLength: 1, maxLength: 20 }), (s, k, draws) => {
          let previous: number | undefined;
          for (const r of draws) {
            const d = backoffDelay(k, { ...s, jitter: 'decorrelated' }, () => r, previous);
            expect(d).toBeGreaterThanOrEqual(Math.min(s.initialDelay, s.maxDelay) - 1e-9);
            expect(d).toBeLessThanOrEqual(s.maxDelay + 1e-9);
            expect(d).toBeLessThanOrEqual(Math.max(s.initialDelay, 3 * (previous ?? s.initialDelay)) + 1e-9);
            previous = d;
          }
        }),
      );
    });
  });

  describe('accumulateContent equals a simple reference fold over any chunk sequence', () => {
    /** One step of a generation: some text or a tool-call fragment for one choice. */
    const step = fc.record({
      choice: fc.integer({ min: 0, max: 2 }),
      kind: fc.constantFrom('content', 'reasoning_content', 'reasoning', 'tool', 'finish', 'usage'),
      text: fc.string({ unit: 'grapheme', maxLength: 6 }),
      tool: fc.integer({ min: 0, max: 2 }),
      tokens: fc.nat({ max: 1000 }),
    });

    /** Builds chunks from steps; a tool call's first fragment carries its id and name. */
    function toChunks(steps: Array<typeof step extends fc.Arbitrary<infer T> ? T : never>): ChatCompletionChunk[] {
      const opened = new Set<string>();
      return steps.map(({ choice, kind, text, tool, tokens }, position) => {
        // A new id on every chunk, as llama.cpp and LiteLLM send: ids must not matter.
        const base = { id: `chunk-${position}`, object: 'chat.completion.chunk' };
        if (kind === 'usage') return { ...base, choices: [], usage: { prompt_tokens: tokens, completion_tokens: 1, total_tokens: tokens + 1 } };
        if (kind === 'finish') return { ...base, choices: [{ index: choice, delta: {}, finish_reason: text === '' ? 'stop' : 'length' }] };
        if (kind !== 'tool') return { ...base, choices: [{ index: choice, delta: { [kind]: text }, finish_reason: null }] };
        const key = `${choice}/${tool}`;
        const first = !opened.has(key);
        opened.add(key);
        const fragment = first
          ? { index: tool, id: `call_${choice}_${tool}`, type: 'function' as const, function: { name: `fn_${tool}`, arguments: text } }
          : { index: tool, function: { arguments: text } };
        return { ...base, choices: [{ index: choice, delta: { tool_calls: [fragment] }, finish_reason: null }] };
      });
    }

    /** The reference: plain loops over plain objects. */
    function reference(chunks: ChatCompletionChunk[]) {
      const choices = new Map<number, { content: string; reasoning: string; finishReason: string | null; tools: Map<number, { id?: string; name: string; arguments: string }> }>();
      let usage: unknown;
      for (const chunk of chunks) {
        if (chunk.usage) usage = chunk.usage;
        for (const { index, delta, finish_reason } of chunk.choices) {
          const choice = choices.get(index) ?? { content: '', reasoning: '', finishReason: null, tools: new Map() };
          choices.set(index, choice);
          choice.content += delta.content ?? '';
          choice.reasoning += (delta.reasoning_content ?? '') + (delta.reasoning ?? '');
          if (finish_reason) choice.finishReason = finish_reason;
          for (const call of delta.tool_calls ?? []) {
            const tool = choice.tools.get(call.index!) ?? { name: '', arguments: '' };
            choice.tools.set(call.index!, tool);
            if (call.id) tool.id = call.id;
            if (call.function?.name) tool.name = call.function.name;
            tool.arguments += call.function?.arguments ?? '';
          }
        }
      }
      return {
        usage,
        choices: [...choices.entries()]
          .sort(([a], [b]) => a - b)
          .map(([index, choice]) => ({
            index,
            content: choice.content,
            reasoning: choice.reasoning,
            finishReason: choice.finishReason,
            toolCalls: [...choice.tools.entries()].sort(([a], [b]) => a - b).map(([toolIndex, tool]) => ({ index: toolIndex, ...tool })),
          })),
      };
    }

    it('for content, reasoning, tool calls by index, several choices and usage', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
          const chunks = toChunks(steps);
          const snapshots = await lastValueFrom(from(chunks).pipe(accumulateContent(), toArray()));
          const expected = reference(chunks);
          const last = snapshots.at(-1);
          if (!last) return expect(chunks).toHaveLength(0);
          expect(last.usage).toEqual(expected.usage);
          expect(
            last.choices.map((choice) => ({
              index: choice.index,
              content: choice.content,
              reasoning: choice.reasoning,
              finishReason: choice.finishReason,
              toolCalls: choice.toolCalls.map((call) => ({ index: call.index, ...(call.id ? { id: call.id } : {}), name: call.function.name, arguments: call.function.arguments })),
            })),
          ).toEqual(expected.choices);
          const first = expected.choices.find((choice) => choice.index === 0);
          expect(last.content).toBe(first?.content ?? '');
          expect(snapshots).toHaveLength(chunks.length);
        }),
        { numRuns: 300 },
      );
    });

    it('starts over at a fresh stream start: the result is the fold of the chunks from there on', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), fc.nat(), async (steps, at) => {
          const chunks = toChunks(steps);
          const start = at % chunks.length;
          markStreamStart(chunks[start], { resumed: false });
          const last = await lastValueFrom(from(chunks).pipe(accumulateContent()));
          const expected = reference(chunks.slice(start));
          expect(last.choices.map((choice) => [choice.index, choice.content, choice.reasoning, choice.toolCalls.length])).toEqual(
            expected.choices.map((choice) => [choice.index, choice.content, choice.reasoning, choice.toolCalls.length]),
          );
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('the source gives the same chunks for any splitting of the same bytes', () => {
    const sample = Buffer.from(
      [
        ': hello\r\n\r\n',
        'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\r\n\r\n',
        'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Grüße, 中文 "},"finish_reason":null}]}\n\n',
        'event: message\ndata: {"id":"c1","choices":[{"index":0,"delta":{"content":"🚀🇳🇴 done"},"finish_reason":null}]}\r\r',
        'data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{\\"é\\":1}"}}]},"finish_reason":"tool_calls"}]}\n\n',
        'data: [DONE]\n\n',
      ].join(''),
    );

    /** A fetch that answers with `pieces` as the body, one read each. */
    const fetchOf = (pieces: Uint8Array[]) => async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const piece of pieces) controller.enqueue(piece);
            controller.close();
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      );

    const read = (pieces: Uint8Array[]) =>
      lastValueFrom(fromChatCompletion({ baseURL: 'http://127.0.0.1:1', body: {}, fetch: fetchOf(pieces) }).pipe(toArray()));

    it('cut at any set of byte offsets', async () => {
      const whole = await read([sample]);
      expect(whole.at(-1)).toBe(DONE);
      expect(whole).toHaveLength(5);
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: sample.length - 1 }), { maxLength: 40 }), async (cuts) => {
          const offsets = [0, ...cuts.sort((a, b) => a - b), sample.length];
          const pieces = offsets.slice(1).map((end, i) => sample.subarray(offsets[i], end));
          expect(await read(pieces)).toEqual(whole);
        }),
        { numRuns: 300 },
      );
    });
  });
});
