package bwe

import (
	"fmt"
	"time"
)

// AudioLevelOption configures an AudioLevelInterceptor.
type AudioLevelOption func(*AudioLevelInterceptor) error

// WithLevelSink sets where levels are reported. It is required.
func WithLevelSink(sink LevelSink) AudioLevelOption {
	return func(i *AudioLevelInterceptor) error {
		if sink == nil {
			return fmt.Errorf("%w: nil LevelSink", ErrInvalidOption)
		}
		i.sink = sink
		return nil
	}
}

// WithLevelClock replaces time.Now as the source of arrival times, so tests
// and replays control time instead of sleeping.
func WithLevelClock(now func() time.Time) AudioLevelOption {
	return func(i *AudioLevelInterceptor) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		i.now = now
		return nil
	}
}
