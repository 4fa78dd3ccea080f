// @ts-check
// The Room's periodic measurements: the `stats` event (rates from both peer
// connections' reports), speaker detection from those stats for servers that
// send no `activeSpeakers`, and the level of every participant for speaking
// rings. Owns the two timers and the WebAudio meter; the Room hands it what
// it reads through RoomStatsSource.

import { rates, speakersOf, LevelMeter } from './stats.js';
import { remoteLevels, displayLevel } from './speakers.js';

/** @typedef {import('./stats.js').Summary} Summary */
/** @typedef {import('./stats.js').LiveStats} LiveStats */
/** @typedef {import('./types.js').RoomOptions} RoomOptions */

/**
 * What RoomStats reads from the Room.
 * @typedef {object} RoomStatsSource
 * @property {() => import('./types.js').ConnectionState} state
 * @property {() => Promise<Summary>} summary both reports as plain objects (Room.statsSummary)
 * @property {(live: LiveStats) => void} emit the `stats` event
 * @property {import('./speakers.js').Speakers} speakers
 * @property {import('./remote.js').Remotes} remotes
 * @property {() => Iterable<import('./local.js').LocalTrack>} localTracks
 * @property {() => string} localSid the local participant's SID
 */

export class RoomStats {
  /**
   * @param {RoomStatsSource} src
   * @param {RoomOptions} opts
   */
  constructor(src, opts) {
    this.src = src;
    this.opts = opts;
    /** @type {Summary | null} */
    this.prevSummary = null;
    /** the local microphone's level from the last stats */
    this.lastLocalLevel = 0;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.statsTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.levelTimer = undefined;
    /** measures decoded audio when the page gave an AudioContext */
    this.meter = opts.audioContext ? new LevelMeter(opts.audioContext) : null;
    /** the microphone track the meter measures as the local level */
    this.meteredMic = '';
  }

  /** Starts the `stats` and level timers. */
  start() {
    this.statsTimer = setInterval(() => this.pollStats(), this.opts.statsIntervalMs ?? 500);
    this.levelTimer = setInterval(() => this.pollLevels(), this.opts.levelIntervalMs ?? 100);
  }

  /** Stops the timers and the meter. */
  stop() {
    clearInterval(this.statsTimer);
    clearInterval(this.levelTimer);
    this.meter?.close();
  }

  /** @private Emits `stats` and works out who is speaking. */
  async pollStats() {
    if (this.src.state() !== 'connected') return;
    let cur;
    try {
      cur = await this.src.summary();
    } catch {
      return;
    }
    const live = rates(cur, this.prevSummary);
    this.prevSummary = cur;
    this.src.emit(live);
    this.detectSpeakers(live);
  }

  /**
   * Client-side speaker detection from stats, for servers that send no
   * `activeSpeakers`.
   * @private
   * @param {LiveStats} live
   */
  detectSpeakers(live) {
    this.lastLocalLevel = live.localAudioLevel;
    const { speakers, remotes } = this.src;
    if (speakers.fromServer) return;
    const micOn = [...this.src.localTracks()].some((lt) => lt.kind === 'audio' && !lt.muted);
    if (this.meter) {
      for (const [sid, q] of Object.entries(live.tracks)) q.audioLevel = Math.max(q.audioLevel, this.meter.level(sid));
    }
    speakers.onMeasured(speakersOf(live, {
      threshold: this.opts.speakingThreshold ?? 0.02,
      localSid: micOn ? this.src.localSid() : '',
      ownerOf: (sid) => {
        const t = remotes.track(sid);
        return t && t.kind === 'audio' && !t.muted ? t.participantSid : '';
      },
    }));
  }

  /** @private Sets every participant's level, for speaking rings (`audioLevels`). */
  pollLevels() {
    const state = this.src.state();
    if (state !== 'connected' && state !== 'reconnecting') return;
    const participants = this.src.remotes.participants;
    const tracks = [...participants.values()].flatMap((p) => [...p.tracks.values()]);
    const levels = remoteLevels(tracks, { perf: performance.now(), wall: Date.now() });
    for (const p of participants.values()) if (!levels.has(p.sid)) levels.set(p.sid, 0);
    const me = this.src.localSid();
    if (me) levels.set(me, this.localLevel());
    this.src.speakers.setLevels(levels);
  }

  /**
   * @private
   * @returns {number} the display level of the unmuted local microphone
   */
  localLevel() {
    const mic = [...this.src.localTracks()].find((lt) => lt.kind === 'audio' && lt.source === 'microphone');
    if (!mic || mic.muted) return 0;
    if (!this.meter) return displayLevel(this.lastLocalLevel ?? 0);
    if (this.meteredMic !== mic.track.id) {
      this.meteredMic = mic.track.id;
      this.meter.attach('local', new MediaStream([mic.track]));
    }
    return displayLevel(this.meter.level('local'));
  }
}
