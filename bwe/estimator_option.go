package bwe

import (
	"fmt"
	"time"
)

// EstimatorOption configures an Estimator.
type EstimatorOption func(*Estimator) error

// WithInitialBitrate sets the estimate a new connection starts from (bit/s):
// what the allocator may spend before any feedback.
func WithInitialBitrate(bps int) EstimatorOption {
	return func(e *Estimator) error {
		if bps <= 0 {
			return fmt.Errorf("%w: initial bitrate %d", ErrInvalidOption, bps)
		}
		e.initial = bps
		return nil
	}
}

// WithBitrateBounds bounds the estimate (bit/s).
func WithBitrateBounds(minBps, maxBps int) EstimatorOption {
	return func(e *Estimator) error {
		if minBps <= 0 || maxBps < minBps {
			return fmt.Errorf("%w: bitrate bounds %d..%d", ErrInvalidOption, minBps, maxBps)
		}
		e.minBitrate, e.maxBitrate = minBps, maxBps
		return nil
	}
}

// WithEstimatorClock replaces time.Now for the Estimator's own
// measurements (pion's GCC keeps its own clock).
func WithEstimatorClock(now func() time.Time) EstimatorOption {
	return func(e *Estimator) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		e.now = now
		return nil
	}
}
