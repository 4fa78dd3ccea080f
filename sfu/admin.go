package sfu

// Operator actions and read-only views used by the admin API and metrics.
// They reuse the participant and track paths the signaling layer drives, so
// an operator's action looks to the room exactly like the client's own.

// Remove tells the participant it was removed (its signaling session then
// closes its socket), closes its connections and lets the room see it leave.
func (p *Participant) Remove(reason string) {
	p.notify(Removed{Reason: reason})
	p.Leave()
}

// Track returns the published track with that SID in the room, or nil.
func (r *Room) Track(sid string) *PublishedTrack { return r.findTrack(sid) }

// Tracks returns the participant's tracks whose media has arrived.
func (p *Participant) Tracks() []*PublishedTrack { return p.announcedTracks() }

// Subscribers returns how many subscriptions (participants and WHEP
// viewers) the track currently feeds.
func (t *PublishedTrack) Subscribers() int { return len(*t.downs.Load()) }

// Layers returns what is known of each spatial layer of the track as it
// arrives here (for a relayed track, as the relay delivers it): the view
// the forwarders choose from.
func (t *PublishedTrack) Layers() []LayerInfo { return t.layerInfos() }
