package admin

import (
	"sort"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// RoomSummary is one entry of GET /admin/rooms.
type RoomSummary struct {
	Name         string `json:"name"`
	Participants int    `json:"participants"`
	Tracks       int    `json:"tracks"`
	Policy       Policy `json:"policy"`
}

// Room is GET /admin/rooms/{room}.
type Room struct {
	Name         string        `json:"name"`
	Policy       Policy        `json:"policy"`
	Participants []Participant `json:"participants"`
}

// Policy is a room's connectivity policy (PUT /admin/rooms/{room}/policy).
type Policy struct {
	RelayOnly bool `json:"relayOnly"`
}

// Participant is one participant with its published tracks.
type Participant struct {
	SID      string `json:"sid"`
	Identity string `json:"identity"`
	Name     string `json:"name,omitempty"`
	// Node names the node that serves a participant of a room spanning
	// nodes (its tracks arrive here over relays); empty when served here.
	Node          string   `json:"node,omitempty"`
	Tracks        []Track  `json:"tracks"`
	Subscriptions []string `json:"subscriptions"`
}

// Track is one published track.
type Track struct {
	SID         string `json:"sid"`
	Kind        string `json:"kind"`
	Source      string `json:"source"`
	Name        string `json:"name,omitempty"`
	MimeType    string `json:"mimeType"`
	Muted       bool   `json:"muted"`
	Simulcast   bool   `json:"simulcast"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	Subscribers int    `json:"subscribers"`
}

func summary(r *sfu.Room) RoomSummary {
	s := RoomSummary{Name: r.Name(), Policy: Policy(r.Policy())}
	for _, p := range r.Participants() {
		s.Participants++
		s.Tracks += len(p.Tracks())
	}
	return s
}

func roomView(r *sfu.Room) Room {
	out := Room{Name: r.Name(), Policy: Policy(r.Policy()), Participants: []Participant{}}
	for _, p := range r.Participants() {
		info := p.Info()
		subs := p.Subscriptions()
		sort.Strings(subs)
		v := Participant{SID: info.SID, Identity: info.Identity, Name: info.Name, Node: p.Origin(), Tracks: []Track{}, Subscriptions: subs}
		for _, t := range p.Tracks() {
			ti := t.Info()
			v.Tracks = append(v.Tracks, Track{
				SID: ti.SID, Kind: ti.Kind.String(), Source: ti.Source, Name: ti.Name, MimeType: ti.MimeType,
				Muted: ti.Muted, Simulcast: ti.Simulcast, Width: ti.Width, Height: ti.Height,
				Subscribers: t.Subscribers(),
			})
		}
		sort.Slice(v.Tracks, func(i, j int) bool { return v.Tracks[i].SID < v.Tracks[j].SID })
		out.Participants = append(out.Participants, v)
	}
	return out
}
