// @ts-check
// Who is speaking. The server runs dominant-speaker detection on the RFC
// 6464 levels of every publisher (docs/speaker.md) and sends `activeSpeakers`
// events; the live level of each participant, for speaking rings, comes from
// the audio level extension the server writes into forwarded packets
// (RTCRtpReceiver.getSynchronizationSources) and from the local microphone.
// Against a server that sends no events, speakers are measured from stats.

/**
 * One entry of an `activeSpeakers` event.
 * @typedef {{sid: string, level: number}} SpeakerLevel
 */

/**
 * Maps a linear audio level (0..1, as RTCRtpSynchronizationSource.audioLevel
 * and stats report it: 10^(-dBov/20)) to a display level: -60 dBov and
 * below is 0, -10 dBov and above is 1, linear in dB between.
 * @param {number} linear
 * @returns {number}
 */
export function displayLevel(linear) {
  if (!(linear > 0)) return 0;
  const db = 20 * Math.log10(Math.min(1, linear));
  return Math.min(1, Math.max(0, (db + 60) / 50));
}

/** Sources whose last packet is older than this count as silent (ms). */
const STALE_MS = 500;

/**
 * @typedef {object} AudioSource a subscribed remote audio track, as far as levels go
 * @property {string} participantSid
 * @property {string} kind
 * @property {boolean} muted
 * @property {{getSynchronizationSources(): RTCRtpSynchronizationSource[]} | null} receiver
 */

/**
 * The display level of each remote participant, from the audio level of
 * the latest packet of each of its audio tracks.
 * @param {Iterable<AudioSource>} tracks
 * @param {{perf: number, wall: number}} now performance.now() and Date.now()
 * @returns {Map<string, number>} participant SID → 0..1
 */
export function remoteLevels(tracks, now) {
  /** @type {Map<string, number>} */
  const out = new Map();
  for (const t of tracks) {
    if (t.kind !== 'audio' || !t.receiver) continue;
    let level = 0;
    if (!t.muted) {
      for (const s of t.receiver.getSynchronizationSources()) {
        // Chrome's timestamps are wall-clock milliseconds; the spec's were relative to timeOrigin.
        const age = s.timestamp > 1e12 ? now.wall - s.timestamp : now.perf - s.timestamp;
        if (age <= STALE_MS) level = Math.max(level, displayLevel(s.audioLevel ?? 0));
      }
    }
    out.set(t.participantSid, Math.max(out.get(t.participantSid) ?? 0, level));
  }
  return out;
}

/**
 * @typedef {object} SpeakerEvents
 * @property {(sids: string[]) => void} activeSpeakersChanged
 * @property {(sid: string) => void} dominantSpeakerChanged
 * @property {(levels: Object<string, number>) => void} audioLevels
 */

/** The speaker state of a room, turned into the room's events. */
export class Speakers {
  /** @param {SpeakerEvents} ev */
  constructor(ev) {
    this.ev = ev;
    /** @type {string[]} participant SIDs, loudest first */
    this.active = [];
    /** the participant SID of the dominant speaker, "" while there is none */
    this.dominant = '';
    /** whether the server sends activeSpeakers (then stats-based detection stops) */
    this.fromServer = false;
    /** @type {Object<string, number>} the last levels emitted */
    this.levels = {};
  }

  /**
   * Applies an `activeSpeakers` event.
   * @param {{dominant?: string, speakers?: SpeakerLevel[]}} m
   */
  onServer(m) {
    this.fromServer = true;
    this.setActive((m.speakers || []).filter((s) => s && s.sid).map((s) => s.sid));
    this.setDominant(m.dominant || '');
  }

  /**
   * Speakers measured by the client; ignored once the server reports them.
   * @param {string[]} sids
   */
  onMeasured(sids) {
    if (!this.fromServer) this.setActive(sids);
  }

  /**
   * @private
   * @param {string[]} sids
   */
  setActive(sids) {
    if (sids.length === this.active.length && sids.every((s, i) => s === this.active[i])) return;
    this.active = sids;
    this.ev.activeSpeakersChanged(sids);
  }

  /** @param {string} sid */
  setDominant(sid) {
    if (sid === this.dominant) return;
    this.dominant = sid;
    this.ev.dominantSpeakerChanged(sid);
  }

  /**
   * A participant went away: it is no longer speaking. (The server names
   * the next dominant speaker itself.)
   * @param {string} sid
   */
  forget(sid) {
    if (this.active.includes(sid)) this.setActive(this.active.filter((s) => s !== sid));
  }

  /**
   * Emits `audioLevels` when a level moved by more than 0.02 or the set of
   * participants changed.
   * @param {Map<string, number>} levels
   */
  setLevels(levels) {
    const next = Object.fromEntries([...levels].map(([k, v]) => [k, Math.round(v * 100) / 100]));
    const keys = Object.keys(next);
    const same = keys.length === Object.keys(this.levels).length
      && keys.every((k) => k in this.levels && Math.abs(this.levels[k] - next[k]) <= 0.02);
    if (same) return;
    this.levels = next;
    this.ev.audioLevels(next);
  }
}
