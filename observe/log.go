package observe

import (
	"context"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys added to every record logged with a request's context.
const (
	TraceIDKey   = "trace_id"
	SpanIDKey    = "span_id"
	RequestIDKey = "request_id"
)

// LogHandler wraps h so that records logged with a context carrying a span gain trace_id
// and span_id, and records logged within a request served by Handler or Huma gain
// request_id. The ids stay at the top level of the record even when the logger has open
// groups, where log backends look for them.
func LogHandler(h slog.Handler) slog.Handler {
	if lh, ok := h.(*logHandler); ok {
		return lh
	}
	return &logHandler{inner: h}
}

type logHandler struct {
	inner slog.Handler // with the attributes added before any group
	// groups are the open groups, outermost first; attrs[i] were added inside groups[:i+1].
	groups []string
	attrs  [][]slog.Attr
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	ids := correlation(ctx)
	if len(h.groups) == 0 {
		if len(ids) > 0 {
			r = r.Clone()
			r.AddAttrs(ids...)
		}
		return h.inner.Handle(ctx, r)
	}
	// Rebuild the record with the ids first and everything else nested in the open groups.
	var nested []slog.Attr
	r.Attrs(func(a slog.Attr) bool { nested = append(nested, a); return true })
	for i := len(h.groups) - 1; i >= 0; i-- {
		nested = append(slices.Clip(h.attrs[i]), nested...)
		nested = []slog.Attr{slog.Attr{Key: h.groups[i], Value: slog.GroupValue(nested...)}}
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(ids...)
	out.AddAttrs(nested...)
	return h.inner.Handle(ctx, out)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	if len(h.groups) == 0 {
		return &logHandler{inner: h.inner.WithAttrs(as)}
	}
	c := h.clone()
	last := len(c.attrs) - 1
	c.attrs[last] = append(slices.Clip(c.attrs[last]), as...)
	return c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := h.clone()
	c.groups = append(c.groups, name)
	c.attrs = append(c.attrs, nil)
	return c
}

func (h *logHandler) clone() *logHandler {
	return &logHandler{inner: h.inner, groups: slices.Clip(h.groups), attrs: slices.Clone(h.attrs)}
}

func correlation(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	var ids []slog.Attr
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		ids = append(ids, slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	if id := RequestID(ctx); id != "" {
		ids = append(ids, slog.String(RequestIDKey, id))
	}
	return ids
}
