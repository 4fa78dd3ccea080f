// @ts-check
// Remote audio through WebAudio, so each participant gets a volume and a
// stereo position: MediaStreamAudioSourceNode → GainNode → StereoPannerNode.
// Chrome only feeds a remote WebRTC stream into WebAudio while the stream is
// also attached to a media element, so each track keeps a muted <audio>.

/**
 * @typedef {object} Chain
 * @property {string} participantSid
 * @property {HTMLAudioElement} element
 * @property {MediaStreamAudioSourceNode} source
 * @property {GainNode} gain
 * @property {StereoPannerNode} pan
 */

export class AudioMixer {
  /**
   * @param {HTMLElement} sinks where the muted <audio> elements live
   * @param {AudioContext} ctx
   */
  constructor(sinks, ctx) {
    this.sinks = sinks;
    this.ctx = ctx;
    /** @type {Map<string, Chain>} by track SID */
    this.chains = new Map();
    /** @type {Map<string, {volume: number, pan: number}>} by participant SID */
    this.settings = new Map();
  }

  /** Resumes the context; browsers start it suspended without a user gesture. */
  resume() {
    if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
  }

  /**
   * @param {string} participantSid
   * @param {string} trackSid
   * @param {MediaStream} stream
   */
  attach(participantSid, trackSid, stream) {
    this.detach(trackSid);
    const element = document.createElement('audio');
    element.muted = true;
    element.autoplay = true;
    element.srcObject = stream;
    element.dataset.trackSid = trackSid;
    element.dataset.participantSid = participantSid;
    this.sinks.append(element);
    element.play().catch(() => {});
    const source = this.ctx.createMediaStreamSource(stream);
    const gain = this.ctx.createGain();
    const pan = this.ctx.createStereoPanner();
    source.connect(gain).connect(pan).connect(this.ctx.destination);
    const s = this.settings.get(participantSid);
    if (s) {
      gain.gain.value = s.volume;
      pan.pan.value = s.pan;
    }
    this.chains.set(trackSid, { participantSid, element, source, gain, pan });
    this.resume();
  }

  /** @param {string} trackSid */
  detach(trackSid) {
    const c = this.chains.get(trackSid);
    if (!c) return;
    c.source.disconnect();
    c.gain.disconnect();
    c.pan.disconnect();
    c.element.srcObject = null;
    c.element.remove();
    this.chains.delete(trackSid);
  }

  /**
   * Sets the volume (0..2) and stereo position (-1 left .. 1 right) of every
   * track of a participant.
   * @param {string} participantSid
   * @param {{volume?: number, pan?: number}} v
   */
  set(participantSid, v) {
    const s = { volume: 1, pan: 0, ...this.settings.get(participantSid), ...v };
    this.settings.set(participantSid, s);
    const now = this.ctx.currentTime;
    for (const c of this.chains.values()) {
      if (c.participantSid !== participantSid) continue;
      c.gain.gain.setTargetAtTime(s.volume, now, 0.02);
      c.pan.pan.setTargetAtTime(s.pan, now, 0.02);
    }
  }

  /** @param {string} participantSid */
  hasAudio(participantSid) {
    for (const c of this.chains.values()) if (c.participantSid === participantSid) return true;
    return false;
  }

  close() {
    for (const sid of [...this.chains.keys()]) this.detach(sid);
    this.ctx.close().catch(() => {});
  }
}
