module github.com/hibiki-sfu/hibiki

go 1.26.8

require (
	github.com/pion/randutil v0.1.0 // indirect
	github.com/pion/rtp v1.10.6 // indirect
)
