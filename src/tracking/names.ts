/** Generated run names, `<adjective>-<noun>-<n>` like MLflow's. */
import { randomInt } from "node:crypto";

const ADJECTIVES = [
  "able", "amazing", "bold", "brave", "bright", "calm", "capable", "casual", "classy", "clean", "clever", "crisp",
  "dapper", "eager", "fearless", "gentle", "glamorous", "grandiose", "honest", "indecisive", "judicious", "kindly",
  "languid", "likeable", "lyrical", "merciful", "nebulous", "orderly", "peaceful", "polite", "resilient", "rogue",
  "sassy", "secretive", "silent", "skillful", "smiling", "spiffy", "stylish", "suave", "thoughtful", "traveling",
  "trusting", "unequaled", "upbeat", "valuable", "vaunted", "victorious", "welcoming", "whimsical", "wise", "zealous",
];
const NOUNS = [
  "ant", "ape", "asp", "bass", "bat", "bear", "bird", "boar", "bug", "calf", "carp", "cat", "chimp", "cod", "colt",
  "conch", "cow", "crab", "crane", "croc", "crow", "cub", "deer", "doe", "dog", "dolphin", "donkey", "dove", "duck",
  "eel", "elk", "fawn", "finch", "fish", "flea", "fly", "foal", "fowl", "fox", "frog", "gnat", "gnu", "goat", "goose",
  "grouse", "grub", "gull", "hare", "hawk", "hen", "hog", "horse", "hound", "jay", "kit", "kite", "koi", "lamb",
  "lark", "loon", "lynx", "mare", "midge", "mink", "mole", "moose", "moth", "mouse", "mule", "newt", "owl", "ox",
  "panda", "penguin", "perch", "pig", "pug", "quail", "ram", "rat", "ray", "robin", "roo", "rook", "seal", "shad",
  "shark", "sheep", "shoat", "shrew", "shrike", "shrimp", "skink", "skunk", "sloth", "slug", "smelt", "snail",
  "snake", "snipe", "sow", "sponge", "squid", "squirrel", "stag", "steed", "stoat", "stork", "swan", "tern", "toad",
  "trout", "turtle", "vole", "wasp", "whale", "wolf", "worm", "wren", "yak", "zebra",
];

export function generateRunName(): string {
  const pick = (xs: readonly string[]) => xs[randomInt(xs.length)] as string;
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${randomInt(1000)}`;
}
