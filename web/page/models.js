// models.js - the models the studio's picker offers. Choosing one fills the URL box; nothing is
// downloaded until the user presses Load.
//
// The two tiny models are served by `npm start` from ../shared/models (under /models/), with their
// exact sizes. The others are GGUF files on the Hugging Face Hub (official or widely used
// repositories). Their sizes are estimates, shown with "≈": the parameter count times the bits per
// weight of the file's quantization (Q8_0 stores 32 weights in 34 bytes: 8.5 bits), plus nothing for
// the metadata (a few MB at most), so the user knows the download before starting it. `arch` is the
// GGUF general.architecture; `chat` says the model is instruction-tuned and ships a chat template,
// which "Try it" uses.

const HF = (repo, file) => `https://huggingface.co/${repo}/resolve/main/${file}`;

/** Bits per weight of a GGUF quantization (ggml's block layouts). */
const BITS = { F16: 16, Q8_0: 8.5 };

/** An estimated file size: params weights at the quantization's bits per weight. */
const approxBytes = (params, bits) => Math.round((params * bits) / 8);

export const MODELS = [
  {
    id: 'tinystories-656k', name: 'TinyStories-656K', quant: 'Q8_0', url: '/models/TinyStories-656K/TinyStories-656K-Q8_0.gguf',
    bytes: 749728, exact: true, arch: 'llama', local: true,
    note: 'A tiny story model (656 thousand weights, 2048-token vocabulary). The default: it learns every built-in example in a few dozen steps.',
  },
  {
    id: 'stories260k', name: 'stories260K', quant: 'F32', url: '/models/stories260K/stories260K.gguf',
    bytes: 1185376, exact: true, arch: 'llama', local: true,
    note: 'The smallest story model (260 thousand weights, 512-token vocabulary). It learns a story style, but not question-and-answer tasks.',
  },
  {
    id: 'smollm2-135m', name: 'SmolLM2-135M-Instruct', quant: 'Q8_0', params: 134.5e6, arch: 'llama', chat: true,
    url: HF('bartowski/SmolLM2-135M-Instruct-GGUF', 'SmolLM2-135M-Instruct-Q8_0.gguf'),
    note: 'A small instruct model (Llama architecture, 135 million weights, GPT-2-style BPE tokenizer) that follows simple instructions and learns short tasks.',
  },
  {
    id: 'smollm2-360m', name: 'SmolLM2-360M-Instruct', quant: 'Q8_0', params: 361.8e6, arch: 'llama', chat: true,
    url: HF('bartowski/SmolLM2-360M-Instruct-GGUF', 'SmolLM2-360M-Instruct-Q8_0.gguf'),
    note: 'SmolLM2\'s middle size (Llama architecture, 362 million weights).',
  },
  {
    id: 'qwen2.5-0.5b', name: 'Qwen2.5-0.5B-Instruct', quant: 'Q8_0', params: 494.0e6, arch: 'qwen2', chat: true,
    url: HF('Qwen/Qwen2.5-0.5B-Instruct-GGUF', 'qwen2.5-0.5b-instruct-q8_0.gguf'),
    note: 'Qwen2.5 instruct (architecture qwen2: biases on q, k and v; 494 million weights, 151,936-token vocabulary). Qwen\'s own GGUF file.',
  },
  {
    id: 'qwen3-0.6b', name: 'Qwen3-0.6B', quant: 'Q8_0', params: 596.0e6, arch: 'qwen3', chat: true,
    url: HF('Qwen/Qwen3-0.6B-GGUF', 'Qwen3-0.6B-Q8_0.gguf'),
    note: 'Qwen3 (architecture qwen3: RMSNorm on q and k; 596 million weights). Qwen\'s own GGUF file; its chat template adds a “thinking” block.',
  },
  {
    // Q4_K_M mixes Q4_K (4.5 bits) with Q6_K (6.5625 bits) for the tied embeddings and about half
    // of attn_v and ffn_down: for this model's shapes that averages about 5.2 bits per weight.
    id: 'llama3.2-1b', name: 'Llama-3.2-1B-Instruct', quant: 'Q4_K_M', params: 1235.8e6, bits: 5.2, arch: 'llama', chat: true,
    url: HF('bartowski/Llama-3.2-1B-Instruct-GGUF', 'Llama-3.2-1B-Instruct-Q4_K_M.gguf'),
    note: 'Llama 3.2 1B instruct, quantized to Q4_K_M (K-quants, Llama 3 RoPE scaling, 128,256-token vocabulary). The largest here: loading and training need a few GB of memory.',
  },
  {
    id: 'gemma3-270m', name: 'Gemma-3-270M-it', quant: 'Q8_0', params: 268.1e6, arch: 'gemma3', chat: true,
    url: HF('ggml-org/gemma-3-270m-it-GGUF', 'gemma-3-270m-it-Q8_0.gguf'),
    note: 'Gemma 3 270M instruct (architecture gemma3: sliding-window attention, extra norms; 262,144-token vocabulary, so most of its weights are the embeddings).',
  },
  {
    id: 'gpt2', name: 'GPT-2 124M', quant: 'Q8_0', params: 124.4e6, arch: 'gpt2', chat: false,
    url: HF('QuantFactory/gpt2-GGUF', 'gpt2.Q8_0.gguf'),
    note: 'OpenAI\'s GPT-2 small (architecture gpt2: LayerNorm, learned positions, GELU). A plain text model: no chat template.',
  },
];
for (const m of MODELS) {
  if (m.bytes === undefined) m.bytes = approxBytes(m.params, m.bits ?? BITS[m.quant]);
}

export const DEFAULT_MODEL = MODELS[0];

/** The model's size as the picker shows it: exact for the local files, "≈" for the estimates. */
export function sizeLabel(m, fmtBytes) { return `${m.exact ? '' : '≈ '}${fmtBytes(m.bytes)}`; }

/** "SmolLM2-135M-Instruct (Q8_0, ≈ 143 MB)" */
export function modelLabel(m, fmtBytes) { return `${m.name} (${m.quant}, ${sizeLabel(m, fmtBytes)})`; }

/** The picker entry whose URL is `url` (as typed or absolute), or null. */
export function modelByUrl(url) {
  const abs = (u) => { try { return new URL(u, globalThis.location?.href ?? 'http://localhost/').href; } catch { return u; } };
  const want = abs(url);
  return MODELS.find((m) => abs(m.url) === want) ?? null;
}
