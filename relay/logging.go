package relay

import (
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory routes pion/turn's logs into slog at one level lower than
// pion's names suggest: pion logs routine client mistakes as errors.
type slogFactory struct{ l *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.l.With("scope", scope)}
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Trace(string)          {}
func (s slogLogger) Tracef(string, ...any) {}
func (s slogLogger) Debug(msg string)      { s.l.Debug(msg) }
func (s slogLogger) Debugf(f string, a ...any) {
	s.l.Debug(fmt.Sprintf(f, a...))
}
func (s slogLogger) Info(msg string)          { s.l.Debug(msg) }
func (s slogLogger) Infof(f string, a ...any) { s.l.Debug(fmt.Sprintf(f, a...)) }
func (s slogLogger) Warn(msg string)          { s.l.Debug(msg) }
func (s slogLogger) Warnf(f string, a ...any) { s.l.Debug(fmt.Sprintf(f, a...)) }
func (s slogLogger) Error(msg string)         { s.l.Warn(msg) }
func (s slogLogger) Errorf(f string, a ...any) {
	s.l.Warn(fmt.Sprintf(f, a...))
}
