// @ts-check
// A small typed event emitter: a handler that throws is logged and does not
// stop the others.

/**
 * @template {{[name: string]: any[]}} E map of event name to argument tuple
 */
export class Emitter {
  constructor() {
    /** @type {Map<keyof E, Set<Function>>} */
    this.handlers = new Map();
  }

  /**
   * Registers a handler; returns a function that removes it.
   * @template {keyof E} K
   * @param {K} name
   * @param {(...args: E[K]) => void} fn
   * @returns {() => void}
   */
  on(name, fn) {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(fn);
    return () => this.off(name, fn);
  }

  /**
   * @template {keyof E} K
   * @param {K} name
   * @param {(...args: E[K]) => void} fn
   */
  off(name, fn) {
    this.handlers.get(name)?.delete(fn);
  }

  /**
   * @protected
   * @template {keyof E} K
   * @param {K} name
   * @param {E[K]} args
   */
  emit(name, ...args) {
    for (const fn of [...(this.handlers.get(name) || [])]) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`hibiki: ${String(name)} handler failed`, err);
      }
    }
  }
}
