package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// The round trip is now - LSR - DLSR of the block about this stream, from
// a receiver report or a sender report's blocks; a block without a sender
// report yet (LSR 0), about another stream, or implausible gives nothing.
func TestReportRTT(t *testing.T) {
	now := time.Unix(1_800_000_000, 250_000_000)
	sentSR := now.Add(-300 * time.Millisecond) // the SR the receiver answers
	dlsr := uint32(200 * 65536 / 1000)         // it held the SR 200 ms
	block := func(ssrc, lsr uint32) rtcp.ReceptionReport {
		return rtcp.ReceptionReport{SSRC: ssrc, LastSenderReport: lsr, Delay: dlsr}
	}
	marshal := func(p rtcp.Packet) []byte {
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	lsr := compactNTP(sentSR)
	tests := []struct {
		name string
		pkt  rtcp.Packet
		want time.Duration // 0: none
	}{
		{"receiver report", &rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{block(5, 0), block(7, lsr)}}, 100 * time.Millisecond},
		{"sender report blocks", &rtcp.SenderReport{SSRC: 9, Reports: []rtcp.ReceptionReport{block(7, lsr)}}, 100 * time.Millisecond},
		{"no sender report yet", &rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{block(7, 0)}}, 0},
		{"another stream", &rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{block(8, lsr)}}, 0},
		{"LSR from the future", &rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{block(7, compactNTP(now.Add(time.Second)))}}, 0},
	}
	for _, tt := range tests {
		rtt, ok := reportRTT(marshal(tt.pkt), 7, now)
		if ok != (tt.want != 0) || (ok && (rtt < tt.want-time.Millisecond || rtt > tt.want+time.Millisecond)) {
			t.Errorf("%s: rtt %v (%v), want %v", tt.name, rtt, ok, tt.want)
		}
	}
	if _, ok := reportRTT([]byte{0x81, 201, 0, 1}, 7, now); ok {
		t.Error("a truncated report gave a round trip")
	}
}

// A packet is resent again only a round trip (at least minResendGap) after
// its last copy, which answers every NACK sent meanwhile.
func TestResendDue(t *testing.T) {
	tests := []struct {
		name          string
		resends       uint8
		resentAt, now uint16
		rtt           time.Duration
		want          bool
	}{
		{"never resent", 0, 0, 0, time.Second, true},
		{"within the round trip", 1, 1000, 1050, 80 * time.Millisecond, false},
		{"after the round trip", 1, 1000, 1081, 80 * time.Millisecond, true},
		{"unknown round trip: the floor", 1, 1000, 1005, 0, false},
		{"unknown round trip, after the floor", 1, 1000, 1011, 0, true},
		{"clock wrapped", 2, 65530, 100, 80 * time.Millisecond, true},
	}
	for _, tt := range tests {
		if got := resendDue(tt.resends, tt.resentAt, tt.now, tt.rtt); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
