package bwe

import "errors"

var (
	// ErrNoLevelSink is returned when an AudioLevelInterceptorFactory has no
	// sink: an interceptor that measures levels nobody reads only costs CPU.
	ErrNoLevelSink = errors.New("bwe: audio level interceptor needs a LevelSink")

	// ErrAudioLevelSize is returned by ParseAudioLevel when the extension
	// element is not exactly one byte long, as RFC 6464 section 3 requires.
	ErrAudioLevelSize = errors.New("bwe: audio level extension must be one byte")

	// ErrInvalidOption is wrapped by options given a value out of range.
	ErrInvalidOption = errors.New("bwe: invalid option")
)
