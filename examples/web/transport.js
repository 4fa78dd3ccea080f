// @ts-check
// One RTCPeerConnection and its trickle-ICE bookkeeping. The publish
// transport offers (one negotiation in flight, the next one coalesced); the
// subscribe transport answers the server's offers in arrival order.

/** @typedef {'publish' | 'subscribe'} Target */

/**
 * A media section of an SDP, reduced to what the client needs.
 * @typedef {{mid: string, direction: RTCRtpTransceiverDirection, msidStream: string}} MediaSection
 */

/**
 * Lists the m-sections of an SDP with their mid and direction (a rejected
 * section, port 0, counts as inactive).
 * @param {string} sdp
 * @returns {MediaSection[]}
 */
export function mediaSections(sdp) {
  /** @type {MediaSection[]} */
  const out = [];
  for (const section of sdp.split(/\r?\n(?=m=)/).slice(1)) {
    const mid = /^a=mid:(\S+)/m.exec(section);
    if (!mid) continue;
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(section);
    /** @type {RTCRtpTransceiverDirection} */
    let direction = dir ? /** @type {RTCRtpTransceiverDirection} */ (dir[1]) : 'sendrecv';
    if (/^m=\S+ 0 /.test(section)) direction = 'inactive';
    const msid = /^a=msid:(\S+)/m.exec(section);
    out.push({ mid: mid[1], direction, msidStream: msid ? msid[1] : '' });
  }
  return out;
}

export class Transport {
  /**
   * @param {Target} target
   * @param {RTCConfiguration} config
   * @param {(target: Target, c: RTCIceCandidateInit) => void} sendCandidate
   */
  constructor(target, config, sendCandidate) {
    this.target = target;
    this.pc = new RTCPeerConnection(config);
    /** when this connection was made, to tell a re-join's connections from the first ones */
    this.created = Date.now();
    this.sendCandidate = sendCandidate;
    /** @type {RTCIceCandidateInit[]} remote candidates waiting for a remote description */
    this.remoteQueue = [];
    /** @type {RTCIceCandidateInit[] | null} local candidates held until our SDP is sent */
    this.localQueue = [];
    this.negotiating = false;
    this.renegotiate = false;
    /** the next offer carries new ICE credentials */
    this.restartPending = false;
    /** ICE restarts this side asked for */
    this.restarts = 0;
    /** server offers received and not yet applied */
    this.applying = 0;
    /** @type {Promise<void>} */
    this.chain = Promise.resolve();
    this.pc.onicecandidate = (ev) => {
      const c = ev.candidate ? ev.candidate.toJSON() : { candidate: '' };
      if (this.localQueue) this.localQueue.push(c);
      else this.sendCandidate(this.target, c);
    };
  }

  /** Sends the local candidates held back until the server had our SDP. */
  releaseLocalCandidates() {
    const q = this.localQueue;
    this.localQueue = null;
    for (const c of q || []) this.sendCandidate(this.target, c);
  }

  /**
   * Adds a remote candidate now, or once the description it belongs to is
   * set: while an offer or answer is being applied, a candidate of a new ICE
   * generation (after a restart) would be refused by the old one.
   * @param {RTCIceCandidateInit} c
   */
  async addRemoteCandidate(c) {
    if (!this.pc.remoteDescription || this.pc.signalingState === 'have-local-offer' || this.applying > 0) {
      this.remoteQueue.push(c);
      return;
    }
    await this.addCandidate(c);
  }

  /**
   * @private
   * @param {RTCIceCandidateInit} c
   */
  async addCandidate(c) {
    try {
      // An empty candidate string is the end-of-candidates marker.
      await this.pc.addIceCandidate(c.candidate ? c : undefined);
    } catch (err) {
      console.warn(`hibiki: ${this.target} candidate refused`, err);
    }
  }

  /** @private */
  async flushRemoteCandidates() {
    const q = this.remoteQueue;
    this.remoteQueue = [];
    for (const c of q) await this.addCandidate(c);
  }

  /**
   * Runs one publish negotiation at a time; a call while one is in flight
   * makes exactly one more run after it. An offer left unanswered (its
   * socket dropped) is sent again as it is, unless an ICE restart is due.
   * @param {(sdp: string) => Promise<string>} exchange sends the offer, resolves with the answer SDP
   * @returns {Promise<void>}
   */
  negotiate(exchange) {
    if (this.negotiating) {
      this.renegotiate = true;
      return this.chain;
    }
    this.negotiating = true;
    this.chain = (async () => {
      try {
        do {
          this.renegotiate = false;
          const answer = await exchange(await this.localOffer());
          this.releaseLocalCandidates();
          if (this.pc.signalingState === 'closed') return;
          await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
          await this.flushRemoteCandidates();
        } while (this.renegotiate);
      } finally {
        this.negotiating = false;
      }
    })();
    return this.chain;
  }

  /**
   * The offer to send: the pending one again, or a new one.
   * @private
   * @returns {Promise<string>}
   */
  async localOffer() {
    const pending = this.pc.signalingState === 'have-local-offer' ? this.pc.localDescription : null;
    if (pending && !this.restartPending) return pending.sdp;
    const iceRestart = this.restartPending;
    this.restartPending = false;
    await this.pc.setLocalDescription(await this.pc.createOffer({ iceRestart }));
    const local = this.pc.localDescription;
    if (!local) throw new Error('no local description');
    return local.sdp;
  }

  /**
   * Renegotiates with new ICE credentials (the offerer's side of an ICE
   * restart); joins a negotiation in flight as its follow-up.
   * @param {(sdp: string) => Promise<string>} exchange
   * @returns {Promise<void>}
   */
  restartIce(exchange) {
    this.restartPending = true;
    this.restarts++;
    this.pc.restartIce();
    return this.negotiate(exchange);
  }

  /**
   * Answers one server offer; offers are handled strictly in order.
   * @param {string} sdp
   * @param {() => void} afterRemote runs between setRemoteDescription and createAnswer
   * @param {(sdp: string) => void} sendAnswer
   * @returns {Promise<void>}
   */
  answer(sdp, afterRemote, sendAnswer) {
    this.applying++;
    this.chain = this.chain.catch(() => {}).then(async () => {
      try {
        if (this.pc.signalingState === 'closed') return;
        await this.pc.setRemoteDescription({ type: 'offer', sdp });
      } finally {
        this.applying--;
      }
      afterRemote();
      await this.flushRemoteCandidates();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      sendAnswer(answer.sdp || '');
      this.releaseLocalCandidates();
    });
    return this.chain;
  }

  close() {
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.close();
  }
}
