// Package sfu is hibiki's media plane: it moves RTP from publishers to
// subscribers and knows nothing about signaling.
//
// The packet path, in order:
//
//   - A publisher's pion TrackRemote is read by a Receiver, one goroutine
//     per simulcast layer. The Receiver parses each packet once (RTP header,
//     VP8 descriptor or H264 keyframe check) into a Packet that is shared,
//     read only, by every subscriber, and copies video packets into the
//     layer's packetCache (buffer.go), a fixed-slot ring shared by all
//     subscribers of the layer.
//   - For each subscriber, a Forwarder decides what to do with the Packet:
//     drop it (other layer, dropped temporal layer, muted, waiting for a
//     keyframe) or forward it with a rewritten sequence number, timestamp
//     and VP8 picture id / TL0PICIDX, so that the subscriber sees one
//     continuous stream across layer switches. The decision is a value; the
//     Forwarder does no I/O, which keeps it testable without a network.
//   - The DownTrack applies the Decision (header rewrite, RewriteVP8 when
//     asked), records it in its sequencer (sequencer.go: output sequence
//     number -> layer, source sequence number, rewrite) and writes to the
//     pion TrackLocalWriter.
//   - pion's interceptors (sender reports, TWCC sequence numbers) and SRTP
//     take it from there.
//   - A subscriber's NACK is answered by its DownTrack (nack.go): the
//     sequencer names the source packet, which is copied out of the layer
//     cache and rewritten exactly as the first time. pion's NACK responder
//     is not used: it would keep a copy of every sent packet per subscriber.
//
// Keyframe requests from many subscribers for one published track are
// coalesced by a KeyframeThrottle; SelectLayer turns a subscriber's wanted
// size and bandwidth into a target layer.
package sfu
