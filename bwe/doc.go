// Package bwe holds the pion interceptors and decision logic that sit between
// the network and the forwarding plane: bandwidth estimation, layer
// allocation, RFC 6464 audio levels and dominant-speaker detection.
//
// It imports neither hibiki/sfu nor hibiki/signaling. Where it needs something
// from them it declares a small interface (LevelSink, for instance) that the
// server satisfies when it wires the packages together in cmd/hibiki.
package bwe
