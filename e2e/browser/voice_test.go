package browser

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// voiceSeconds is the length of the fake microphone's clip; Chromium loops it.
const voiceSeconds = 10

// voiceFile writes a speech-like clip for Chromium's fake microphone
// (--use-file-for-fake-audio-capture) and returns its path. Chromium's own
// fake microphone beeps for 20 ms every 500 ms, which the server's
// dominant-speaker detection rightly never takes for speech. The clip is
// the bots' voice (cmd/hibiki-bots/media/gen.sh): harmonics of a wandering
// pitch, gated into about four syllables a second with word pauses, over a
// faint noise floor; 48 kHz mono 16-bit PCM.
func voiceFile(t *testing.T) string {
	t.Helper()
	const rate = 48000
	n := voiceSeconds * rate
	rng := rand.New(rand.NewPCG(1, 2))
	pcm := make([]byte, 44+2*n)
	for i := range n {
		x := float64(i) / rate
		f := 140 + 25*math.Sin(2*math.Pi*0.9*x)
		voice := math.Sin(2*math.Pi*f*x) + 0.5*math.Sin(4*math.Pi*f*x) + 0.25*math.Sin(6*math.Pi*f*x) + 0.05*(2*rng.Float64()-1)
		env := math.Pow(math.Max(0, math.Sin(2*math.Pi*3.7*x)), 0.6) * (0.55 + 0.45*math.Sin(2*math.Pi*0.43*x))
		if math.Sin(2*math.Pi*0.55*x+1) <= -0.7 {
			env = 0 // a pause between words
		}
		v := 0.45*env*voice + 0.00025*(2*rng.Float64()-1)
		binary.LittleEndian.PutUint16(pcm[44+2*i:], uint16(int16(math.Round(math.Max(-1, math.Min(1, v))*32767))))
	}
	copy(pcm[0:], "RIFF")
	binary.LittleEndian.PutUint32(pcm[4:], uint32(36+2*n))
	copy(pcm[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(pcm[16:], 16)
	binary.LittleEndian.PutUint16(pcm[20:], 1) // PCM
	binary.LittleEndian.PutUint16(pcm[22:], 1) // mono
	binary.LittleEndian.PutUint32(pcm[24:], rate)
	binary.LittleEndian.PutUint32(pcm[28:], 2*rate)
	binary.LittleEndian.PutUint16(pcm[32:], 2)
	binary.LittleEndian.PutUint16(pcm[34:], 16)
	copy(pcm[36:], "data")
	binary.LittleEndian.PutUint32(pcm[40:], uint32(2*n))
	path := filepath.Join(t.TempDir(), "voice.wav")
	if err := os.WriteFile(path, pcm, 0o644); err != nil {
		t.Fatalf("write the fake microphone's clip: %v", err)
	}
	return path
}
