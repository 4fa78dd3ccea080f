package sfu

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/pion/ice/v4"
)

// tcpReadBuffer is the per-connection read buffer of ICE-TCP. Media over
// TCP is a fallback; this is pion's recommended size.
const tcpReadBuffer = 8

// tcpMux accepts ICE-TCP on one port for every configured address: one
// listener per IP (so nothing listens on an interface the config excludes)
// or one on all addresses when no IP is configured.
type tcpMux struct {
	listeners []net.Listener
	mux       ice.TCPMux
}

func newTCPMux(ips []string, port int) (*tcpMux, error) {
	if port < 0 {
		port = 0
	}
	hosts := ips
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	t := &tcpMux{}
	muxes := make([]ice.TCPMux, 0, len(hosts))
	for _, h := range hosts {
		network := "tcp"
		if ip := net.ParseIP(h); ip != nil {
			network = "tcp6"
			if ip.To4() != nil {
				network = "tcp4"
			}
		}
		ln, err := net.Listen(network, net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			_ = t.close()
			return nil, fmt.Errorf("ice-tcp on port %d: %w", port, err)
		}
		t.listeners = append(t.listeners, ln)
		muxes = append(muxes, ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: ln, ReadBufferSize: tcpReadBuffer}))
	}
	if len(muxes) == 1 {
		t.mux = muxes[0]
	} else {
		t.mux = ice.NewMultiTCPMuxDefault(muxes...)
	}
	return t, nil
}

func (t *tcpMux) addrs() []string {
	out := make([]string, len(t.listeners))
	for i, ln := range t.listeners {
		out[i] = ln.Addr().String()
	}
	return out
}

func (t *tcpMux) close() error {
	var errs []error
	if t.mux != nil {
		if err := t.mux.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close ice-tcp mux: %w", err))
		}
		return errors.Join(errs...)
	}
	for _, ln := range t.listeners {
		if err := ln.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close ice-tcp listener: %w", err))
		}
	}
	return errors.Join(errs...)
}
