package bwe

import (
	"fmt"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
)

// EstimatorFactory registers the send-side estimator on one subscribe
// PeerConnection through pion's cc interceptor. hibiki builds one interceptor
// registry per connection, so each factory sees exactly one
// OnNewPeerConnection call and hands that connection's Estimator over.
//
// Register it before the NACK responder and the transport-cc header
// extension interceptor: pion chains interceptors in registration order, so
// the first registered writes closest to the network and sees the sequence
// number the later one stamped, and retransmissions are counted too.
type EstimatorFactory struct {
	cc *cc.InterceptorFactory

	mu    sync.Mutex
	est   *Estimator
	ready chan struct{}
}

// NewEstimatorFactory returns a factory whose Estimators apply opts.
func NewEstimatorFactory(opts ...EstimatorOption) (*EstimatorFactory, error) {
	probe, err := NewEstimator(opts...) // validate the options once, early
	if err != nil {
		return nil, err
	}
	if err := probe.Close(); err != nil {
		return nil, err
	}
	f := &EstimatorFactory{ready: make(chan struct{})}
	inner, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return NewEstimator(opts...)
	})
	if err != nil {
		return nil, fmt.Errorf("cc interceptor: %w", err)
	}
	inner.OnNewPeerConnection(func(_ string, be cc.BandwidthEstimator) {
		e, ok := be.(*Estimator)
		if !ok {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.est == nil {
			f.est = e
			close(f.ready)
		}
	})
	f.cc = inner
	return f, nil
}

// NewInterceptor implements interceptor.Factory.
func (f *EstimatorFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.cc.NewInterceptor(id)
	if err != nil {
		return nil, fmt.Errorf("estimator: %w", err)
	}
	return i, nil
}

// Estimator returns the connection's Estimator, nil before pion built it.
func (f *EstimatorFactory) Estimator() *Estimator {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.est
}
