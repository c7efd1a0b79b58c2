// examples.js - small built-in datasets a learner can load with one click.
// Written for this project (no external text). Each is small enough to read and to type, and
// each shows one of the three input formats the page accepts.
//
// The default model, stories260K, was trained only on simple children's stories, so the
// examples use that kind of language: the model can then learn them in a few dozen steps.

export const EXAMPLES = [
  {
    id: 'stories',
    title: 'Stories about Max the dog',
    format: 'text',
    short: 'plain text · a story style',
    blurb: 'Plain text, one story per paragraph. The prompt learns to steer every story towards Max and the sea.',
    suggestedPrompt: 'Once upon a time',
    text: `Once upon a time, there was a dog named Max. Max loved the sea. Every day he ran to the beach and jumped in the waves.

Once upon a time, there was a happy dog named Max. He lived by the sea. He liked to dig in the sand and bark at the big waves.

Once upon a time, a little dog named Max went to the sea with his friend Sue. They played in the water all day and were very happy.

Once upon a time, there was a dog named Max who had a red ball. He took the ball to the sea. The waves took the ball, and Max swam to get it back.

Once upon a time, Max the dog saw a boat on the sea. He wanted to go on the boat. The man on the boat said yes, and Max was so happy.

Once upon a time, there was a dog named Max. One day the sea was cold and grey. Max stayed in his warm bed and dreamed of the sun.

Once upon a time, a dog named Max found a shell by the sea. It was pink and shiny. He gave the shell to his mom, and she smiled.

Once upon a time, there was a brave dog named Max. He saw a little fish in a pool by the sea. Max helped the fish swim back to the water.`,
  },
  {
    id: 'sentiment',
    title: 'Happy or sad?',
    format: 'jsonl',
    short: 'JSONL · a labelling task',
    blurb: 'JSONL with input and output. Loss is only counted on the answer, so the prompt learns a task: label the feeling of a sentence.',
    suggestedPrompt: 'Lily got a new toy and she smiled. Feeling:',
    text: [
      ['Lily got a big red ball and she smiled.', 'happy'],
      ['Tom lost his toy car and he cried.', 'sad'],
      ['The sun was warm and the kids played all day.', 'happy'],
      ['The little bird broke its wing and could not fly.', 'sad'],
      ['Mom made a yummy cake for Sue.', 'happy'],
      ['Ben fell down and hurt his knee.', 'sad'],
      ['The friends laughed and danced in the park.', 'happy'],
      ['The rain came and the picnic was ruined.', 'sad'],
      ['Max found his lost bone and wagged his tail.', 'happy'],
      ['Anna was alone and nobody came to play.', 'sad'],
      ['Dad gave Tim a hug and a shiny star.', 'happy'],
      ['The cat was hungry and cold in the dark.', 'sad'],
      ['The girl won the race and everyone cheered.', 'happy'],
      ['The boy dropped his ice cream on the ground.', 'sad'],
      ['They saw a rainbow and shouted with joy.', 'happy'],
      ['The old tree fell and the birds had no home.', 'sad'],
    ].map(([s, label]) => JSON.stringify({ input: `${s} Feeling:`, output: ` ${label}` })).join('\n'),
  },
  {
    id: 'opposites',
    title: 'Opposites',
    format: 'csv',
    short: 'CSV · a word game',
    blurb: 'CSV with input,output columns. A tiny word game: say the opposite.',
    suggestedPrompt: 'The opposite of up is',
    text: `input,output
The opposite of big is, small
The opposite of hot is, cold
The opposite of day is, night
The opposite of happy is, sad
The opposite of fast is, slow
The opposite of up is, down
The opposite of yes is, no
The opposite of open is, closed
The opposite of wet is, dry
The opposite of old is, new
The opposite of in is, out
The opposite of good is, bad`,
  },
];

export function exampleById(id) {
  return EXAMPLES.find((e) => e.id === id) ?? null;
}
