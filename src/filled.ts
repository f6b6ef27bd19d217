/**
 * `T` with every key given a value: `Required<T>`, and `undefined` taken out of each, where an option's type
 * allows it as "not given" (`exactOptionalPropertyTypes` keeps it in `Required`).
 *
 * @example
 * ```ts
 * import type { Filled } from "./filled.ts";
 * const limits: Filled<{ maxEvents?: number | undefined }> = { maxEvents: 1000 };
 * ```
 */
export type Filled<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
