import { randomInt } from "node:crypto";

// MLflow names unnamed runs "adjective-noun-NNN"; people recognise runs by these in lists and charts.
const ADJECTIVES = [
  "agile",
  "bold",
  "brave",
  "bright",
  "calm",
  "clever",
  "eager",
  "gentle",
  "keen",
  "lucky",
  "merry",
  "quick",
  "quiet",
  "sharp",
  "swift",
  "wise",
];
const NOUNS = [
  "ant",
  "bass",
  "crane",
  "deer",
  "eel",
  "finch",
  "fox",
  "gull",
  "hare",
  "lark",
  "lynx",
  "moth",
  "owl",
  "seal",
  "wolf",
  "wren",
];

export function generateRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000)}`;
}
