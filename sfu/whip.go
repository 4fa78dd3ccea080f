package sfu

import (
	"context"

	"github.com/pion/webrtc/v4"
)

// JoinWithOffer joins a participant that publishes with a single
// offer/answer exchange, as a WHIP client does. The offer is applied and
// answered before the participant enters the room, so a refused offer (bad
// SDP, no media the SFU can take) is never seen by the others. The answer
// waits for ICE gathering until ctx ends, because a WHIP client has no way
// to receive candidates trickled by the server.
func (s *SFU) JoinWithOffer(ctx context.Context, room string, req JoinRequest, n Notifier, offer string) (*Participant, string, error) {
	var answer string
	p, _, err := s.join(room, req, n, func(p *Participant) error {
		a, err := p.answerGathered(ctx, offer)
		answer = a
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return p, answer, nil
}

// answerGathered answers offer on the publish connection and returns the
// answer with the candidates gathered before ctx ended.
func (p *Participant) answerGathered(ctx context.Context, offer string) (string, error) {
	if _, err := p.HandleOffer(offer); err != nil {
		return "", err
	}
	pub := p.existingPublishPC() // HandleOffer made it
	waitGathering(ctx, pub)
	answer := pub.LocalDescription().SDP
	if !acceptsMedia(answer, webrtc.RTPTransceiverDirectionRecvonly) {
		return "", ErrNoMedia
	}
	return answer, nil
}

// waitGathering blocks until pc gathered all its candidates or ctx ends.
func waitGathering(ctx context.Context, pc *webrtc.PeerConnection) {
	select {
	case <-webrtc.GatheringCompletePromise(pc):
	case <-ctx.Done():
	}
}
