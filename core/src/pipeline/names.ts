/**
 * Random job names in the `adjective_surname<digit>` style users know from Docker and Cedana.
 */
import { randomInt } from 'node:crypto';

const adjectives = [
  'agile', 'amazing', 'bold', 'brave', 'bright', 'calm', 'clever', 'cool', 'crisp', 'curious', 'daring', 'eager',
  'elated', 'epic', 'fervent', 'fond', 'frosty', 'gallant', 'gentle', 'happy', 'hardy', 'humble', 'jolly', 'keen',
  'kind', 'lucid', 'merry', 'modest', 'nifty', 'noble', 'patient', 'peaceful', 'personal', 'plucky', 'proud',
  'quick', 'quiet', 'relaxed', 'serene', 'sharp', 'steady', 'stoic', 'sunny', 'swift', 'tender', 'trusting',
  'upbeat', 'vibrant', 'vigilant', 'witty', 'zealous',
];

const surnames = [
  'babbage', 'bardeen', 'bohr', 'boole', 'cerf', 'curie', 'darwin', 'dijkstra', 'einstein', 'euler', 'faraday',
  'fermat', 'feynman', 'gauss', 'germain', 'goldberg', 'hamilton', 'hawking', 'hopper', 'hypatia', 'kepler',
  'knuth', 'lamport', 'liskov', 'lovelace', 'maxwell', 'meitner', 'mirzakhani', 'newton', 'noether', 'pascal',
  'perlman', 'planck', 'ritchie', 'shannon', 'sinoussi', 'tesla', 'thompson', 'torvalds', 'turing', 'wiles',
  'wing', 'wozniak', 'yalow',
];

function pick<T>(list: readonly T[]): T {
  return list[randomInt(list.length)];
}

/** A random name such as `personal_hopper9`. */
export function randomJobName(): string {
  return `${pick(adjectives)}_${pick(surnames)}${randomInt(10)}`;
}
