// Package sfu is hibiki's media plane: it moves RTP from publishers to
// subscribers and knows nothing about signaling.
//
// The packet path, in order:
//
//   - A publisher's pion TrackRemote is read by a Receiver, one goroutine
//     per simulcast layer. The Receiver parses each packet once (RTP header,
//     VP8 descriptor or H264 keyframe check) into a Packet that is shared,
//     read only, by every subscriber.
//   - For each subscriber, a Forwarder decides what to do with the Packet:
//     drop it (other layer, dropped temporal layer, muted, waiting for a
//     keyframe) or forward it with a rewritten sequence number, timestamp
//     and VP8 picture id / TL0PICIDX, so that the subscriber sees one
//     continuous stream across layer switches. The decision is a value; the
//     Forwarder does no I/O, which keeps it testable without a network.
//   - The DownTrack applies the Decision (header rewrite, RewriteVP8 when
//     asked) and writes to the pion TrackLocalWriter.
//   - pion's interceptors (NACK, reports, congestion control) and SRTP take
//     it from there.
//
// Keyframe requests from many subscribers for one published track are
// coalesced by a KeyframeThrottle; SelectLayer turns a subscriber's wanted
// size and bandwidth into a target layer.
package sfu
