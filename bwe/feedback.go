package bwe

import (
	"time"

	"github.com/pion/rtcp"
)

// historySize is how many sent packets are remembered by transport-wide
// sequence number: about 2.5 s at 5 Mbit/s of padding-heavy traffic, longer
// than any feedback delay worth using.
const historySize = 4096

// sentPacket is what the sender remembers of one packet until feedback
// about it arrives.
type sentPacket struct {
	seq    uint16
	size   int
	sentAt time.Time
	probe  uint32 // probe cluster id, 0 for none
	valid  bool
	acked  bool // feedback already counted it as received
	// resend: the packet repeats an RTP sequence number already sent on
	// its stream (a retransmission; hibiki has no RTX).
	resend bool
}

// sendHistory maps transport-wide sequence numbers to sent packets. It is a
// fixed ring indexed by the low bits of the sequence number: no allocation
// per packet, and an entry older than historySize packets is simply gone.
type sendHistory struct {
	ring [historySize]sentPacket
}

func (h *sendHistory) add(seq uint16, size int, at time.Time, probe uint32, resend bool) {
	h.ring[int(seq)%historySize] = sentPacket{seq: seq, size: size, sentAt: at, probe: probe, valid: true, resend: resend}
}

func (h *sendHistory) get(seq uint16) *sentPacket {
	p := &h.ring[int(seq)%historySize]
	if !p.valid || p.seq != seq {
		return nil
	}
	return p
}

// ack is the fate of one sent packet as a feedback message reports it.
type ack struct {
	pkt      *sentPacket
	received bool
	// arrival is on the receiver's clock (reference time plus deltas),
	// only meaningful in differences with other arrivals.
	arrival time.Duration
}

// parseTWCC walks a transport-cc feedback (draft-holmer-rmcat-transport-
// wide-cc-extensions-01 section 3.1) and appends one ack per packet the
// history still knows. A packet already counted as received is skipped, so
// the overlapping reports receivers send do not count bytes twice.
func parseTWCC(fb *rtcp.TransportLayerCC, h *sendHistory, out []ack) []ack {
	seq := fb.BaseSequenceNumber
	arrival := time.Duration(fb.ReferenceTime) * 64 * time.Millisecond
	deltas := fb.RecvDeltas
	remaining := int(fb.PacketStatusCount)
	visit := func(symbol uint16) {
		if remaining <= 0 {
			return
		}
		remaining--
		received := symbol == rtcp.TypeTCCPacketReceivedSmallDelta || symbol == rtcp.TypeTCCPacketReceivedLargeDelta
		if received && len(deltas) > 0 {
			arrival += time.Duration(deltas[0].Delta) * time.Microsecond
			deltas = deltas[1:]
		}
		if p := h.get(seq); p != nil && !p.acked {
			if received {
				p.acked = true
			}
			out = append(out, ack{pkt: p, received: received, arrival: arrival})
		}
		seq++
	}
	for _, chunk := range fb.PacketChunks {
		switch c := chunk.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(c.RunLength) && remaining > 0; i++ {
				visit(c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				visit(s)
			}
		}
	}
	return out
}
