// worker.d.ts - types of 'softprompt/worker' (web/worker.js): the engine worker's message
// protocol. The same messages are declared for run-time validation in web/worker/schema.js;
// change both together. Most apps never speak it: Softprompt.create() does.

import type {
  EngineInfo, MemoryInfo, ModelInfo, GenerateResult, GeneratedToken, EvalResult, DataPreview, AdapterInfo,
  BenchResult, TuneStep, TuneEval, TuneEvaluating, TuneMemory, TuneState, NearestToken, LoadProgress, ErrorCode, Example,
} from './softprompt.js';

/** A handle the worker gives out for a model or an adapter (a positive integer). */
export type Handle = number;

/** One file of a model source, as the worker reads it. */
export type SourcePart =
  | { kind: 'text'; text: string; name?: string }
  | { kind: 'bytes'; bytes: ArrayBuffer | ArrayBufferView; name?: string }
  | { kind: 'blob'; blob: Blob; name?: string }
  | { kind: 'path'; path: string; name?: string }
  | { kind: 'url'; url: string; name?: string };

export type ModelSourceMessage =
  | SourcePart
  | { kind: 'hf'; files: { 'config.json': SourcePart; 'model.safetensors': SourcePart; 'tokenizer.json': SourcePart }; name?: string };

/** Examples as the worker takes them: text in any format, or an array of examples. */
/** Text, examples, or a Blob of text (read in the worker). */
export type DataArg = string | Example[] | Blob;

interface SamplingArgs {
  maxTokens?: number; temperature?: number; topK?: number; topP?: number; seed?: number; stopAtEos?: boolean; addBos?: boolean;
}

interface BenchArgs {
  promptTokens?: number; decodeTokens?: number; trainBatch?: number; trainTokens?: number; seconds?: number;
  probes?: boolean; repeats?: number;
}

/** op -> [args, result, progress]. */
export interface Operations {
  /** jinjaUrl: where the page's import map puts @huggingface/jinja (a module worker does not see import maps). */
  init: [{ threads?: number; wasmBase?: string; exact?: boolean; jinjaUrl?: string }, Omit<EngineInfo, 'mode'>, never];
  memory: [Record<string, never>, MemoryInfo, never];
  loadModel: [{ source: ModelSourceMessage; fetchOptions?: Record<string, unknown>; cache?: 'cache' | 'opfs' | 'none'; name?: string; repo?: string },
    { model: Handle; info: ModelInfo }, LoadProgress];
  modelInfo: [{ model: Handle }, ModelInfo, never];
  freeModel: [{ model: Handle }, true, never];
  tokenize: [{ model: Handle; text: string; addBos?: boolean }, number[], never];
  detokenize: [{ model: Handle; ids: number[] }, string, never];
  logits: [{ model: Handle; adapter?: Handle; ids: number[] }, Float32Array, never];
  embed: [{ model: Handle; adapter?: Handle; ids: number[]; pooling?: 'mean' | 'cls' | 'last' | 'none'; normalize?: boolean }, Float32Array, never];
  generate: [{ model: Handle; adapter?: Handle; prompt?: string; ids?: number[] } & SamplingArgs,
    Omit<GenerateResult, 'adapter'>, GeneratedToken];
  tune: [{
    model: Handle; data: DataArg; format?: string; initAdapter?: Handle; resumeFrom?: ArrayBuffer | ArrayBufferView;
    checkpointEvery?: number; method?: string; virtualTokens?: number; init?: string; initText?: string; optimizer?: string;
    lr?: number; weightDecay?: number; schedule?: string; warmup?: number; clip?: number; steps?: number; epochs?: number;
    batchSize?: number; maxLength?: number; seed?: number; shuffle?: boolean; evalSplit?: number; evalEvery?: number;
    patience?: number; memoryMb?: number;
  }, {
    adapter: { adapter: Handle; info: AdapterInfo }; best: { adapter: Handle; info: AdapterInfo };
    history: { steps: TuneStep[]; evals: TuneEval[] }; reason: 'finished' | 'stopped' | 'early-stop'; memory?: TuneMemory;
  }, ({ type: 'step' } & TuneStep) | ({ type: 'eval' } & TuneEval) | ({ type: 'evaluating' } & TuneEvaluating) | { type: 'checkpoint'; step: number; bytes: Uint8Array }
    | { type: 'state'; state: TuneState }];
  evaluate: [{ model: Handle; adapter?: Handle; data: DataArg; format?: string; maxLength?: number; batchSize?: number }, EvalResult, never];
  dataPreview: [{ model?: Handle; data: DataArg; format?: string; limit?: number; maxLength?: number; ids?: boolean }, DataPreview, never];
  loadAdapter: [{ model: Handle; config: string; safetensors: ArrayBuffer | ArrayBufferView }, { adapter: Handle; info: AdapterInfo }, never];
  saveAdapter: [{ adapter: Handle; baseModelName?: string }, { config: string; safetensors: Uint8Array }, never];
  freeAdapter: [{ adapter: Handle }, true, never];
  nearest: [{ adapter: Handle; k?: number }, NearestToken[][], never];
  bench: [{ model?: Handle; preset?: string; type?: string } & BenchArgs, BenchResult, never];
}

export type Op = keyof Operations;
export type Request<O extends Op = Op> = O extends Op ? { id: number; op: O; args: Operations[O][0] } : never;
export type Control = { op: 'cancel' | 'abort' | 'pause' | 'resume' | 'stop'; target: number };
export type Reply<O extends Op = Op> =
  | { id: number; result: Operations[O][1] }
  | { id: number; progress: Operations[O][2] }
  | { id: number; error: { code: ErrorCode; message: string; partial?: unknown } };
export type WorkerMessage = { ready: true } | { fatal: { code: ErrorCode; message: string } } | Reply;

/** A message channel the server speaks on. */
export interface Channel {
  post(msg: WorkerMessage, transfer?: unknown[]): void;
  listen(fn: (msg: Request | Control) => void): void;
  close(): void;
}

/** Serve the protocol on a channel (the worker does this by itself when started as a worker). */
export function serve(channel: Channel): { shutdown(): void; onFatal: ((e: Error) => void) | null };
