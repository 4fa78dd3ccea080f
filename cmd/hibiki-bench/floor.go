package main

import (
	"fmt"
	"net"
	"runtime"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/net/ipv4"
)

// floor is the per-packet cost of what any SFU must do to forward one
// packet on this machine, measured as /work/shared/tools/limits does (a
// copy of it, so CI can run it): SRTP protection of a 1200-byte payload and
// one UDP send on loopback. Times are CPU time of the measuring thread
// (RUSAGE_THREAD), which the load of other processes does not inflate the
// way it inflates wall time.
type floor struct {
	SRTPGCM, SRTPCM, SendTo, SendMMsg time.Duration
}

// total is the floor of one forwarded packet with GCM: protect + sendto.
func (f floor) total() time.Duration { return f.SRTPGCM + f.SendTo }

// rusageThread is Linux's RUSAGE_THREAD, missing from package syscall.
const rusageThread = 1

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perOp runs f n times on a locked thread and returns its CPU time per op.
func perOp(n int, f func(i int) error) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for i := range n {
		if err := f(i); err != nil {
			return 0, err
		}
	}
	return (threadCPU() - start) / time.Duration(n), nil
}

func measureFloor(n int) (floor, error) {
	var fl floor
	payload := make([]byte, 1200)
	for _, p := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAes128CmHmacSha1_80} {
		kl, err := p.KeyLen()
		if err != nil {
			return fl, fmt.Errorf("srtp key length: %w", err)
		}
		sl, err := p.SaltLen()
		if err != nil {
			return fl, fmt.Errorf("srtp salt length: %w", err)
		}
		ctx, err := srtp.CreateContext(make([]byte, kl), make([]byte, sl), p)
		if err != nil {
			return fl, fmt.Errorf("srtp context: %w", err)
		}
		out := make([]byte, 0, 1500)
		raw := make([]byte, 1500)
		d, err := perOp(n, func(i int) error {
			h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), SSRC: 1}
			m, err := h.MarshalTo(raw)
			if err != nil {
				return err
			}
			m += copy(raw[m:], payload)
			out, err = ctx.EncryptRTP(out[:0], raw[:m], nil)
			return err
		})
		if err != nil {
			return fl, fmt.Errorf("srtp: %w", err)
		}
		if p == srtp.ProtectionProfileAeadAes128Gcm {
			fl.SRTPGCM = d
		} else {
			fl.SRTPCM = d
		}
	}
	return fl, measureSend(n, &fl)
}

func measureSend(n int, fl *floor) error {
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer rc.Close()
	_ = rc.SetReadBuffer(8 << 20)
	go func() {
		buf := make([]byte, 2000)
		for {
			if _, _, err := rc.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer sc.Close()
	dst, _ := rc.LocalAddr().(*net.UDPAddr)
	pkt := make([]byte, 1230)
	// A full receive buffer makes sends fail fast; they still cost what a
	// send costs, so errors are ignored as the limits tool does.
	if fl.SendTo, err = perOp(n, func(int) error { _, _ = sc.WriteToUDP(pkt, dst); return nil }); err != nil {
		return err
	}
	pc := ipv4.NewPacketConn(sc)
	const batch = 32
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i] = ipv4.Message{Buffers: [][]byte{pkt}, Addr: dst}
	}
	d, err := perOp(n/batch, func(int) error { _, _ = pc.WriteBatch(msgs, 0); return nil })
	fl.SendMMsg = d / batch
	return err
}
