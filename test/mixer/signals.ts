/** Known colours and tones that test members send, and how to recognise them in what comes back. */
/** The colours test members send, by name. */
export const PALETTE: Record<string, [number, number, number]> = {
  red: [255, 0, 0],
  lime: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  magenta: [255, 0, 255],
  cyan: [0, 255, 255],
  white: [255, 255, 255],
  orange: [255, 128, 0],
  purple: [128, 0, 255],
};

/** BT.601 limited range, as FFmpeg converts RGB sources to yuv420p. */
export function yuvOf([r, g, b]: [number, number, number]): [number, number, number] {
  return [16 + 0.257 * r + 0.504 * g + 0.098 * b, 128 - 0.148 * r - 0.291 * g + 0.439 * b, 128 + 0.439 * r - 0.368 * g - 0.071 * b];
}

/** The name of the candidate nearest to a colour (squared distance over the components). */
export function nearestName(colour: readonly number[], candidates: readonly (readonly [string, readonly number[]])[]): string {
  let best = candidates[0]![0];
  let bestDistance = Infinity;
  for (const [name, value] of candidates) {
    const distance = value.reduce((sum, component, i) => sum + (component - colour[i]!) ** 2, 0);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

/** What a decoded RGB pixel of a composed picture can be: a member's colour, black, or a placeholder's grey. */
const RGB_CANDIDATES: [string, readonly number[]][] = [...Object.entries(PALETTE), ['black', [0, 0, 0]], ['placeholder', [60, 60, 60]]];

/** The name of what a decoded RGB pixel shows. */
export function rgbName(pixel: readonly number[]): string {
  return nearestName(pixel, RGB_CANDIDATES);
}

/** Goertzel power of one frequency, normalised to the signal length. */
export function tonePower(samples: Int16Array, frequency: number, sampleRate = 48_000): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (const sample of samples) {
    const current = sample / 32768 + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  return (previous ** 2 + beforePrevious ** 2 - coefficient * previous * beforePrevious) / Math.max(1, samples.length);
}

