/**
 * Many subscribers over one set of process listeners: the listeners are
 * installed with the first subscriber and removed with the last, so the
 * number of listeners the package holds on the process never grows with the
 * number of handlers (Node.js warns past ten, and each costs memory).
 *
 * @module
 */

/**
 * A set of subscribers sharing one installation of process listeners.
 *
 * @example
 * ```ts
 * import { Subscribers } from "./subscribers.ts";
 * const onTick = new Subscribers<() => void>((members) => {
 *   const timer = setInterval(() => members.forEach((member) => member()), 1000);
 *   return () => clearInterval(timer);
 * });
 * const unsubscribe = onTick.add(() => console.log("tick"));
 * unsubscribe();
 * ```
 */
export class Subscribers<T> {
  readonly #members = new Set<T>();
  readonly #install: (members: ReadonlySet<T>) => () => void;
  #uninstall: (() => void) | undefined;

  /**
   * @param install Installs the process listeners, which reach the members through the set it is given;
   *   returns what removes them.
   */
  constructor(install: (members: ReadonlySet<T>) => () => void) {
    this.#install = install;
  }

  /**
   * Adds a subscriber, installing the listeners if it is the first.
   *
   * @param member The subscriber.
   * @returns A function that removes it (and the listeners, with the last one); calling it again does nothing.
   */
  add(member: T): () => void {
    this.#members.add(member);
    try {
      this.#uninstall ??= this.#install(this.#members);
    } catch (error) {
      this.#members.delete(member); // no listener to call it
      throw error;
    }
    return () => {
      if (!this.#members.delete(member) || this.#members.size > 0) return;
      this.#uninstall?.();
      this.#uninstall = undefined;
    };
  }

  /** Removes every subscriber and the listeners. */
  clear(): void {
    this.#members.clear();
    this.#uninstall?.();
    this.#uninstall = undefined;
  }
}

/**
 * Calls each member, swallowing what it throws. The set is read as it goes: a member added while members are called
 * is called too (at the process's exit, a handler stopped earlier hooks in again for an event recorded then), and
 * one removed before its turn is not.
 *
 * @param members The members.
 * @param call What to do with each.
 * @returns Whether any call returned `true`.
 * @example
 * ```ts
 * import { callEach } from "./subscribers.ts";
 * callEach(new Set([() => true]), (hook) => hook()); // true
 * ```
 */
export function callEach<T>(members: ReadonlySet<T>, call: (member: T) => unknown): boolean {
  let any = false;
  for (const member of members) {
    try {
      if (call(member) === true) any = true;
    } catch {
      // Nothing a hook does may reach the host program.
    }
  }
  return any;
}
