// @ts-check
// What a client knows of the other participants: their tracks as announced by
// the server, and which of them are bound to a receiver of the subscribe
// connection (by the `mids` map of the server's offers).

import { mediaSections } from './transport.js';

/**
 * A simulcast layer as the publisher describes it.
 * @typedef {{rid: string, width?: number, height?: number}} Layer
 */

/**
 * A track as the server describes it (protocol `TrackInfo`).
 * @typedef {object} TrackInfo
 * @property {string} [sid]
 * @property {string} [cid]
 * @property {string} [kind]
 * @property {string} [source] camera, microphone, screen or screen_audio
 * @property {string} [name]
 * @property {boolean} [muted]
 * @property {boolean} [simulcast]
 * @property {number} [width]
 * @property {number} [height]
 * @property {string} [mimeType]
 * @property {Layer[]} [layers]
 */

/**
 * A participant as the server describes it (protocol `ParticipantInfo`).
 * @typedef {{sid: string, identity: string, name?: string, tracks?: TrackInfo[]}} ParticipantInfo
 */

/** A track another participant publishes. */
export class RemoteTrack {
  /**
   * @param {string} participantSid
   * @param {TrackInfo} info
   */
  constructor(participantSid, info) {
    this.sid = info.sid || '';
    this.participantSid = participantSid;
    /** @type {TrackInfo} */
    this.info = info;
    this.kind = info.kind || '';
    this.source = info.source || (this.kind === 'audio' ? 'microphone' : 'camera');
    this.name = info.name || '';
    this.muted = !!info.muted;
    /** true while the server forwards nothing because no layer fits the tile */
    this.paused = false;
    /** @type {MediaStreamTrack | null} set while subscribed */
    this.mediaTrack = null;
    /** @type {MediaStream | null} a stream holding only mediaTrack, for <video>/<audio> */
    this.stream = null;
    /** @type {RTCRtpReceiver | null} */
    this.receiver = null;
    /** @type {string | null} the mid of the subscribe m-line carrying it */
    this.mid = null;
  }

  /** @returns {boolean} whether media of this track is being received */
  get subscribed() {
    return this.mediaTrack !== null;
  }

  /** @param {TrackInfo} info */
  update(info) {
    this.info = { ...this.info, ...info };
    if (info.kind) this.kind = info.kind;
    if (info.source) this.source = info.source;
    if (info.name !== undefined) this.name = info.name;
    if (info.muted !== undefined) this.muted = !!info.muted;
  }
}

/** Another participant of the room. */
export class RemoteParticipant {
  /** @param {ParticipantInfo} info */
  constructor(info) {
    this.sid = info.sid;
    this.identity = info.identity || '';
    this.name = info.name || info.identity || '';
    /** @type {Map<string, RemoteTrack>} by track SID */
    this.tracks = new Map();
  }
}

/**
 * Callbacks from the participant list to the Room, which turns them into
 * its public events.
 * @typedef {object} RemoteEvents
 * @property {(p: RemoteParticipant) => void} participantJoined
 * @property {(p: RemoteParticipant) => void} participantLeft
 * @property {(t: RemoteTrack, p: RemoteParticipant) => void} trackPublished
 * @property {(t: RemoteTrack, p: RemoteParticipant) => void} trackMuted t.muted changed
 * @property {(t: RemoteTrack, p: RemoteParticipant) => void} trackUnpublished
 * @property {(t: RemoteTrack, p: RemoteParticipant) => void} trackSubscribed
 * @property {(t: RemoteTrack, p: RemoteParticipant) => void} trackUnsubscribed
 */

/**
 * The participants of the room and the mid → track bindings of the
 * subscribe connection.
 */
export class Remotes {
  /** @param {RemoteEvents} ev */
  constructor(ev) {
    this.ev = ev;
    /** @type {Map<string, RemoteParticipant>} by participant SID */
    this.participants = new Map();
    /** @type {Map<string, string>} mid → track SID, from the latest subscribe offer */
    this.mids = new Map();
    /** @type {Map<string, string>} mid → track SID currently bound to a receiver */
    this.bound = new Map();
  }

  /**
   * @param {string} trackSid
   * @returns {RemoteTrack | undefined}
   */
  track(trackSid) {
    for (const p of this.participants.values()) {
      const t = p.tracks.get(trackSid);
      if (t) return t;
    }
    return undefined;
  }

  /**
   * @param {string} mid
   * @returns {string}
   */
  sidOfMid(mid) {
    return this.bound.get(mid) || this.mids.get(mid) || '';
  }

  /**
   * Brings the list in line with a `joined` reply: on a re-join or a
   * resume, the participants and tracks that went away while disconnected
   * are removed, and mute changes missed meanwhile are applied.
   * @param {ParticipantInfo[]} list
   */
  sync(list) {
    // The server omits false flags: a track the snapshot lists without `muted` is not muted.
    list = list.map((p) => ({ ...p, tracks: (p.tracks || []).map((t) => ({ ...t, muted: !!t.muted })) }));
    const fresh = new Map(list.map((p) => [p.sid, p]));
    for (const p of [...this.participants.values()]) {
      if (!fresh.has(p.sid)) this.remove(p.sid);
    }
    for (const info of list) {
      const known = this.participants.get(info.sid);
      if (known) {
        const sids = new Set((info.tracks || []).map((t) => t.sid));
        for (const t of [...known.tracks.values()]) if (!sids.has(t.sid)) this.removeTrack(known.sid, t.sid);
      }
      this.add(info);
    }
  }

  /**
   * Adds a participant (or updates a known one) and its tracks.
   * @param {ParticipantInfo} info
   */
  add(info) {
    let p = this.participants.get(info.sid);
    if (!p) {
      p = new RemoteParticipant(info);
      this.participants.set(p.sid, p);
      this.ev.participantJoined(p);
    } else {
      p.identity = info.identity || p.identity;
      p.name = info.name || info.identity || p.name;
    }
    for (const ti of info.tracks || []) this.addTrack(p.sid, ti);
  }

  /** @param {string} sid */
  remove(sid) {
    const p = this.participants.get(sid);
    if (!p) return;
    for (const t of [...p.tracks.values()]) this.removeTrack(sid, t.sid);
    this.participants.delete(sid);
    this.ev.participantLeft(p);
  }

  /**
   * @param {string} participantSid
   * @param {TrackInfo} info
   */
  addTrack(participantSid, info) {
    const p = this.participants.get(participantSid);
    if (!p || !info.sid) return;
    const known = p.tracks.get(info.sid);
    if (known) {
      const wasMuted = known.muted;
      known.update(info);
      if (known.muted !== wasMuted) this.ev.trackMuted(known, p);
      return;
    }
    const t = new RemoteTrack(p.sid, info);
    p.tracks.set(t.sid, t);
    this.ev.trackPublished(t, p);
  }

  /**
   * @param {string} participantSid
   * @param {string} trackSid
   */
  removeTrack(participantSid, trackSid) {
    const p = this.participants.get(participantSid);
    const t = p?.tracks.get(trackSid);
    if (!p || !t) return;
    this.unbind(trackSid);
    p.tracks.delete(trackSid);
    this.ev.trackUnpublished(t, p);
  }

  /**
   * Applies a subscribe offer after setRemoteDescription: binds each
   * sending m-line to its track and unbinds the m-lines that stopped.
   * @param {RTCPeerConnection} pc
   * @param {string} sdp
   * @param {Object<string, string>} mids
   */
  applyOffer(pc, sdp, mids) {
    this.mids = new Map(Object.entries(mids || {}));
    const sections = mediaSections(sdp);
    const seen = new Set();
    for (const s of sections) {
      seen.add(s.mid);
      const sid = this.mids.get(s.mid) || '';
      const want = sid && (s.direction === 'sendonly' || s.direction === 'sendrecv') ? sid : '';
      const cur = this.bound.get(s.mid) || '';
      if (cur === want) continue;
      if (cur) this.unbind(cur);
      if (want) this.bind(pc, s.mid, want, s.msidStream);
    }
    for (const [mid, sid] of [...this.bound]) if (!seen.has(mid)) this.unbind(sid);
  }

  /**
   * @private
   * @param {RTCPeerConnection} pc
   * @param {string} mid
   * @param {string} sid
   * @param {string} streamId the msid stream id: the publisher's participant SID
   */
  bind(pc, mid, sid, streamId) {
    const tr = pc.getTransceivers().find((x) => x.mid === mid);
    if (!tr) return;
    if (!this.track(sid)) {
      // The offer came before the announcement: take the publisher from the msid.
      if (!this.participants.has(streamId)) this.add({ sid: streamId, identity: '' });
      this.addTrack(streamId, { sid, kind: tr.receiver.track.kind });
    }
    const t = this.track(sid);
    const p = t && this.participants.get(t.participantSid);
    if (!t || !p) return;
    t.mediaTrack = tr.receiver.track;
    t.stream = new MediaStream([tr.receiver.track]);
    t.receiver = tr.receiver;
    t.mid = mid;
    this.bound.set(mid, sid);
    this.ev.trackSubscribed(t, p);
  }

  /**
   * Detaches a track from its receiver.
   * @param {string} sid
   */
  unbind(sid) {
    const t = this.track(sid);
    for (const [mid, s] of this.bound) if (s === sid) this.bound.delete(mid);
    if (!t || !t.mediaTrack) return;
    t.mediaTrack = null;
    t.stream = null;
    t.receiver = null;
    t.mid = null;
    const p = this.participants.get(t.participantSid);
    if (p) this.ev.trackUnsubscribed(t, p);
  }

  /** Unbinds everything, as when the subscribe connection goes away. */
  unbindAll() {
    for (const sid of [...this.bound.values()]) this.unbind(sid);
    this.bound.clear();
    this.mids.clear();
  }
}
