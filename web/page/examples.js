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

Once upon a time, there was a brave dog named Max. He saw a little fish in a pool by the sea. Max helped the fish swim back to the water.

Once upon a time, there was a dog named Max. He saw a crab on the sand by the sea. The crab was funny, and Max barked and played with it.

Once upon a time, a dog named Max and a girl named Lily went to the sea. They made a big castle of sand. Then the waves came and Max barked.

Once upon a time, there was a sleepy dog named Max. He lay in the sun by the sea and listened to the waves. He was warm and happy.

Once upon a time, there was a dog named Max who wanted to swim far. He swam out in the sea, but the water was deep. He swam back to the sand and rested.

Once upon a time, a dog named Max saw a bird over the sea. The bird flew up and down. Max ran along the beach to follow it.

Once upon a time, there was a dog named Max. His friend Tom threw a stick into the sea. Max jumped in the water and brought the stick back.

Once upon a time, there was a wet dog named Max. He came home from the sea and shook the water off. Mom laughed and gave him a towel.

Once upon a time, there was a dog named Max who loved the sea more than anything. At night he looked at the moon over the water and was happy.`,
  },
  {
    id: 'who-had',
    title: 'Who had what?',
    format: 'jsonl',
    short: 'JSONL · questions and answers',
    blurb: 'JSONL with input and output. Only the answer counts towards the loss, so the prompt learns a task: answer in a full sentence, copying the name and the thing from the question. Try it with names it never saw.',
    suggestedPrompt: 'Pip had a cup. What did Pip have?',
    text: [
      ['Lily', 'ball'], ['Tom', 'cat'], ['Sue', 'kite'], ['Ben', 'cake'], ['Max', 'toy'], ['Anna', 'hat'],
      ['Tim', 'bird'], ['Mia', 'boat'], ['Sam', 'book'], ['Jack', 'dog'], ['Lucy', 'car'], ['Bob', 'doll'],
      ['Amy', 'star'], ['Kate', 'tree'], ['Joe', 'fish'], ['Sara', 'box'],
    ].map(([who, what]) => JSON.stringify({ input: `${who} had a ${what}. What did ${who} have?`, output: `${who} had a ${what}.` })).join('\n'),
  },
  {
    id: 'who-was-it',
    title: 'Who was it?',
    format: 'csv',
    short: 'CSV · a naming game',
    blurb: 'CSV with input,output columns. The prompt learns to answer "It was ..." with the name from the sentence. A model this small learns the shape of the answer first, and the copying later.',
    suggestedPrompt: 'The girl was called Zoe. Who was it?',
    text: `input,output
The girl was called Lily. Who was it?,It was Lily.
The boy was called Tom. Who was it?,It was Tom.
The girl was called Sue. Who was it?,It was Sue.
The boy was called Ben. Who was it?,It was Ben.
The dog was called Max. Who was it?,It was Max.
The girl was called Anna. Who was it?,It was Anna.
The boy was called Tim. Who was it?,It was Tim.
The girl was called Mia. Who was it?,It was Mia.
The boy was called Sam. Who was it?,It was Sam.
The cat was called Kitty. Who was it?,It was Kitty.
The girl was called Lucy. Who was it?,It was Lucy.
The boy was called Bob. Who was it?,It was Bob.
The girl was called Amy. Who was it?,It was Amy.
The bird was called Pip. Who was it?,It was Pip.
The boy was called Joe. Who was it?,It was Joe.
The girl was called Sara. Who was it?,It was Sara.`,
  },
];

export function exampleById(id) {
  return EXAMPLES.find((e) => e.id === id) ?? null;
}
