package bwe

import (
	"strings"
	"time"

	"github.com/pion/interceptor"
)

// AudioLevelURI is the RFC 6464 client-to-mixer audio level header extension.
// The publisher's browser measures the level of every packet it encodes, so
// the SFU learns who is speaking without decoding any audio.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

const (
	audioLevelMask = 0x7f // level in -dBov, 0 (loudest) .. 127 (silence)
	voiceBit       = 0x80 // V: the sender's voice activity detector fired
)

// LevelSink receives one audio level per received audio packet. It is called
// on the goroutine that reads the track, once per packet (about 50 times a
// second per publisher), so implementations must be quick and must not block;
// SpeakerDetector.Observe is the intended destination, behind an SSRC lookup.
//
// level is in -dBov (0 is the loudest, 127 silence); voice is the RFC 6464 V
// bit; now is the arrival time, read from the interceptor's injected clock.
type LevelSink interface {
	ObserveLevel(ssrc uint32, level uint8, voice bool, now time.Time)
}

// LevelSinkFunc adapts a function to a LevelSink.
type LevelSinkFunc func(ssrc uint32, level uint8, voice bool, now time.Time)

// ObserveLevel calls f.
func (f LevelSinkFunc) ObserveLevel(ssrc uint32, level uint8, voice bool, now time.Time) {
	f(ssrc, level, voice, now)
}

// ParseAudioLevel decodes the payload of an RFC 6464 extension element:
// V(1 bit) | level(7 bits). The payload is exactly one byte in both the
// one-byte and the two-byte header forms; anything else is a malformed or
// hostile packet and yields ErrAudioLevelSize.
func ParseAudioLevel(ext []byte) (level uint8, voice bool, err error) {
	if len(ext) != 1 {
		return 0, false, ErrAudioLevelSize
	}
	return ext[0] & audioLevelMask, ext[0]&voiceBit != 0, nil
}

// AudioLevelInterceptorFactory builds AudioLevelInterceptors; register one on
// the interceptor.Registry of the publish PeerConnections.
type AudioLevelInterceptorFactory struct {
	opts []AudioLevelOption
}

// NewAudioLevelInterceptorFactory returns a factory whose interceptors apply
// opts. WithLevelSink is required. The options are checked here, once, so a
// misconfiguration fails at server start rather than at the first call.
func NewAudioLevelInterceptorFactory(opts ...AudioLevelOption) (*AudioLevelInterceptorFactory, error) {
	f := &AudioLevelInterceptorFactory{opts: opts}
	if _, err := f.build(); err != nil {
		return nil, err
	}
	return f, nil
}

// NewInterceptor implements interceptor.Factory.
func (f *AudioLevelInterceptorFactory) NewInterceptor(_ string) (interceptor.Interceptor, error) {
	return f.build()
}

func (f *AudioLevelInterceptorFactory) build() (*AudioLevelInterceptor, error) {
	i := &AudioLevelInterceptor{now: time.Now}
	for _, opt := range f.opts {
		if err := opt(i); err != nil {
			return nil, err
		}
	}
	if i.sink == nil {
		return nil, ErrNoLevelSink
	}
	return i, nil
}

// AudioLevelInterceptor reports the RFC 6464 level of every received audio
// packet to a LevelSink. It only reads: packets pass through unchanged, and
// streams that did not negotiate the extension are not wrapped at all.
type AudioLevelInterceptor struct {
	interceptor.NoOp
	sink LevelSink
	now  func() time.Time
}

// BindRemoteStream wraps the reader of an audio stream that negotiated the
// audio level extension.
func (i *AudioLevelInterceptor) BindRemoteStream(
	info *interceptor.StreamInfo, reader interceptor.RTPReader,
) interceptor.RTPReader {
	id, ok := audioLevelExtensionID(info)
	if !ok {
		return reader
	}
	return &levelReader{next: reader, id: id, sink: i.sink, now: i.now}
}

// audioLevelExtensionID returns the negotiated ID of the extension for an
// audio stream. Retransmission streams are skipped: a repaired packet's level
// describes audio that was already counted, or is too late to matter.
func audioLevelExtensionID(info *interceptor.StreamInfo) (uint8, bool) {
	mime := strings.ToLower(info.MimeType)
	if !strings.HasPrefix(mime, "audio/") || mime == "audio/rtx" {
		return 0, false
	}
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == AudioLevelURI && e.ID > 0 && e.ID < 256 {
			return uint8(e.ID), true
		}
	}
	return 0, false
}

// levelReader is the per-stream RTPReader: all its state is fixed at bind
// time, so Read needs no lock and allocates nothing.
type levelReader struct {
	next interceptor.RTPReader
	id   uint8
	sink LevelSink
	now  func() time.Time
}

// Read reads one packet from the next reader and reports its level.
func (r *levelReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	n, attr, err := r.next.Read(b, a)
	if err != nil {
		return n, attr, err
	}
	if ssrc, ext, ok := r.extension(b[:n], attr); ok {
		if level, voice, perr := ParseAudioLevel(ext); perr == nil {
			r.sink.ObserveLevel(ssrc, level, voice, r.now())
		}
	}
	return n, attr, nil
}

// extension finds the audio level element, parsing the header at most once
// per packet across the chain. Interceptors that run before this one (report,
// NACK, TWCC) create the Attributes map precisely to cache the parsed header
// in it, so a non-nil map means GetRTPHeader is a lookup. A nil map means
// nobody parsed the packet; then the element is found by walking the bytes,
// which allocates nothing, rather than by GetRTPHeader, which would allocate
// a header that nothing downstream could reuse (it cannot be cached in a nil
// map).
func (r *levelReader) extension(buf []byte, attr interceptor.Attributes) (uint32, []byte, bool) {
	if attr == nil {
		return rtpExtension(buf, r.id)
	}
	h, err := attr.GetRTPHeader(buf)
	if err != nil {
		return 0, nil, false
	}
	ext := h.GetExtension(r.id)
	return h.SSRC, ext, ext != nil
}
