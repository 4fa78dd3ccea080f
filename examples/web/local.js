// @ts-check
// The client's own published tracks: capture helpers, simulcast encodings and
// the layer switching the server asks for with `layersChanged`.

/**
 * @typedef {object} PublishOptions
 * @property {string} [source] camera, microphone, screen or screen_audio (default from kind)
 * @property {string} [name]
 * @property {boolean} [simulcast] send three encodings q/h/f (video only)
 * @property {number} [maxBitrate] bits per second for a single-encoding video track
 */

/**
 * @typedef {object} CameraOptions
 * @property {number} [width] default 1280
 * @property {number} [height] default 720
 * @property {number} [frameRate] default 30
 * @property {boolean} [simulcast] default false
 * @property {string} [deviceId]
 * @property {string} [name] default "camera"
 */

/** Simulcast encodings, lowest first, as the protocol orders layers. */
export const SIMULCAST = Object.freeze([
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
]);

/** A track this client publishes. */
export class LocalTrack {
  /**
   * @param {MediaStreamTrack} track
   * @param {PublishOptions} opts
   */
  constructor(track, opts) {
    /** @type {string} assigned by the server's `published` reply */
    this.sid = '';
    /** the msid track id the server knows the track by; kept when the device is switched */
    this.cid = track.id;
    this.track = track;
    this.kind = track.kind;
    this.source = opts.source || (track.kind === 'audio' ? 'microphone' : 'camera');
    this.name = opts.name || this.source;
    this.simulcast = !!opts.simulcast && track.kind === 'video';
    this.maxBitrate = opts.maxBitrate;
    this.muted = false;
    /** @type {RTCRtpSender | null} */
    this.sender = null;
    /** @type {boolean[] | null} last `layersChanged` for this track */
    this.activeLayers = null;
    /** @type {Promise<void>} */
    this.layerChain = Promise.resolve();
  }

  /** @returns {RTCRtpEncodingParameters[] | undefined} */
  encodings() {
    if (this.kind !== 'video') return undefined;
    if (this.simulcast) return SIMULCAST.map((e) => ({ ...e }));
    return [{ maxBitrate: this.maxBitrate ?? (this.source === 'screen' ? 2_500_000 : 1_500_000) }];
  }

  /**
   * The protocol `TrackInfo` sent with `publish`.
   * @returns {import('./remote.js').TrackInfo}
   */
  info() {
    const s = this.track.getSettings();
    const w = s.width || 0;
    const h = s.height || 0;
    return {
      cid: this.cid,
      kind: this.kind,
      source: this.source,
      name: this.name,
      muted: this.muted,
      simulcast: this.simulcast,
      width: w || undefined,
      height: h || undefined,
      layers: this.simulcast
        ? SIMULCAST.map((e) => ({
          rid: e.rid,
          width: Math.round(w / e.scaleResolutionDownBy) || undefined,
          height: Math.round(h / e.scaleResolutionDownBy) || undefined,
        }))
        : undefined,
    };
  }

  /**
   * Turns encodings on and off as the server asks: a layer nobody receives
   * costs the publisher CPU and uplink for nothing. Calls are serialized:
   * Chrome refuses a setParameters whose getParameters another call used.
   * @param {boolean[]} active one flag per layer, lowest first
   * @returns {Promise<void>}
   */
  applyLayers(active) {
    this.activeLayers = active;
    this.layerChain = this.layerChain.catch(() => {}).then(async () => {
      if (!this.sender || !this.simulcast || this.activeLayers !== active) return;
      const params = this.sender.getParameters();
      if (!params.encodings || params.encodings.length === 0) return;
      let changed = false;
      params.encodings.forEach((enc, i) => {
        const on = i < active.length ? !!active[i] : true;
        if (enc.active !== on) {
          enc.active = on;
          changed = true;
        }
      });
      if (changed) await this.sender.setParameters(params);
    });
    return this.layerChain;
  }
}

/**
 * Opens a camera.
 * @param {CameraOptions} opts
 * @returns {Promise<MediaStreamTrack>}
 */
export async function openCamera(opts) {
  /** @type {MediaTrackConstraints} */
  const video = {
    width: { ideal: opts.width ?? 1280 },
    height: { ideal: opts.height ?? 720 },
    frameRate: { ideal: opts.frameRate ?? 30 },
  };
  if (opts.deviceId) video.deviceId = { exact: opts.deviceId };
  const stream = await navigator.mediaDevices.getUserMedia({ video });
  return stream.getVideoTracks()[0];
}

/**
 * Opens a microphone.
 * @param {{deviceId?: string}} opts
 * @returns {Promise<MediaStreamTrack>}
 */
export async function openMicrophone(opts) {
  /** @type {MediaTrackConstraints} */
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (opts.deviceId) audio.deviceId = { exact: opts.deviceId };
  const stream = await navigator.mediaDevices.getUserMedia({ audio });
  return stream.getAudioTracks()[0];
}

/**
 * Finds a published track by the LocalTrack itself, its MediaStreamTrack
 * (current or original id) or its SID.
 * @param {Map<string, LocalTrack>} tracks
 * @param {LocalTrack | MediaStreamTrack | string} ref
 * @returns {LocalTrack | undefined}
 */
export function findLocal(tracks, ref) {
  for (const lt of tracks.values()) {
    if (lt === ref || lt.sid === ref || lt.track === ref || lt.cid === ref) return lt;
  }
  return undefined;
}
