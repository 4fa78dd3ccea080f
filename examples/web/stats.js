// @ts-check
// Reading RTCStatsReports into plain objects: what the conference page graphs
// and what the browser tests assert on.

/**
 * @typedef {object} CandidatePairSummary
 * @property {string} state
 * @property {string} local "address:port" of the local candidate
 * @property {string} remote "address:port" of the remote candidate
 * @property {string} localType host, srflx, prflx or relay
 * @property {string} protocol udp or tcp
 * @property {number} rtt current round-trip time in seconds
 * @property {number} availableOutgoingBitrate bits per second, 0 when unknown
 */

/**
 * @typedef {object} OutboundSummary
 * @property {string} kind
 * @property {string} rid simulcast rid, "" without simulcast
 * @property {string} mid
 * @property {number} ssrc
 * @property {boolean} active
 * @property {number} packetsSent
 * @property {number} bytesSent
 * @property {number} framesEncoded
 * @property {number} frameWidth
 * @property {number} frameHeight
 * @property {number} framesPerSecond
 * @property {string} qualityLimitationReason
 */

/**
 * @typedef {object} InboundSummary
 * @property {string} kind
 * @property {string} mid
 * @property {string} trackSid the hibiki track SID the mid maps to, "" if unknown
 * @property {number} ssrc
 * @property {number} packetsReceived
 * @property {number} packetsLost
 * @property {number} bytesReceived
 * @property {number} jitter seconds
 * @property {number} framesDecoded
 * @property {number} framesDropped
 * @property {number} freezeCount
 * @property {number} totalFreezesDuration seconds
 * @property {number} frameWidth
 * @property {number} frameHeight
 * @property {number} framesPerSecond
 * @property {number} totalSamplesReceived
 * @property {number} concealedSamples
 * @property {number} audioLevel 0..1
 */

/**
 * @typedef {object} TransportSummary
 * @property {string} connectionState
 * @property {string} iceConnectionState
 * @property {CandidatePairSummary | null} candidatePair
 * @property {OutboundSummary[]} outbound
 * @property {InboundSummary[]} inbound
 * @property {number} localAudioLevel level of the local microphone (media-source), 0..1
 * @property {number} transports how many transports the report holds
 */

/**
 * @param {any} s
 * @param {string} k
 * @returns {number}
 */
const num = (s, k) => (s && typeof s[k] === 'number' ? s[k] : 0);

/**
 * @param {RTCStatsReport} report
 * @returns {CandidatePairSummary | null}
 */
function selectedPair(report) {
  /** @type {any} */
  let pair = null;
  report.forEach((/** @type {any} */ s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
  });
  if (!pair) {
    report.forEach((/** @type {any} */ s) => {
      if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
    });
  }
  if (!pair) return null;
  const l = /** @type {any} */ (report.get(pair.localCandidateId)) || {};
  const r = /** @type {any} */ (report.get(pair.remoteCandidateId)) || {};
  return {
    state: pair.state,
    local: `${l.address ?? l.ip ?? ''}:${l.port ?? ''}`,
    remote: `${r.address ?? r.ip ?? ''}:${r.port ?? ''}`,
    localType: l.candidateType ?? '',
    protocol: l.protocol ?? '',
    rtt: num(pair, 'currentRoundTripTime'),
    availableOutgoingBitrate: num(pair, 'availableOutgoingBitrate'),
  };
}

/**
 * Reduces one peer connection's report to plain, JSON-friendly numbers.
 * @param {RTCPeerConnection} pc
 * @param {RTCStatsReport} report
 * @param {(mid: string) => string} sidOfMid
 * @returns {TransportSummary}
 */
export function summarize(pc, report, sidOfMid) {
  /** @type {TransportSummary} */
  const out = {
    connectionState: pc.connectionState,
    iceConnectionState: pc.iceConnectionState,
    candidatePair: selectedPair(report),
    outbound: [],
    inbound: [],
    localAudioLevel: 0,
    transports: 0,
  };
  report.forEach((/** @type {any} */ s) => {
    if (s.type === 'transport') out.transports++;
    if (s.type === 'outbound-rtp') {
      out.outbound.push({
        kind: s.kind, rid: s.rid ?? '', mid: s.mid ?? '', ssrc: s.ssrc,
        active: s.active !== false,
        packetsSent: num(s, 'packetsSent'), bytesSent: num(s, 'bytesSent'),
        framesEncoded: num(s, 'framesEncoded'),
        frameWidth: num(s, 'frameWidth'), frameHeight: num(s, 'frameHeight'),
        framesPerSecond: num(s, 'framesPerSecond'),
        qualityLimitationReason: s.qualityLimitationReason ?? '',
      });
    } else if (s.type === 'inbound-rtp') {
      out.inbound.push({
        kind: s.kind, mid: s.mid ?? '', trackSid: sidOfMid(s.mid ?? ''), ssrc: s.ssrc,
        packetsReceived: num(s, 'packetsReceived'), packetsLost: num(s, 'packetsLost'),
        bytesReceived: num(s, 'bytesReceived'), jitter: num(s, 'jitter'),
        framesDecoded: num(s, 'framesDecoded'), framesDropped: num(s, 'framesDropped'),
        freezeCount: num(s, 'freezeCount'), totalFreezesDuration: num(s, 'totalFreezesDuration'),
        frameWidth: num(s, 'frameWidth'), frameHeight: num(s, 'frameHeight'),
        framesPerSecond: num(s, 'framesPerSecond'),
        totalSamplesReceived: num(s, 'totalSamplesReceived'),
        concealedSamples: num(s, 'concealedSamples'), audioLevel: num(s, 'audioLevel'),
      });
    } else if (s.type === 'media-source' && s.kind === 'audio') {
      out.localAudioLevel = Math.max(out.localAudioLevel, num(s, 'audioLevel'));
    }
  });
  return out;
}

/**
 * Both connections of a room at one moment.
 * @typedef {{time: number, publish: TransportSummary | null, subscribe: TransportSummary | null}} Summary
 */

/**
 * Reads and reduces the reports of both connections.
 * @param {{publish: RTCPeerConnection | null, subscribe: RTCPeerConnection | null}} pcs
 * @param {(mid: string) => string} sidOfMid
 * @returns {Promise<Summary>}
 */
export async function summarizeBoth(pcs, sidOfMid) {
  const [pub, sub] = await Promise.all([pcs.publish?.getStats(), pcs.subscribe?.getStats()]);
  return {
    time: Date.now(),
    publish: pcs.publish && pub ? summarize(pcs.publish, pub, sidOfMid) : null,
    subscribe: pcs.subscribe && sub ? summarize(pcs.subscribe, sub, sidOfMid) : null,
  };
}

/**
 * @typedef {object} TrackQuality
 * @property {number} width received frame width
 * @property {number} height received frame height
 * @property {number} fps
 * @property {number} bitrate bits per second over the last interval
 * @property {number} loss percent of packets lost over the last interval
 * @property {'excellent' | 'good' | 'poor' | 'lost'} quality
 * @property {number} audioLevel
 */

/**
 * @typedef {object} LiveStats
 * @property {number} time ms since the epoch
 * @property {number} bitrateIn bits per second received
 * @property {number} bitrateOut bits per second sent
 * @property {number} lossIn percent of received packets lost over the interval
 * @property {number} rtt ms, the larger of the two connections' RTTs
 * @property {Object<string, TrackQuality>} tracks by track SID
 * @property {number} localAudioLevel
 */

/**
 * Turns two consecutive summaries into rates.
 * @param {Summary} cur
 * @param {Summary | null} prev
 * @returns {LiveStats}
 */
export function rates(cur, prev) {
  const dt = prev ? Math.max(0.001, (cur.time - prev.time) / 1000) : 1;
  const sum = (/** @type {any[]} */ a, /** @type {string} */ k) => a.reduce((t, x) => t + num(x, k), 0);
  const inb = cur.subscribe?.inbound ?? [];
  const pinb = prev?.subscribe?.inbound ?? [];
  const outb = cur.publish?.outbound ?? [];
  const poutb = prev?.publish?.outbound ?? [];
  const rate = (/** @type {number} */ a, /** @type {number} */ b) => (prev ? Math.max(0, ((a - b) * 8) / dt) : 0);
  /** @type {LiveStats} */
  const live = {
    time: cur.time,
    bitrateIn: rate(sum(inb, 'bytesReceived'), sum(pinb, 'bytesReceived')),
    bitrateOut: rate(sum(outb, 'bytesSent'), sum(poutb, 'bytesSent')),
    lossIn: lossPercent(inb, pinb),
    rtt: 1000 * Math.max(cur.publish?.candidatePair?.rtt ?? 0, cur.subscribe?.candidatePair?.rtt ?? 0),
    tracks: {},
    localAudioLevel: cur.publish?.localAudioLevel ?? 0,
  };
  for (const s of inb) {
    if (!s.trackSid) continue;
    const p = pinb.find((x) => x.ssrc === s.ssrc);
    const loss = lossPercent([s], p ? [p] : []);
    const got = p ? s.packetsReceived - p.packetsReceived : s.packetsReceived;
    /** @type {TrackQuality['quality']} */
    let quality = 'excellent';
    if (prev && got <= 0) quality = 'lost';
    else if (loss > 8 || s.jitter > 0.1) quality = 'poor';
    else if (loss > 2 || s.jitter > 0.03) quality = 'good';
    live.tracks[s.trackSid] = {
      width: s.frameWidth, height: s.frameHeight, fps: s.framesPerSecond,
      bitrate: p ? rate(s.bytesReceived, p.bytesReceived) : 0,
      loss, quality, audioLevel: s.audioLevel,
    };
  }
  return live;
}

/**
 * @param {InboundSummary[]} cur
 * @param {InboundSummary[]} prev
 * @returns {number}
 */
function lossPercent(cur, prev) {
  let lost = 0;
  let got = 0;
  for (const s of cur) {
    const p = prev.find((x) => x.ssrc === s.ssrc);
    lost += s.packetsLost - (p ? p.packetsLost : 0);
    got += s.packetsReceived - (p ? p.packetsReceived : 0);
  }
  return lost > 0 && lost + got > 0 ? (100 * lost) / (lost + got) : 0;
}

/**
 * Who is speaking, loudest first, from one interval's audio levels.
 * @param {LiveStats} live
 * @param {{threshold: number, localSid: string, ownerOf: (trackSid: string) => string}} o
 *   localSid is "" when the local microphone is off; ownerOf maps an audible
 *   remote track to its participant SID ("" to ignore the track)
 * @returns {string[]} participant SIDs
 */
export function speakersOf(live, o) {
  /** @type {Map<string, number>} */
  const levels = new Map();
  for (const [sid, q] of Object.entries(live.tracks)) {
    const owner = q.audioLevel >= o.threshold ? o.ownerOf(sid) : '';
    if (owner) levels.set(owner, Math.max(levels.get(owner) || 0, q.audioLevel));
  }
  if (o.localSid && live.localAudioLevel >= o.threshold) levels.set(o.localSid, live.localAudioLevel);
  return [...levels.entries()].sort((a, b) => b[1] - a[1]).map((e) => e[0]);
}

/**
 * Measures the level of remote audio tracks with WebAudio. Browsers that do
 * not play audio out (headless ones, or before any output device exists)
 * report a zero audioLevel in their stats, and the SFU may not forward the
 * RFC 6464 header extension, so speaker detection measures the decoded audio
 * itself. Chrome feeds a remote stream into WebAudio only while the stream
 * also plays in a media element (the conference page keeps a muted one).
 */
export class LevelMeter {
  /** @param {AudioContext} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    /** @type {Map<string, {src: MediaStreamAudioSourceNode, an: AnalyserNode, buf: Float32Array<ArrayBuffer>}>} */
    this.nodes = new Map();
  }

  /**
   * @param {string} trackSid
   * @param {MediaStream} stream
   */
  attach(trackSid, stream) {
    this.detach(trackSid);
    const src = this.ctx.createMediaStreamSource(stream);
    const an = this.ctx.createAnalyser();
    an.fftSize = 1024;
    src.connect(an);
    this.nodes.set(trackSid, { src, an, buf: new Float32Array(an.fftSize) });
  }

  /** @param {string} trackSid */
  detach(trackSid) {
    const n = this.nodes.get(trackSid);
    if (!n) return;
    n.src.disconnect();
    this.nodes.delete(trackSid);
  }

  /**
   * The peak amplitude (0..1) of the last ~20 ms, like stats' audioLevel.
   * @param {string} trackSid
   * @returns {number}
   */
  level(trackSid) {
    const n = this.nodes.get(trackSid);
    if (!n || this.ctx.state !== 'running') return 0;
    n.an.getFloatTimeDomainData(n.buf);
    let peak = 0;
    for (const x of n.buf) peak = Math.max(peak, Math.abs(x));
    return Math.min(1, peak);
  }

  close() {
    for (const sid of [...this.nodes.keys()]) this.detach(sid);
  }
}
