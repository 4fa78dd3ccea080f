package bwe

import (
	"fmt"
	"log/slog"
	"time"
)

// AllocatorOption configures an Allocator.
type AllocatorOption func(*Allocator) error

// WithDominantSpeaker tells the allocator whose tracks rank right after
// screen shares: f returns the dominant speaker's publisher id ("" none).
func WithDominantSpeaker(f func() string) AllocatorOption {
	return func(a *Allocator) error {
		if f == nil {
			return fmt.Errorf("%w: nil dominant speaker func", ErrInvalidOption)
		}
		a.dominant = f
		return nil
	}
}

// WithStatsSink receives a snapshot every stats interval, on the
// allocator's goroutine: it must not block.
func WithStatsSink(f func(AllocatorStats)) AllocatorOption {
	return func(a *Allocator) error {
		a.sink = f
		return nil
	}
}

// WithStatsInterval sets how often the stats sink is called (default 2 s).
func WithStatsInterval(d time.Duration) AllocatorOption {
	return func(a *Allocator) error {
		if d <= 0 {
			return fmt.Errorf("%w: stats interval %v", ErrInvalidOption, d)
		}
		a.statsInterval = d
		return nil
	}
}

// WithAllocationInterval sets the period of allocation rounds without an
// event (default 100 ms).
func WithAllocationInterval(d time.Duration) AllocatorOption {
	return func(a *Allocator) error {
		if d <= 0 {
			return fmt.Errorf("%w: allocation interval %v", ErrInvalidOption, d)
		}
		a.interval = d
		return nil
	}
}

// WithAllocatorClock replaces time.Now (padding amounts, stats times).
func WithAllocatorClock(now func() time.Time) AllocatorOption {
	return func(a *Allocator) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		a.now = now
		return nil
	}
}

// WithAllocatorLogger logs, at debug level, every target the allocator
// sets and every large move of the estimate, with the estimator's state.
func WithAllocatorLogger(l *slog.Logger) AllocatorOption {
	return func(a *Allocator) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		a.log = l
		return nil
	}
}
