package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/observe"
)

func TestLogHandler(t *testing.T) {
	t.Parallel()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	spanCtx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	cases := []struct {
		name string
		log  func(*slog.Logger)
		want map[string]any
	}{
		{"plain", func(l *slog.Logger) { l.InfoContext(spanCtx, "m", "k", 1) },
			map[string]any{"trace_id": tid.String(), "span_id": sid.String(), "k": 1.0}},
		{"no span", func(l *slog.Logger) { l.InfoContext(context.Background(), "m") },
			map[string]any{}},
		{"attrs", func(l *slog.Logger) { l.With("a", "x").InfoContext(spanCtx, "m") },
			map[string]any{"trace_id": tid.String(), "span_id": sid.String(), "a": "x"}},
		{"groups keep ids at top level", func(l *slog.Logger) {
			l.With("a", "x").WithGroup("g").With("b", "y").WithGroup("h").InfoContext(spanCtx, "m", "c", "z")
		}, map[string]any{"trace_id": tid.String(), "span_id": sid.String(), "a": "x",
			"g": map[string]any{"b": "y", "h": map[string]any{"c": "z"}}}},
		{"empty group elided", func(l *slog.Logger) { l.WithGroup("g").InfoContext(spanCtx, "m") },
			map[string]any{"trace_id": tid.String(), "span_id": sid.String()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			inner := slog.NewJSONHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
						return slog.Attr{}
					}
					return a
				},
			})
			h := observe.LogHandler(inner)
			assert.Same(t, h, observe.LogHandler(h), "wrapping twice adds nothing")
			c.log(slog.New(h))
			var got map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &got), buf.String())
			assert.Equal(t, c.want, got)
		})
	}
}
