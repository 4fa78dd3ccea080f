#!/usr/bin/env bash
# gen.sh re-makes the bots' media clips from ffmpeg's test sources. The output
# is committed, so this runs only when the clips must change:
#
#   bash cmd/hibiki-bots/media/gen.sh
#
# Video: one testsrc2 picture (moving pattern plus a frame counter) rendered at
# 1280x720 and scaled down inside the same filter graph, so the three VP8 clips
# (q 320x180, h 640x360, f 1280x720) have the same frame count and show the
# same picture at the same index: a simulcast sender can switch layers at any
# frame. Keyframes sit exactly every 60 frames in all three; no alt-ref
# (hidden) frames, so one IVF frame is one displayed frame.
#
# Audio: 48 kHz mono Opus, 20 ms frames, one packet per Ogg page (what pion's
# oggreader hands out). The first SPEECH_S seconds are a syllable-modulated
# harmonic voice; the rest is a faint noise floor. audio_levels.txt holds one
# line per 20 ms frame, "<level> <voiced>", where level is the RFC 6464 audio
# level (-dBov, 0..127) measured on the PCM that was encoded and voiced is 1
# inside the speech section.
set -euo pipefail

cd "$(dirname "$0")"

DURATION=10     # seconds; 300 video frames, 500 audio frames
FPS=30
GOP=60
SPEECH_S=6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

FONT=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
frames=$((DURATION * FPS))

vp8() { # <bitrate> : common libvpx settings for realtime-like CBR streams
	echo -c:v libvpx -deadline realtime -cpu-used 8 -b:v "$1" -minrate "$1" -maxrate "$1" \
		-bufsize "$1" -g $GOP -keyint_min $GOP -force_key_frames "expr:eq(mod(n,$GOP),0)" \
		-auto-alt-ref 0 -lag-in-frames 0 -drop-threshold 0 -error-resilient 1 \
		-frames:v $frames -f ivf
}

ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=1280x720:rate=$FPS:duration=$DURATION" \
	-filter_complex "[0:v]drawtext=fontfile=$FONT:text='%{frame_num}':x=40:y=40:fontsize=96:fontcolor=white:box=1:boxcolor=black@0.7,format=yuv420p,split=3[f][h0][q0];[h0]scale=640:360[h];[q0]scale=320:180[q]" \
	-map '[q]' $(vp8 150k) video_320x180.ivf \
	-map '[h]' $(vp8 500k) video_640x360.ivf \
	-map '[f]' $(vp8 1300k) video_1280x720.ivf

# Speech: harmonics of a wandering pitch, gated into ~4 syllables per second
# with word pauses, so the level varies like a voice. Under both sections a
# noise floor near -77 dBov, as a real microphone has.
voice="(sin(2*PI*(140+25*sin(2*PI*0.9*t))*t)+0.5*sin(4*PI*(140+25*sin(2*PI*0.9*t))*t)+0.25*sin(6*PI*(140+25*sin(2*PI*0.9*t))*t)+0.05*(2*random(0)-1))"
envelope="pow(max(0,sin(2*PI*3.7*t)),0.6)*(0.55+0.45*sin(2*PI*0.43*t))*gt(sin(2*PI*0.55*t+1),-0.7)"
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "aevalsrc=exprs='if(lt(t,$SPEECH_S),0.45*$envelope*$voice,0)+0.00025*(2*random(1)-1)':sample_rate=48000:duration=$DURATION" \
	-c:a pcm_s16le "$tmp/audio.wav"

ffmpeg -hide_banner -loglevel error -y -i "$tmp/audio.wav" \
	-c:a libopus -b:a 32k -application voip -frame_duration 20 -vbr on \
	-page_duration 20000 -map_metadata -1 audio.ogg

# Per-20ms RMS of the same PCM. astats prints "-inf" for digital silence.
ffmpeg -hide_banner -loglevel error -y -i "$tmp/audio.wav" \
	-af "asetnsamples=n=960:p=1,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=$tmp/rms.txt" \
	-f null -
grep RMS_level "$tmp/rms.txt" | sed 's/.*=//' | awk -v fps=50 -v speech="$SPEECH_S" '
	{ lvl = ($1 == "-inf") ? 127 : int(-$1 + 0.5); if (lvl < 0) lvl = 0; if (lvl > 127) lvl = 127
	  printf "%d %d\n", lvl, (NR - 1 < speech * fps) ? 1 : 0 }' > audio_levels.txt

ls -l ./*.ivf ./*.ogg audio_levels.txt
