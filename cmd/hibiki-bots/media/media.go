// Package media holds the bots' embedded clips, parsed once into memory.
//
// The clips are made by gen.sh from ffmpeg test sources: three frame-aligned
// VP8 clips (one per simulcast layer) and an Opus clip with a speech section
// and a silence section, plus a table of each audio frame's RFC 6464 level.
// Bots share one *Clips: parsing copies every frame out of the container, so
// a load test with a hundred bots parses once, not a hundred times.
package media

import (
	"embed"
	"fmt"
)

//go:embed video_320x180.ivf video_640x360.ivf video_1280x720.ivf audio.ogg audio_levels.txt
var files embed.FS

// layerFiles names the clip of each simulcast layer, lowest first, in the
// order the protocol lists layers ("q", "h", "f").
func layerFiles() [3]string {
	return [3]string{"video_320x180.ivf", "video_640x360.ivf", "video_1280x720.ivf"}
}

// RIDs are the simulcast stream ids of the three layers, lowest first.
func RIDs() [3]string { return [3]string{"q", "h", "f"} }

// Clips are the parsed media every bot plays. They are read-only after Load.
type Clips struct {
	// Video holds one clip per simulcast layer, lowest first. All have the
	// same frame count and keyframes at the same indexes.
	Video [3]*VideoClip
	Audio *AudioClip
}

// Load parses the embedded clips.
func Load() (*Clips, error) {
	var c Clips
	names := layerFiles()
	for i, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		v, err := ParseIVF(data)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		c.Video[i] = v
	}
	for i := 1; i < len(c.Video); i++ {
		if len(c.Video[i].Frames) != len(c.Video[0].Frames) {
			return nil, fmt.Errorf("%w: %s has %d frames, %s has %d", ErrBadClip,
				names[i], len(c.Video[i].Frames), names[0], len(c.Video[0].Frames))
		}
	}
	ogg, err := files.ReadFile("audio.ogg")
	if err != nil {
		return nil, fmt.Errorf("read audio.ogg: %w", err)
	}
	levels, err := files.ReadFile("audio_levels.txt")
	if err != nil {
		return nil, fmt.Errorf("read audio_levels.txt: %w", err)
	}
	if c.Audio, err = ParseOgg(ogg, levels); err != nil {
		return nil, fmt.Errorf("parse audio: %w", err)
	}
	return &c, nil
}
