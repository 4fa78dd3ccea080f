// Command embed shows hibiki used as a library: the SFU and its signaling
// mounted on an application's own http.ServeMux, with the application's own
// token check instead of hibiki's JWTs.
//
//	go run ./examples/embed
//
// then connect a client to ws://127.0.0.1:8080/rtc with the token
// "alice:wonderland" (see checkPassword below).
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// passwords stands in for the application's user database.
type passwords map[string]string

// Verify implements signaling.Verifier: the "token" is user:password, and
// every user lands in the room "lobby" with full grants.
func (p passwords) Verify(token string) (*signaling.Claims, error) {
	user, pass, ok := strings.Cut(token, ":")
	want, known := p[user]
	if !ok || !known || subtle.ConstantTimeCompare([]byte(pass), []byte(want)) != 1 {
		return nil, fmt.Errorf("%w: wrong user or password", signaling.ErrTokenInvalid)
	}
	return &signaling.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: user},
		Name:             user,
		Room:             "lobby",
		Grants:           signaling.AllGrants(),
	}, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run() error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	media, err := sfu.New(sfu.DefaultRTCConfig(), sfu.WithLogger(logger))
	if err != nil {
		return err
	}
	defer media.Close()
	sig := signaling.NewServer(media, signaling.Config{
		Verifier: passwords{"alice": "wonderland", "bob": "builder"},
		Logger:   logger,
	})
	defer sig.Close()

	mux := http.NewServeMux()
	mux.Handle("/rtc", sig)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "my application; signaling at /rtc")
	})

	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logger.Info("embedded hibiki on http://" + ln.Addr().String() + "/ (signaling at /rtc)")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
