/** Whether a password (lower case) is one of the most common ones. */
export type CommonPasswordCheck = (candidate: string) => boolean;

let loaded: Promise<CommonPasswordCheck> | undefined;

/**
 * The list of common passwords that zxcvbn-ts ships (about 49,000, from public leaks), offline.
 * Loaded on the first registration rather than at start: decompressing it takes a few hundred
 * milliseconds that a worker's start, and the clients waiting on it, should not pay.
 */
export function commonPasswords(): Promise<CommonPasswordCheck> {
  loaded ??= import("@zxcvbn-ts/language-common").then(({ dictionary }) => {
    const common = new Set(dictionary["passwords-common"].map((word) => word.toLowerCase()));
    return (candidate) => common.has(candidate);
  });
  return loaded;
}
