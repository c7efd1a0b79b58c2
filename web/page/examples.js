// examples.js - small built-in datasets a learner can load with one click.
// Written for this project (no external text). Each is small enough to read and to type, and
// each shows one of the three input formats the page accepts.
//
// The default model, TinyStories-656K, was trained only on simple children's stories, so the
// examples use that kind of language: it learns each of them with the page's default settings
// (60 steps), which tests/browser-examples.test.js checks in a real browser. `needs` names the
// smallest model in the picker (page/models.js) that learns the example's task; the page offers
// it when a smaller one is loaded (stories260K learns the story style, not the tasks).

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
    id: 'happy-or-sad',
    title: 'Happy or sad?',
    format: 'jsonl',
    short: 'JSONL · two labels',
    needs: 'tinystories-656k',
    blurb: 'JSONL with input and output, and only two answers. Only the answer counts towards the loss, so the prompt learns a task: label a little story "happy" or "sad", and stop. With a small set of labels the page scores the held-out stories ("% right"). Not every label comes out right: the model is tiny.',
    suggestedPrompt: 'Sam found a lost puppy and took it home. Happy or sad?',
    text: [
      ['Tom got a new red bike for his birthday.', 'happy'], ['Lily lost her doll in the park.', 'sad'],
      ['Mia and her mom baked a big cake.', 'happy'], ['Ben fell down and hurt his knee.', 'sad'],
      ['The sun came out and the kids played all day.', 'happy'], ['It rained and Sue could not go to the beach.', 'sad'],
      ['Max found his lost ball under the bed.', 'happy'], ['The little bird broke its wing.', 'sad'],
      ['Anna won the race at school.', 'happy'], ['Tim dropped his ice cream on the floor.', 'sad'],
      ['Grandma came to visit with a gift.', 'happy'], ['Lucy\'s best friend moved far away.', 'sad'],
      ['The cat had three little kittens.', 'happy'], ['The toy boat sank in the pond.', 'sad'],
      ['Sam and Joe built a big sand castle.', 'happy'], ['Kate\'s kite got stuck in a tall tree.', 'sad'],
      ['Dad took the kids to the zoo.', 'happy'], ['The old dog was sick and could not play.', 'sad'],
      ['Amy got a puppy for her birthday.', 'happy'], ['Bob broke his mom\'s favorite cup.', 'sad'],
      ['The friends shared their cookies and laughed.', 'happy'], ['Jack was alone and nobody played with him.', 'sad'],
      ['Sara found a pretty shell on the beach.', 'happy'], ['The flowers in the garden all died.', 'sad'],
      ['Mom gave Lily a big hug.', 'happy'], ['Ben\'s balloon flew away.', 'sad'],
      ['The children sang and danced at the party.', 'happy'], ['Tom lost his shoe in the mud.', 'sad'],
      ['The bunny found a big carrot.', 'happy'], ['The snowman melted in the sun.', 'sad'],
      ['Mia learned to swim all by herself.', 'happy'], ['Sue cried because her fish was gone.', 'sad'],
      ['The boy and his dog played fetch in the park.', 'happy'], ['The bear could not find any food.', 'sad'],
      ['Anna painted a beautiful picture.', 'happy'], ['Tim\'s sand castle was washed away.', 'sad'],
      ['The farmer had a good day and sang a song.', 'happy'], ['Lucy\'s tower of blocks fell down.', 'sad'],
      ['Joe got a gold star from his teacher.', 'happy'], ['The little duck could not find its mom.', 'sad'],
    ].map(([i, o]) => JSON.stringify({ input: `${i} Happy or sad?`, output: o })).join('\n'),
  },
  {
    id: 'who-was-it',
    title: 'Who was it?',
    format: 'csv',
    short: 'CSV · a naming game',
    needs: 'tinystories-656k',
    blurb: 'CSV with input,output columns. The prompt learns to answer "It was ..." with the name from the sentence, and stop. A model this small learns the shape of the answer first, and the copying later: try names it never saw.',
    suggestedPrompt: 'The boy was called Pip. Who was it?',
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
