// privacy-flow.mjs - a whole user session with the public API, for tests/privacy.test.js:
// load a model from a URL, inspect it, tokenize, generate, preview data, tune (with eval and a
// checkpoint), save and reload the prompt, nearest tokens, evaluate, free.
//   node --import ./tests/lib/net-spy.mjs tests/lib/privacy-flow.mjs <model-url> worker|inline
import { Softprompt } from '../../web/softprompt.js';

const [url, mode] = process.argv.slice(2);
const data = [
  'Once upon a time, there was a dog named Max. Max loved the sea.',
  'Once upon a time, there was a happy dog named Max. He lived by the sea.',
  'Once upon a time, a little dog named Max went to the sea with his friend Sue.',
  'Once upon a time, a dog named Max found a shell by the sea.',
].join('\n\n');

const sp = await Softprompt.create({ threads: 2, worker: mode !== 'inline' });
const model = await sp.loadModel(url, { onProgress: () => {} });
await model.tokenize('Once upon a time');
let text = '';
for await (const piece of model.generate('Once upon a time', { maxTokens: 20, temperature: 0 })) text += piece;
await model.dataPreview(data);
const job = model.tune({ data, virtualTokens: 4, steps: 4, batchSize: 2, maxLength: 32, evalSplit: 0.25, evalEvery: 2, checkpointEvery: 2 });
job.on('progress', () => {});
const { best } = await job.done;
const files = await best.save();
const again = await model.loadAdapter(files);
await again.nearest(3);
await model.evaluate(data, { adapter: again, maxLength: 32 });
await model.generate('Once', { maxTokens: 10, adapter: again, temperature: 0 });
await model.free();
sp.terminate();
process.stdout.write(JSON.stringify({ ok: true, text }) + '\n');
