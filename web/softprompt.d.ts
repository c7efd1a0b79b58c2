// softprompt.d.ts - types of the public JS API (web/softprompt.js).
//
//   import { Softprompt } from 'softprompt';           // or './web/softprompt.js'
//   const sp = await Softprompt.create();               // engine in a Web Worker / worker_threads
//   const model = await sp.loadModel('/models/stories260K.gguf', { onProgress: p => ... });
//   for await (const piece of model.generate('Once upon a time', { maxTokens: 60 })) out += piece;
//   const job = model.tune({ data: jsonl, virtualTokens: 20, steps: 100 });
//   job.on('progress', s => chart.add(s.step, s.loss));
//   const { adapter } = await job.done;
//   const files = await adapter.save();                 // PEFT adapter_config.json + adapter_model.safetensors
//
// Every failure is a SoftpromptError with a stable .code. Everything long-running is async,
// cancellable (AbortSignal) and reports progress. Nothing is fetched except the model URL given.

// ---------------------------------------------------------------- errors

export type ErrorCode =
  | 'SP_ERR_INVALID_ARG' // bad options or arguments
  | 'SP_ERR_NOMEM' // an allocation failed
  | 'SP_ERR_FORMAT' // not the expected format, malformed or truncated
  | 'SP_ERR_UNSUPPORTED' // unsupported architecture, tensor type or feature
  | 'SP_ERR_SHAPE' // tensor shapes inconsistent with the metadata
  | 'SP_ERR_TOKENIZER' // tokenizer missing, malformed or not matching the model
  | 'SP_ERR_CONTEXT' // sequence longer than the context
  | 'SP_ERR_DATA' // training/eval data malformed or empty
  | 'SP_ERR_NUMERIC' // NaN or Inf met (weights, loss)
  | 'SP_ERR_TOO_LARGE' // would not fit in memory; refused before allocating
  | 'SP_ERR_ABORTED' // cancelled by the caller (AbortSignal, abort())
  | 'SP_ERR_STATE' // call not valid now (e.g. the model or adapter was freed)
  | 'SP_ERR_WORKER' // the engine's worker crashed or was terminated
  | 'SP_ERR_IO' // a file could not be read or written (Node paths)
  | 'SP_ERR_NETWORK' // a download failed (network error or HTTP status)
  | 'SP_ERR_INTERNAL'; // an unexpected exception (a bug)

export class SoftpromptError extends Error {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown });
  /** 'AbortError' for SP_ERR_ABORTED (as the platform's aborts), else 'SoftpromptError'. */
  readonly name: 'SoftpromptError' | 'AbortError';
  readonly code: ErrorCode;
  /** A data error's 1-based line in the data given (for an array of examples: the example's index + 1). */
  line?: number;
  /** The field of that line's record the problem is in, e.g. "messages[1].content". */
  field?: string;
  toJSON(): { code: ErrorCode; message: string; line?: number; field?: string };
  static from(obj: unknown): SoftpromptError;
}

export const ErrorCodes: Readonly<{ [K in ErrorCode]: K }>;

/** True for an abort: SP_ERR_ABORTED, or any error named 'AbortError' (fetch, AbortSignal). */
export function isAbort(error: unknown): boolean;

// ---------------------------------------------------------------- engine

export interface CreateOptions {
  /** Threads for the compute pool. Default: hardware concurrency (browser: navigator.hardwareConcurrency,
   *  capped at 16). The threaded build is used only when SharedArrayBuffer is usable (cross-origin-isolated
   *  page, or Node); otherwise 1. */
  threads?: number;
  /** Where the engine runs. Browser: left out, softprompt's own module worker (a literal
   *  new Worker(new URL('./worker.js', import.meta.url)) that Vite and webpack emit); or an
   *  app-made module Worker running 'softprompt/worker'; or the URL of such a worker script.
   *  Node: worker_threads (true, default), this thread (false), or a worker script path/URL. */
  worker?: boolean | string | URL | WorkerLike;
  /** Where wasm/softprompt*.wasm (and, threaded, softprompt-mt.js and softprompt-mt.worker.js)
   *  live. Default: new URL('../wasm/', import.meta.url), which Vite and webpack rewrite to the
   *  files they emit; set it when the bundler does not follow new URL() (esbuild, Rollup). */
  wasmBase?: string | URL;
  /** true: every matrix product is exact f32. Default false: on Q8_0 / Q4_0 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K
   *  weights the activations are rounded to 16 bits per block of 32 for integer dot products
   *  (faster prefill and training; about 1e-5 of an output's scale). */
  exact?: boolean;
}

/** A Web Worker as far as softprompt uses it (structural, so no DOM types are needed). */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: any[]): void;
  terminate(): void;
  onmessage: ((ev: any) => any) | null;
  onerror: ((ev: any) => any) | null;
  onmessageerror: ((ev: any) => any) | null;
}

export interface EngineInfo {
  /** Threads actually used (1 when not threaded). */
  threads: number;
  /** True when the pthreads build (softprompt-mt) is running. */
  threaded: boolean;
  /** Kernel set chosen by the C engine. */
  isa: 'wasmsimd' | 'scalar' | string;
  /** true when every matrix product is exact f32 (CreateOptions.exact, or no integer kernels in this build). */
  exact: boolean;
  abiVersion: number;
  /** Why the engine is single-threaded, when it is (e.g. 'page is not cross-origin isolated'). */
  singleThreadReason?: string;
  /** 'worker' (Web Worker or worker_threads) or 'inline' (Node, {worker:false}). */
  mode: 'worker' | 'inline';
}

export interface MemoryInfo {
  /** Current size of the wasm heap in bytes (it only grows). */
  heapBytes: number;
  /** Bytes malloc has handed out and not taken back (for leak checks); null on an older build. */
  heapUsed: number | null;
  /** Bytes that can still be allocated before the 4 GB wasm ceiling (an upper bound). */
  heapRoom: number;
  /** Objects alive in the engine. */
  models: number;
  adapters: number;
}

/** What Softprompt.loadTokenizer reads: a path (Node: .gguf, an HF model folder, a folder with tokenizer.json
 * and tokenizer_config.json, or a tokenizer.json file), a URL (folder ending in '/', tokenizer.json or .gguf),
 * the files' contents, or GGUF bytes. */
export type TokenizerSource = string | URL | Blob | Uint8Array
  | { tokenizerJson: string | object | Blob; tokenizerConfig?: string | object | Blob | null; generationConfig?: string | object | Blob | null }
  | { gguf: Uint8Array | ArrayBuffer | Blob };

export interface ChatMessage { role: 'system' | 'user' | 'assistant' | string; content: string }

export interface ChatTemplateOptions {
  /** Append the assistant turn's opening (Jinja add_generation_prompt). Default false. */
  addGenerationPrompt?: boolean;
  /** Return the ids of the rendered text (no extra special tokens) instead of the text. */
  tokenize?: boolean;
  /** Extra template variables (e.g. tools, enable_thinking). */
  extra?: Record<string, unknown>;
}

export interface TokenizerInfo {
  kind: 'bpe' | 'spm';
  vocab_size: number;
  add_bos: boolean;
  add_eos: boolean;
  bos_id: number; bos_token: string | null;
  eos_id: number; eos_token: string | null;
  pad_id: number; pad_token: string | null;
  unk_id: number; unk_token: string | null;
  /** End-of-generation ids: EOS, the end-of-turn tokens, generation_config.json's eos_token_id. */
  eog_ids: number[];
  chat_template: string | null;
}

/** A tokenizer without model weights (Softprompt.loadTokenizer). Token for token equal to Hugging Face tokenizers. */
export declare class Tokenizer {
  readonly info: TokenizerInfo;
  readonly eogIds: number[];
  /** addSpecialTokens (default true): the BOS/EOS the tokenizer adds, as HF add_special_tokens. */
  tokenize(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]>;
  detokenize(ids: number[]): Promise<string>;
  /** The tokens as the vocabulary writes them ("Ġworld", "▁world"). */
  tokens(ids: number[]): Promise<string[]>;
  /** The model's own chat template, rendered with @huggingface/jinja. SP_ERR_UNSUPPORTED when it has none. */
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions & { tokenize?: false }): Promise<string>;
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions & { tokenize: true }): Promise<number[]>;
  free(): void;
}

export declare class Softprompt {
  static create(options?: CreateOptions): Promise<Softprompt>;
  /** A tokenizer and chat template with no weights loaded (runs in this thread). A chat template that does not
   * parse is refused here with SP_ERR_TOKENIZER. */
  static loadTokenizer(source: TokenizerSource): Promise<Tokenizer>;
  readonly info: EngineInfo;
  /** Load a model. See ModelSource. Rejects with SP_ERR_ABORTED when options.signal aborts. */
  loadModel(source: ModelSource, options?: LoadOptions): Promise<Model>;
  /** The model cache (the same object as the modelCache export). */
  readonly cache: ModelCacheApi;
  /** Engine heap figures (for leak checks and the page's memory display). */
  memory(): Promise<MemoryInfo>;
  /** What the engine's data parser reads in data, without a model (no token counts). */
  dataPreview(data: DataSource, options?: DataOptions & { limit?: number; maxLength?: number }): Promise<DataPreview>;
  /** Benchmark a random-weight model of a real shape with this engine's threads (nothing is downloaded). */
  bench(options?: PresetBenchOptions): Promise<BenchResult>;
  /** Stop the worker at once. Pending calls reject with SP_ERR_WORKER; later calls too. */
  terminate(): void;
  /** True once terminate() ran or the worker died. */
  readonly terminated: boolean;
  /** Called once if the worker dies (crash, out of memory, terminate()). */
  onerror: ((error: SoftpromptError) => void) | null;
}

// ---------------------------------------------------------------- models

/** Bytes in any of the usual shapes. */
export type Bytes = Uint8Array | ArrayBuffer | Blob;

/** The files of a Hugging Face LlamaForCausalLM folder, by name (only these three are used). */
export interface HFFiles {
  'config.json': Bytes | string;
  'model.safetensors': Bytes;
  'tokenizer.json': Bytes | string;
  [other: string]: Bytes | string | undefined;
}

/**
 * Where a model comes from:
 *  - a URL (string or URL; http(s):, relative to the page, blob:, data:), fetched with progress;
 *    a string that is not a URL is a filesystem path under Node (a .gguf file or an HF folder);
 *  - a File/Blob or bytes of a .gguf;
 *  - { files: {...} } or an array / FileList of Files of an HF folder (matched by file name);
 *  - { url: 'https://.../folder/' , hf: true } fetches config.json, model.safetensors, tokenizer.json
 *    from that folder.
 */
export type ModelSource =
  | string
  | URL
  | Bytes
  | { files: HFFiles | FileListLike }
  | { url: string | URL; hf?: boolean }
  | HubSource
  | FileListLike;

/** A model on the Hugging Face hub: a .gguf file of the repo, or (no file) its HF folder. Fetched
 *  from {endpoint}/{hf}/resolve/{revision}/{file}; the repo id names the base model of adapters. */
export interface HubSource {
  hf: string;
  file?: string;
  /** Branch, tag or commit. Default 'main'. */
  revision?: string;
  /** Default 'https://huggingface.co' (a mirror, or a local server in tests). */
  endpoint?: string;
}

/** The Hugging Face URL of a file: {endpoint}/{repo}/resolve/{revision}/{file}. */
export function hfUrl(repo: string, file: string, options?: { revision?: string; endpoint?: string }): string;
export const HF_ENDPOINT: string;

export interface CachedModelFile {
  url: string;
  size: number | null;
  etag: string | null;
  lastModified: string | null;
  /** Date.now() when stored. */
  storedAt: number | null;
  store: 'cache' | 'opfs';
}

/** The browser's model cache, both stores (the Cache API and OPFS). Outside a browser every method
 *  rejects with SP_ERR_UNSUPPORTED. */
export interface ModelCacheApi {
  list(): Promise<CachedModelFile[]>;
  has(url: string | URL): Promise<boolean>;
  /** true when it was cached. */
  delete(url: string | URL): Promise<boolean>;
  /** How many files were cached. */
  clear(): Promise<number>;
}
export const modelCache: ModelCacheApi;

/** An array of Files or a FileList (written structurally, so no DOM types are needed). */
export type FileListLike = File[] | ArrayLike<File>;

export interface LoadProgress {
  /** 'download' (fetching a URL), 'read' (reading a file/Blob), 'load' (the engine parses), 'done'. */
  status: 'download' | 'read' | 'load' | 'done';
  /** The file being read or downloaded (name or URL), when there is one. */
  file?: string;
  /** Bytes so far, over all files. */
  loaded: number;
  /** Total bytes over all files, known up front when the server sends Content-Length (else 0). */
  total: number;
}

/** loadModel's options (an unknown name is refused with SP_ERR_INVALID_ARG). */
export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  /** The base model's id recorded in adapters saved from this model (base_model_name_or_path),
   *  e.g. 'HuggingFaceTB/SmolLM2-135M'. Default: for an HF folder, the hub repo it came from ({hf}
   *  or a huggingface.co URL), else its config.json _name_or_path; for a GGUF, the repo its
   *  metadata names (general.source.huggingface.repository, or a huggingface.co URL in
   *  general.source.repo_url / general.source.url; info.source_repo), else the hub repo the file
   *  came from; else null (never a GGUF's display name or architecture). */
  baseModel?: string;
  /** The same as baseModel (its name before 0.2). */
  name?: string;
  /** Extra fetch options for URL sources (headers, credentials...). */
  fetchOptions?: RequestInit;
  /** Browser, URL sources: keep downloads on the device, keyed by URL and checked against the
   *  server's ETag / Last-Modified (a HEAD request; offline, the cached copy is used). true or
   *  'cache': the Cache API (default in a browser); 'opfs': the Origin Private File System (large
   *  files); false: never. Node: never. Quota errors leave the model loaded, just not cached.
   *  See sp.cache. A download cut off half way is resumed with Range requests where the server
   *  supports them. */
  cache?: boolean | 'cache' | 'opfs';
  /** Bytes sources: hand the buffer to the engine's worker instead of copying it (the caller's
   *  ArrayBuffer is detached). Saves one copy of the model. Default false. */
  transfer?: boolean;
}

export interface ModelInfo {
  arch: string;
  format: 'gguf' | 'hf';
  name: string;
  /** GGUF: the Hugging Face repo id its metadata names as its source, or null. */
  source_repo: string | null;
  file_type: string;
  /** The types the matrices are stored in, by share of their bytes, largest first: "Q5_0 71%, Q4_K 29%"
   *  (a Q4_K_M file of a model whose rows are not multiples of 256), or one type: "Q8_0". */
  weight_types: string;
  dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  head_dim: number;
  hidden_dim: number;
  vocab_size: number;
  context_length: number;
  rope_theta: number;
  norm_eps: number;
  rope_style: 'adjacent' | 'half';
  tied: boolean;
  n_params: number;
  weight_bytes: number;
  bos_id: number;
  eos_id: number;
  tokenizer: 'spm' | 'bpe';
  [key: string]: unknown;
}

export interface TokenizeOptions {
  /** Prepend BOS (default true). */
  addBos?: boolean;
}

/** How embed pools the tokens' hidden states: their mean (the default), the first token's row
 *  ('cls', as transformers.js names it), the last token's row, or every row ('none'). */
export type Pooling = 'mean' | 'cls' | 'last' | 'none';

export interface EmbedOptions {
  adapter?: Adapter;
  /** Tokenize text with BOS (default true). */
  addBos?: boolean;
  pooling?: Pooling;
  /** Scale each vector to unit L2 norm (default true). */
  normalize?: boolean;
}

export interface GenerateOptions {
  /** Tokens to generate at most (default 128). */
  maxTokens?: number;
  /** 0 = greedy (default 1.0). */
  temperature?: number;
  /** 0 = off (default). */
  topK?: number;
  /** 1 = off (default). */
  topP?: number;
  /** Same seed, same text, on every machine; any whole number up to 2^53 - 1, used exactly.
   *  Default: a random seed (reported in the result), so two calls at temperature > 0 differ. */
  seed?: number;
  /** Stop at the model's EOS token (default true). */
  stopAtEos?: boolean;
  /** Prepend BOS to a string prompt (default true). Ignored for id prompts. */
  addBos?: boolean;
  /** A soft prompt (prompt or prefix tuning) to generate with. */
  adapter?: Adapter | null;
  signal?: AbortSignal;
  /** Called for every token as it is made. text is the UTF-8 text it completes (may be ''). */
  onToken?: (token: GeneratedToken) => void;
}

export interface GeneratedToken {
  /** Token id; -1 for a final piece that only flushes an incomplete UTF-8 sequence (as U+FFFD). */
  id: number;
  /** Text this token adds to the output (a token may end in the middle of a UTF-8 character:
   *  the bytes then appear with the next token). */
  text: string;
  /** 0-based index among generated tokens. */
  index: number;
}

export interface GenerateResult {
  /** The continuation only (the prompt is not repeated). */
  text: string;
  /** Generated ids. */
  tokens: number[];
  /** Prompt ids (BOS + text when addBos). */
  promptTokens: number[];
  /** Why it stopped. */
  finishReason: 'eos' | 'length';
  /** The sampling seed used (the one given, or the random default): pass it again to repeat. */
  seed: number;
  /** Milliseconds for the prefill (first token) and the whole run. */
  prefillMs: number;
  totalMs: number;
}

export type JobState = 'running' | 'paused' | 'done' | 'failed';

/** What a generation and a tuning run share. */
export interface Job<Result, Events extends { progress: unknown; state: JobState }> {
  /** The result; rejects on errors. An abort rejects with an AbortError (isAbort(e); code
   *  SP_ERR_ABORTED) whose cause is the abort reason or the signal's reason. */
  readonly done: Promise<Result>;
  readonly state: JobState;
  /** Stop it: done rejects with an AbortError whose cause is reason; the model stays usable. */
  abort(reason?: unknown): void;
  on<K extends keyof Events>(event: K, fn: (value: Events[K]) => void): this;
  off<K extends keyof Events>(event: K, fn: (value: Events[K]) => void): this;
}

export interface GenerationEvents {
  /** One per token, as it is generated. */
  progress: GeneratedToken;
  state: JobState;
}

/** A Job, also a promise of the result itself and an async iterator of text pieces. */
export interface Generation extends Job<GenerateResult, GenerationEvents>, PromiseLike<GenerateResult>, AsyncIterable<string> {
  catch<T = never>(onrejected?: ((reason: any) => T | PromiseLike<T>) | null): Promise<GenerateResult | T>;
  finally(onfinally?: (() => void) | null): Promise<GenerateResult>;
}

// ---------------------------------------------------------------- data

/** One training/eval example. {text}: loss on every token after BOS. {input, output}: loss on
 *  output + EOS only. */
export interface ChatMessage { role: string; content: string }
/** A training example, as a JSONL record: plain text, an input/output pair, a conversation (TRL's
 *  conversational format: the assistant turns are learnt), a prompt/completion (strings, or message
 *  lists: the completion's assistant turns are learnt), or text already rendered with its loss mask. */
export type Example =
  | { text: string }
  | { input: string; output: string }
  | { messages: ChatMessage[] }
  | { prompt: string | ChatMessage[]; completion: string | ChatMessage[] }
  | { segments: { text: string; train?: boolean }[] };

/** Training/eval data: text in JSONL (one Example per line), CSV (header input,output or text), TSV
 *  (input<TAB>output rows, or a header), or plain text (examples separated by blank lines), or
 *  examples. The engine's C parser reads all of them (src/train/data.h). A Blob (a File) is read in
 *  the engine's worker, off the page's thread. */
export type DataSource = string | Example[] | Bytes;

export type DataFormat = 'auto' | 'jsonl' | 'csv' | 'tsv' | 'text';

export interface DataIssue {
  code: ErrorCode;
  /** 1-based line in the given text (0 when the problem is the whole data, e.g. no examples). */
  line: number;
  /** The field of the record, e.g. "messages[0].role" (null when the line as a whole is wrong). */
  field: string | null;
  /** Names the line itself ("line 3: ..."). */
  message: string;
}

export interface DataPreview {
  format: 'jsonl' | 'csv' | 'tsv' | 'text' | 'examples';
  kind: 'text' | 'input-output' | 'chat' | 'mixed';
  count: number;
  /** The first `limit` examples (default 20), each with its line; a prompt/completion conversation
   *  comes as {messages, train_from} (the index of its first completion message). With ids: the token
   *  ids and targets (1 = learnt) of the whole example; a conversation whose chat template writes an
   *  assistant turn differently once later turns follow (Qwen3 drops earlier turns' thinking) trains
   *  as several sequences, each turn in the context the model has when writing it: listed in
   *  `sequences` (the whole conversation last). */
  examples: (Example & { line: number; train_from?: number; ids?: number[]; targets?: number[];
    sequences?: { ids: number[]; targets: number[] }[] })[];
  /** What the parser refused, with line and field (the parser stops at the first problem). */
  errors: DataIssue[];
  /** E.g. that the data holds a single example. */
  warnings: string[];
  /** With a model: token counts (BOS included, EOS for input/output); total/min/max/mean over the
   *  training sequences, perExample per example (a conversation's sequences summed). */
  tokens?: { total: number; min: number; max: number; mean: number; truncated: number; perExample: number[] };
  /** Distinct outputs when there are at most 20 (a classification task: eval reports accuracy). */
  labels?: string[];
}

export interface DataOptions {
  format?: DataFormat;
}

// ---------------------------------------------------------------- evaluation

export interface EvaluateOptions extends DataOptions {
  adapter?: Adapter | null;
  maxLength?: number;
  batchSize?: number;
  signal?: AbortSignal;
}

export interface EvalResult {
  loss: number;
  perplexity: number;
  tokens: number;
  examples: number;
  /** Present when the outputs form a small label set (at most 20 distinct). */
  accuracy?: number;
  labels?: string[];
}

// ---------------------------------------------------------------- tuning

export interface TuneOptions extends DataOptions {
  data: DataSource;
  method?: 'prompt' | 'prefix';
  /** Soft prompt length N (default 20). */
  virtualTokens?: number;
  /** 'random' (default), 'vocab' (sample-vocab), 'text' (initText, PEFT repeat/truncate) or a saved adapter. */
  init?: 'random' | 'vocab' | 'text' | Adapter;
  initText?: string;
  optimizer?: 'adam' | 'adamw' | 'sgd';
  lr?: number;
  weightDecay?: number;
  schedule?: 'constant' | 'linear' | 'cosine';
  warmup?: number;
  /** Gradient-norm clipping (0 = off, the default). */
  clip?: number;
  /** Optimiser steps (0 = use epochs). */
  steps?: number;
  epochs?: number;
  batchSize?: number;
  maxLength?: number;
  seed?: number;
  shuffle?: boolean;
  /** Fraction of the examples held out for evaluation (default 0.1; 0 = none). */
  evalSplit?: number;
  /** Evaluate every K steps (0 = once per epoch and at the end). */
  evalEvery?: number;
  /** Early stopping: evaluations without improvement before stopping (0 = off). */
  patience?: number;
  /** Emit a 'checkpoint' event every K steps (0 = never). */
  checkpointEvery?: number;
  /** Activation memory budget in MB (default 1024, and never more than wasm memory has room for):
   *  a run whose batch cannot fit is refused with SP_ERR_TOO_LARGE naming the sizes. */
  memoryMb?: number;
  /** Resume from a checkpoint (bytes from a 'checkpoint' event). Options must match the original run. */
  resumeFrom?: Bytes;
  signal?: AbortSignal;
}

export interface TuneStep {
  /** 1-based optimiser step. */
  step: number;
  epoch: number;
  /** Mean loss over the batch's target tokens, before this step's update. */
  loss: number;
  lr: number;
  tokensPerSecond: number;
  elapsedMs: number;
  totalSteps: number;
  tokens: number;
}

export interface TuneEval {
  step: number;
  evalLoss: number;
  perplexity: number;
  accuracy?: number;
}

/** An evaluation under way: done of total work units (held-out examples; counted twice when the
 *  data has labels, for the loss and then the accuracy); ms: how long the last part took. */
export interface TuneEvaluating {
  step: number;
  done: number;
  total: number;
  ms: number;
}

export interface TuneCheckpoint {
  step: number;
  bytes: Uint8Array;
}

/** Training memory, as the engine reports it (sp_tuner_memory_json). */
export interface TuneMemory {
  arena_bytes: number;
  train_activation_bytes?: number;
  eval_activation_bytes?: number;
  /** True when activations are recomputed to fit the memory budget. */
  recompute: boolean;
  params?: number;
  [key: string]: unknown;
}

export interface TuneResult {
  /** The prompt as it is at the end (or when stopped). */
  adapter: Adapter;
  /** The prompt with the best eval loss (the same object as adapter when there was no eval). */
  best: Adapter;
  history: { steps: TuneStep[]; evals: TuneEval[] };
  /** 'finished' (all steps), 'early-stop' (patience), 'stopped' (stop() was called). */
  reason: 'finished' | 'early-stop' | 'stopped';
  memory?: TuneMemory;
}

export type TuneState = JobState;

export interface TuneEvents {
  progress: TuneStep;
  eval: TuneEval;
  evaluating: TuneEvaluating;
  checkpoint: TuneCheckpoint;
  /** Follows pause() / resume() at once (the job's own view). */
  state: TuneState;
  /** The worker acknowledged a pause(): from now on no step runs and none is reported until
   *  resume(). Acknowledgements come in the order of the calls. */
  paused: undefined;
  /** The worker acknowledged a resume(): steps go on. */
  resumed: undefined;
}

export interface TuneJob extends Job<TuneResult, TuneEvents> {
  /** Pause between steps (the worker stays responsive). `state` is 'paused' at once; the promise
   *  resolves with 'paused' when the worker acknowledges (the 'paused' event): no step runs or is
   *  reported after that until resume(). It resolves with 'done' or 'failed' instead when the run
   *  is over or ends first, and never rejects. */
  pause(): Promise<'paused' | 'done' | 'failed'>;
  /** Go on after pause(). The promise resolves with 'running' when the worker acknowledges (the
   *  'resumed' event), or with 'done' or 'failed' when the run is over or ends first. */
  resume(): Promise<'running' | 'done' | 'failed'>;
  /** Finish now, keeping the prompt: done resolves with reason 'stopped'. */
  stop(): void;
  /** Rejects on errors. A NaN/Inf loss rejects with SP_ERR_NUMERIC and error.result holds the
   *  last good prompt ({adapter, best, history, reason: 'stopped'}). abort(reason): see Job. */
  readonly done: Promise<TuneResult>;
}

// ---------------------------------------------------------------- adapters

export interface AdapterInfo {
  method: 'prompt' | 'prefix';
  num_virtual_tokens: number;
  token_dim: number;
  num_layers: number;
  [key: string]: unknown;
}

/** A PEFT adapter folder: adapter_config.json text and adapter_model.safetensors bytes. */
export interface AdapterFiles {
  config: string;
  safetensors: Uint8Array;
}

export interface AdapterSource {
  /** adapter_config.json: text, bytes, Blob or the parsed object. */
  config: string | Bytes | Record<string, unknown>;
  /** adapter_model.safetensors. */
  safetensors: Bytes;
}

export interface NearestToken {
  id: number;
  piece: string;
  /** Cosine similarity. */
  score: number;
}

export declare class Adapter {
  readonly model: Model;
  readonly info: AdapterInfo;
  /** PEFT files. baseModelName defaults to the model's name. */
  save(options?: { baseModelName?: string }): Promise<AdapterFiles>;
  /** For each virtual token, its k nearest vocabulary tokens by cosine (prompt tuning only). */
  nearest(k?: number): Promise<NearestToken[][]>;
  free(): Promise<void>;
  readonly freed: boolean;
}

// ---------------------------------------------------------------- model

export declare class Model {
  readonly info: ModelInfo;
  readonly engine: Softprompt;
  tokenize(text: string, options?: TokenizeOptions): Promise<number[]>;
  detokenize(ids: ArrayLike<number>): Promise<string>;
  /** Generate after a prompt (text, or ids used as they are), or after messages rendered with the model's chat
   * template and its generation prompt (no BOS added: the template writes it). Generation stops at EOS and at
   * the end-of-turn tokens (generation_config.json eos_token_id, <|im_end|>, <|eot_id|>, <end_of_turn>). */
  generate(prompt: string | ArrayLike<number> | ChatMessage[], options?: GenerateOptions): Generation;
  /** The model's chat template (tokenizer_config.json or GGUF tokenizer.chat_template), rendered with @huggingface/jinja. */
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions & { tokenize?: false }): Promise<string>;
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions & { tokenize: true }): Promise<number[]>;
  /** The same calls as Softprompt.loadTokenizer's Tokenizer, on this model. */
  readonly tokenizer: {
    readonly info: TokenizerInfo & { specials: Record<string, string> } | null;
    readonly eogIds: number[];
    tokenize(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]>;
    detokenize(ids: ArrayLike<number>): Promise<string>;
    applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions): Promise<string | number[]>;
  };
  /** Next-token logits after the prompt (text, tokenized with BOS unless addBos: false, or ids):
   *  a Float32Array of info.vocab_size, for the last position. */
  logits(prompt: string | ArrayLike<number>, options?: { adapter?: Adapter; addBos?: boolean }): Promise<Float32Array>;
  /** An embedding of the prompt (text, tokenized with BOS unless addBos: false, or ids): the final
   *  hidden states (after the final norm, before the LM head), with the adapter's virtual tokens in
   *  front when given, pooled and scaled to unit length (unless normalize: false). A Float32Array of
   *  info.dim, or of tokens * info.dim for pooling 'none'. */
  embed(prompt: string | ArrayLike<number>, options?: EmbedOptions): Promise<Float32Array>;
  evaluate(data: DataSource, options?: EvaluateOptions): Promise<EvalResult>;
  tune(options: TuneOptions): TuneJob;
  loadAdapter(source: AdapterSource): Promise<Adapter>;
  /** Parse and check data (with line numbers) and count its tokens. */
  /** ids: each listed example also gets its token ids and targets (1 = learnt), as the tuner reads it. */
  dataPreview(data: DataSource, options?: DataOptions & { limit?: number; maxLength?: number; ids?: boolean }): Promise<DataPreview>;
  /** Speed figures on this model with this engine's threads. */
  bench(options?: BenchOptions): Promise<BenchResult>;
  /** Free the model, its adapters and anything running on it (running calls reject with SP_ERR_ABORTED). */
  free(): Promise<void>;
  readonly freed: boolean;
}

export interface BenchOptions {
  /** Prompt length for GEMM and prefill (default 128). */
  promptTokens?: number;
  /** Tokens decoded one at a time (default 64). */
  decodeTokens?: number;
  /** Training step shape: batch x tokens (default 4 x 128). */
  trainBatch?: number;
  trainTokens?: number;
  /** Seconds per probe / GEMM measurement (default 0.5). */
  seconds?: number;
  /** Run the f32x4 peak and copy-bandwidth probes (default true). */
  probes?: boolean;
  /** Timed runs of prefill/decode and of the training step; the best is reported (default 3). */
  repeats?: number;
}

export interface PresetBenchOptions extends BenchOptions {
  /** A random-weight model of a real shape: a name of the engine's preset table (src/model/presets.c),
   * e.g. 'stories15M' (the default), 'smollm2-135m', 'smollm2-360m', 'qwen2.5-0.5b', 'qwen3-0.6b',
   * 'gemma3-270m', 'llama3.2-1b', 'gpt2-124m'; an unknown name is refused with the list. A preset
   * whose weights + K/V cache (min(context, 4096) positions) cannot fit the heap is refused with
   * SP_ERR_TOO_LARGE naming the sizes. */
  model?: string;
  /** Weight type (default 'F32'). K-quant matrices whose rows are not a multiple of 256 fall back
   *  as llama.cpp's quantizer does: Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0 (the result's weightTypes
   *  names the mix). */
  type?: 'F32' | 'F16' | 'Q8_0' | 'Q4_0' | 'Q5_0' | 'Q5_1' | 'Q4_K' | 'Q5_K' | 'Q6_K';
}

/** The engine's benchmark (sp_bench_json), keys in camelCase; raw holds the C JSON as is. */
export interface BenchResult {
  model: string;
  type: string;
  /** The types the model's matrices are stored in, by share of their bytes ("Q5_0 71%, Q4_K 29%"; one type: "Q4_K"). */
  weightTypes: string;
  threads: number;
  isa: string;
  nParams: number;
  weightBytes: number;
  /** f32x4 mul+add probe, GFLOP/s (null when probes are off). */
  peakGflops: number | null;
  /** Copy bandwidth (read + write) of 256 MiB, GB/s. */
  copyGbs?: number;
  /** The two probes on every thread of the engine at once, summed (the roofs of this thread count). */
  peakGflopsAll?: number;
  copyGbsAll?: number;
  /** X·Wᵀ on the model's shapes (FLOP-weighted), GFLOP/s, and dY·W. */
  gemmGflops: number | null;
  gemmDxGflops?: number;
  gemm?: { rows: number; cols: number; n: number; gflops: number }[];
  prefillTokS: number;
  prefillGflops?: number;
  decodeTokS: number;
  /** Bytes a decoded token streams (every weight once, plus the K/V cache rows attention reads) x decode speed, GB/s. */
  decodeGbs?: number;
  /** The same, counting the weights only. */
  decodeWeightGbs?: number;
  /** A plain streaming read of 512 MiB on one thread, GB/s, the better of 1 and 8 interleaved streams (the roof of one-thread decoding). */
  readGbs?: number;
  trainTokS: number | null;
  trainGflops: number | null;
  trainRecompute?: boolean;
  /** wasm heap size after the run (it only grows). */
  peakMemoryBytes: number;
  /** wasm heap right after prefill + decode, before the rest of the benchmark allocates (on a fresh
   *  engine: the inference peak), its ratio to weightBytes + kvCacheBytes, and malloc's bytes then. */
  inferenceMemoryBytes?: number;
  inferenceMemoryRatio?: number;
  inferenceHeapUsedBytes?: number;
  kvCacheBytes?: number;
  /** Activations, gradients and LM head scratch of the training step (their sizes). */
  trainMemoryBytes?: number;
  /** What malloc had handed out while the tuner ran, model weights included (measured): the
   *  training heap; and the part the training run added (activations, LM head, optimiser). */
  trainHeapBytes?: number;
  trainRunHeapBytes?: number;
  raw: Record<string, unknown>;
  [key: string]: unknown;
}

// ---------------------------------------------------------------- helpers

/** True when the threaded engine can run here (SharedArrayBuffer + cross-origin isolation). */
export function threadsAvailable(): boolean;

export default Softprompt;
