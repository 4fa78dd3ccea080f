package sfu

// ParticipantInfo is the public view of a participant.
type ParticipantInfo struct {
	SID      string
	Identity string
	Name     string
	Tracks   []TrackInfo
}

// TrackInfo is the public view of a published track.
type TrackInfo struct {
	SID       string
	ClientID  string
	Kind      Kind
	Source    string
	Name      string
	Muted     bool
	Simulcast bool
	MimeType  string
	Width     int
	Height    int
	Layers    []LayerSpec
}

// LayerSpec is what the publisher announced about one simulcast encoding.
type LayerSpec struct {
	RID           string
	Width, Height int
}

// TrackRequest is a publisher's announcement of a track it is about to send.
type TrackRequest struct {
	ClientID      string
	Kind          Kind
	Source        string
	Name          string
	Muted         bool
	Width, Height int
	Layers        []LayerSpec
}
