import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * The ~49,000 most common passwords from breach corpora, as zxcvbn-ts ships
 * them (lower-case). Compared case-insensitively: "Password1" is as guessable
 * as "password1".
 */
const COMMON = new Set(dictionary['passwords-common']);

export const isCommonPassword = (password: string): boolean => COMMON.has(password.toLowerCase());
