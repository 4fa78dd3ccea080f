package media

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// AudioFrameSamples is the length of one Opus packet in the clip in samples
// (20 ms at 48 kHz), which is also the RTP timestamp step.
const AudioFrameSamples = 960

// AudioFrame is one 20 ms Opus packet with the level of the PCM it encodes.
type AudioFrame struct {
	Data []byte
	// Level is the RFC 6464 audio level in -dBov (0 loudest, 127 silence).
	Level uint8
	// Voiced is true inside the clip's speech section.
	Voiced bool
}

// AudioClip is the whole Opus clip in memory.
type AudioClip struct {
	Frames []AudioFrame
	// Speech and Silence are the [start, end) frame ranges of the two
	// sections, so a bot can follow its own speaking schedule by looping
	// inside one of them.
	Speech, Silence [2]int
}

// ParseOgg reads an Ogg Opus file written with one packet per page and
// attaches the level table (one "<level> <voiced>" line per packet).
func ParseOgg(ogg, levels []byte) (*AudioClip, error) {
	r, _, err := oggreader.NewWith(bytes.NewReader(ogg))
	if err != nil {
		return nil, fmt.Errorf("ogg header: %w", err)
	}
	table, err := parseLevels(levels)
	if err != nil {
		return nil, err
	}
	clip := &AudioClip{}
	for {
		page, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ogg page: %w", err)
		}
		if _, isHeader := hdr.HeaderType(page); isHeader || len(page) == 0 {
			continue
		}
		clip.Frames = append(clip.Frames, AudioFrame{Data: page})
	}
	if len(clip.Frames) == 0 {
		return nil, fmt.Errorf("%w: no audio frames", ErrBadClip)
	}
	// The encoder may emit one packet more than the PCM has frames (its
	// look-ahead); such a tail frame gets the last measured level.
	for i := range clip.Frames {
		e := table[min(i, len(table)-1)]
		clip.Frames[i].Level, clip.Frames[i].Voiced = e.level, e.voiced
	}
	clip.Speech, clip.Silence = sections(clip.Frames)
	if clip.Speech[1] == clip.Speech[0] || clip.Silence[1] == clip.Silence[0] {
		return nil, fmt.Errorf("%w: audio needs a speech and a silence section", ErrBadClip)
	}
	return clip, nil
}

type levelEntry struct {
	level  uint8
	voiced bool
}

func parseLevels(data []byte) ([]levelEntry, error) {
	var out []levelEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("%w: level line %d: %q", ErrBadClip, len(out)+1, sc.Text())
		}
		lvl, err := strconv.ParseUint(fields[0], 10, 8)
		if err != nil || lvl > 127 {
			return nil, fmt.Errorf("%w: level line %d: %q", ErrBadClip, len(out)+1, sc.Text())
		}
		out = append(out, levelEntry{level: uint8(lvl), voiced: fields[1] == "1"})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read levels: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty level table", ErrBadClip)
	}
	return out, nil
}

// sections finds the first voiced run and the first unvoiced run after it.
func sections(frames []AudioFrame) (speech, silence [2]int) {
	i := 0
	for i < len(frames) && !frames[i].Voiced {
		i++
	}
	speech[0] = i
	for i < len(frames) && frames[i].Voiced {
		i++
	}
	speech[1] = i
	silence[0] = i
	for i < len(frames) && !frames[i].Voiced {
		i++
	}
	silence[1] = i
	return speech, silence
}
