import type { PipeName, UserId } from '../domain.js';

/**
 * CppComet's rules for channel ("pipe"), event and marker names, and the prefixes that give a pipe its
 * meaning. CometQL and the gateway each word their own errors for a broken rule.
 */

export const NAME_CHARACTERS = /^[A-Za-z0-9_-]+$/;
export const MAX_NAME_LENGTH = 64;
/** CometQL refused shorter pipe names (ERR 17). */
export const MIN_PIPE_NAME_LENGTH = 3;

export type NameProblem = 'too-short' | 'too-long' | 'characters';

export function nameProblem(name: string, minLength: number): NameProblem | undefined {
  if (name.length > MAX_NAME_LENGTH) return 'too-long';
  if (name.length < minLength) return 'too-short';
  if (!NAME_CHARACTERS.test(name)) return 'characters';
  return undefined;
}

export const pipeNameProblem = (name: string): NameProblem | undefined => nameProblem(name, MIN_PIPE_NAME_LENGTH);
export const isValidPipeName = (name: string): boolean => pipeNameProblem(name) === undefined;

/** Browsers may publish to these; `webauth_` only when authenticated. */
export const isWebPipe = (pipe: PipeName): boolean => pipe.startsWith('web_');
export const isWebAuthPipe = (pipe: PipeName): boolean => pipe.startsWith('webauth_');
/** Subscribers hear who subscribes and unsubscribes. */
export const isTrackPipe = (pipe: PipeName): boolean => pipe.startsWith('track_');
/** Keeps 120 s of history without a pipes_settings row. */
export const isTrustPipe = (pipe: PipeName): boolean => pipe.startsWith('trust_');
/** Only authenticated users may subscribe. */
export const isPrivatePipe = (pipe: PipeName): boolean => pipe.startsWith('private_');

/** Where a user's online/offline notices go. */
export const userStatusPipe = (userId: UserId): PipeName => `user_status_${userId}`;
/** Where a browser hears how its web_pipe2 message went. */
export const answerPipe = (pipe: PipeName): PipeName => `_answer_to_${pipe}`;
