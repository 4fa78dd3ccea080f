// @ts-check
// Watches the ICE state of the publish connection, where the client is the
// offerer and so the one that must restart ICE (docs/protocol.md, "ICE
// restart"): at once when ICE fails, and after a grace period when it stays
// disconnected (a short outage often heals by itself, and a restart costs a
// renegotiation).

/**
 * @typedef {object} IceWatchOptions
 * @property {number} [graceMs] how long `disconnected` may last before a restart (default 2000)
 * @property {number} [minGapMs] least time between two restarts (default 3000)
 * @property {() => number} [now] clock, for tests
 */

export class IceWatch {
  /**
   * @param {{iceConnectionState: RTCIceConnectionState, addEventListener: (type: string, fn: () => void) => void,
   *   removeEventListener: (type: string, fn: () => void) => void}} pc
   * @param {(state: RTCIceConnectionState) => void} restart asked to restart ICE
   * @param {IceWatchOptions} [opts]
   */
  constructor(pc, restart, opts = {}) {
    this.pc = pc;
    this.restart = restart;
    this.graceMs = opts.graceMs ?? 2000;
    this.minGapMs = opts.minGapMs ?? 3000;
    this.now = opts.now ?? Date.now;
    this.lastRestart = -Infinity;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.onChange = () => this.check();
    pc.addEventListener('iceconnectionstatechange', this.onChange);
  }

  /** Looks at the state now; also called after a resume. */
  check() {
    const s = this.pc.iceConnectionState;
    if (s === 'failed') this.schedule(0);
    else if (s === 'disconnected') this.schedule(this.graceMs);
    else this.cancel();
  }

  /**
   * @private
   * @param {number} delay
   */
  schedule(delay) {
    if (this.timer !== undefined && delay > 0) return; // already counting down
    this.cancel();
    const wait = Math.max(delay, this.lastRestart + this.minGapMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const s = this.pc.iceConnectionState;
      if (s !== 'failed' && s !== 'disconnected') return;
      this.lastRestart = this.now();
      this.restart(s);
      // A restart that could not go out (no socket) or did not help leaves
      // the state where it was, with no event: look again later.
      this.timer = setTimeout(() => { this.timer = undefined; this.check(); }, this.minGapMs);
    }, Math.max(0, wait));
  }

  /** @private */
  cancel() {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  close() {
    this.cancel();
    this.pc.removeEventListener('iceconnectionstatechange', this.onChange);
  }
}
