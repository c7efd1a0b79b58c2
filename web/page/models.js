// models.js - the models the studio's picker offers. Choosing one fills the URL box; nothing is
// downloaded until the user presses Load.
//
// The two tiny models are served by `npm start` from ../shared/models (under /models/). The others
// are GGUF files on the Hugging Face Hub; sizes are the Hub's listed file sizes (rounded, as the
// Hub shows them), so the user knows the download before starting it. `arch` is the GGUF
// general.architecture; `supported` says whether this build of the engine loads the file today
// (architecture, tokenizer and quantization); the picker marks the others "not supported yet".

const HF = (repo, file) => `https://huggingface.co/${repo}/resolve/main/${file}`;

export const MODELS = [
  {
    id: 'tinystories-656k', label: 'TinyStories-656K (Q8_0, 0.7 MB)', url: '/models/TinyStories-656K/TinyStories-656K-Q8_0.gguf',
    bytes: 749728, arch: 'llama', supported: true, local: true,
    note: 'A tiny story model (656 thousand weights, 2048-token vocabulary). The default: it learns every built-in example in a few dozen steps.',
  },
  {
    id: 'stories260k', label: 'stories260K (F32, 1.2 MB)', url: '/models/stories260K/stories260K.gguf',
    bytes: 1185376, arch: 'llama', supported: true, local: true,
    note: 'The smallest story model (260 thousand weights, 512-token vocabulary). It learns a story style, but not question-and-answer tasks.',
  },
  {
    id: 'smollm2-135m', label: 'SmolLM2-135M-Instruct (Q8_0, 145 MB)', url: HF('bartowski/SmolLM2-135M-Instruct-GGUF', 'SmolLM2-135M-Instruct-Q8_0.gguf'),
    bytes: 145e6, arch: 'llama', supported: false,
    note: 'A small instruct model (Llama architecture, GPT-2-style BPE tokenizer) that follows simple instructions and learns short tasks.',
  },
  {
    id: 'smollm2-360m', label: 'SmolLM2-360M-Instruct (Q8_0, 369 MB)', url: HF('ngxson/SmolLM2-360M-Instruct-Q8_0-GGUF', 'smollm2-360m-instruct-q8_0.gguf'),
    bytes: 368.5e6, arch: 'llama', supported: false,
    note: 'SmolLM2\'s middle size (Llama architecture, GPT-2-style BPE tokenizer).',
  },
  {
    id: 'qwen2.5-0.5b', label: 'Qwen2.5-0.5B-Instruct (Q8_0, 644 MB)', url: HF('Qwen/Qwen2.5-0.5B-Instruct-GGUF', 'qwen2.5-0.5b-instruct-q8_0.gguf'),
    bytes: 644.4e6, arch: 'qwen2', supported: false,
    note: 'Qwen2.5 (architecture qwen2: biases on q, k, v).',
  },
  {
    id: 'qwen3-0.6b', label: 'Qwen3-0.6B (Q8_0, 610 MB)', url: HF('Qwen/Qwen3-0.6B-GGUF', 'Qwen3-0.6B-Q8_0.gguf'),
    bytes: 610e6, arch: 'qwen3', supported: false,
    note: 'Qwen3 (architecture qwen3: RMSNorm on q and k).',
  },
  {
    id: 'llama3.2-1b', label: 'Llama-3.2-1B-Instruct (Q4_K_M, 770 MB)', url: HF('hugging-quants/Llama-3.2-1B-Instruct-Q4_K_M-GGUF', 'llama-3.2-1b-instruct-q4_k_m.gguf'),
    bytes: 770.3e6, arch: 'llama', supported: false,
    note: 'Llama 3.2 1B, quantized to Q4_K_M (needs the K-quant kernels and Llama 3\'s RoPE scaling).',
  },
  {
    id: 'gemma3-270m', label: 'Gemma-3-270M-it (Q4_K_M, about 160 MB)', url: HF('unsloth/gemma-3-270m-it-GGUF', 'gemma-3-270m-it-Q4_K_M.gguf'),
    bytes: 160e6, arch: 'gemma3', supported: false,
    note: 'Gemma 3 270M (architecture gemma3: sliding-window attention, extra norms).',
  },
  {
    id: 'gpt2', label: 'GPT-2 124M (Q8_0, 178 MB)', url: HF('QuantFactory/gpt2-GGUF', 'gpt2.Q8_0.gguf'),
    bytes: 178e6, arch: 'gpt2', supported: false,
    note: 'OpenAI\'s GPT-2 small (architecture gpt2: LayerNorm, learned positions, GELU).',
  },
];

export const DEFAULT_MODEL = MODELS[0];

/** The picker entry whose URL is `url` (as typed or absolute), or null. */
export function modelByUrl(url) {
  const abs = (u) => { try { return new URL(u, globalThis.location?.href ?? 'http://localhost/').href; } catch { return u; } };
  const want = abs(url);
  return MODELS.find((m) => abs(m.url) === want) ?? null;
}
