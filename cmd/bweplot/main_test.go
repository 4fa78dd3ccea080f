package main

import (
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestRunDrawsEveryCSV(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "png")
	csv := "t_s,link_kbps,estimate_kbps,gcc_kbps,acked_kbps,sent_kbps,allocated_kbps,probing,loss_pct,freezes,target_layer_0,recv_layer_0\n" +
		"0.1,800,1000,1000,0,0,462,true,0,0,1,1\n" +
		"0.2,800,700,650,690,700,540,false,5,0,1,-1\n" +
		"0.3,5000,900,700,700,700,540,false,0,0,2,1\n"
	if err := os.WriteFile(filepath.Join(in, "s.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out, io.Discard); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "s.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Fatalf("image %v", b)
	}
}

func TestRunWithoutData(t *testing.T) {
	if err := run(t.TempDir(), t.TempDir(), io.Discard); err == nil {
		t.Fatal("no error without CSV files")
	}
}
