/** A part of a Gemini `Content`. */
export type GeminiPart =
  | { text: string; thought?: boolean; thoughtSignature?: string }
  | { inlineData: { mimeType: string; data: string } }
  | { fileData: { mimeType?: string; fileUri: string } }
  | { functionCall: { name: string; args?: Record<string, unknown>; id?: string }; thoughtSignature?: string }
  | { functionResponse: { name: string; response: Record<string, unknown>; id?: string } }
  | { executableCode: { language: string; code: string } }
  | { codeExecutionResult: { outcome: string; output?: string } };

/** One turn of the conversation: `user` or `model`. */
export interface GeminiContent {
  role?: 'user' | 'model';
  parts: readonly GeminiPart[];
}

/** `generationConfig`: sampling, output length, JSON output, thinking. */
export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  candidateCount?: number;
  maxOutputTokens?: number;
  stopSequences?: readonly string[];
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  responseMimeType?: 'text/plain' | 'application/json' | 'text/x.enum';
  /** Gemini's OpenAPI subset of a schema. */
  responseSchema?: Record<string, unknown>;
  /** A JSON Schema (the newer field; takes most of JSON Schema). */
  responseJsonSchema?: Record<string, unknown>;
  responseModalities?: ReadonlyArray<'TEXT' | 'IMAGE' | 'AUDIO'>;
  responseLogprobs?: boolean;
  logprobs?: number;
  thinkingConfig?: { thinkingBudget?: number; includeThoughts?: boolean; thinkingLevel?: 'low' | 'high' };
}

/** A tool: functions the model may call, or Google's hosted tools. */
export interface GeminiTool {
  functionDeclarations?: ReadonlyArray<{ name: string; description?: string; parameters?: Record<string, unknown>; parametersJsonSchema?: Record<string, unknown> }>;
  googleSearch?: Record<string, never>;
  codeExecution?: Record<string, never>;
  urlContext?: Record<string, never>;
}

/** A Gemini `generateContent` request body, with the fields Google documents. */
export interface GeminiContentRequest {
  contents: readonly GeminiContent[];
  systemInstruction?: { role?: string; parts: ReadonlyArray<{ text: string }> };
  generationConfig?: GeminiGenerationConfig;
  tools?: readonly GeminiTool[];
  toolConfig?: { functionCallingConfig?: { mode?: 'AUTO' | 'ANY' | 'NONE' | 'VALIDATED'; allowedFunctionNames?: readonly string[] } };
  safetySettings?: ReadonlyArray<{ category: string; threshold: string }>;
  cachedContent?: string;
  labels?: Record<string, string>;
}
