package observe

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/internal/problem"
)

// Handler instruments next: for every request it continues the caller's W3C trace (and
// baggage), starts one server span, adopts or generates the request id and echoes it in
// X-Request-ID, recovers panics into a problem+json 500, and records the RED metrics.
//
// The span and the metrics are named after the route, never the raw path: the huma
// operation ID when [Observer.Huma] runs inside, else the pattern that a net/http
// [http.ServeMux] matched (r.Pattern), else [Unmatched].
func (o *Observer) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.serveHTTP(next, w, r)
	})
}

func (o *Observer) serveHTTP(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if o.cfg.Filter != nil && !o.cfg.Filter(r) {
		next.ServeHTTP(w, r)
		return
	}
	st := &state{obs: o, w: w, start: o.now()}
	ctx := o.prop.Extract(r.Context(), headerCarrier(r.Header))
	// The method is the provisional span name: routing has not happened yet.
	ctx, span := o.tracer.Start(ctx, r.Method, o.startOpts...)
	st.Context = ctx
	st.setID(first(r.Header[requestIDKey]))
	w.Header()[requestIDKey] = st.idHeader[:]
	r = r.WithContext(st)
	defer func() {
		if v := recover(); v != nil {
			abort := v == http.ErrAbortHandler //nolint:errorlint // a sentinel compared by identity, as net/http does
			if !abort {
				o.recovered(st, o.resolve(st, r), v)
			}
			if abort || st.wroteHeader {
				// The status line is gone (or the handler asked for it): aborting the
				// connection is the only way to tell the client the response is incomplete.
				o.end(st, span, o.resolve(st, r), r, http.StatusInternalServerError)
				panic(http.ErrAbortHandler)
			}
			// Headers the handler set before panicking (Content-Length, Set-Cookie) belong
			// to a response that will never be sent.
			h := st.Header()
			id := h[requestIDKey]
			clear(h)
			h[requestIDKey] = id
			problem.New(st, r, http.StatusInternalServerError, "internal server error")
		}
		o.end(st, span, o.resolve(st, r), r, st.status)
	}()
	next.ServeHTTP(st, r)
}

func (st *state) setID(incoming string) {
	if ValidRequestID(incoming) {
		st.id = incoming
	} else {
		st.id = newRequestID()
	}
	st.idHeader[0] = st.id
}

// resolve names the request after routing: Huma has set the operation, or the ServeMux
// has set the pattern it matched, on this request or (through Routes) on a copy.
func (o *Observer) resolve(st *state, r *http.Request) *operation {
	switch {
	case st.op != nil:
		return st.op
	case r.Pattern != "":
		return o.ops.forPattern(r.Pattern)
	default:
		return o.ops.forPattern(st.pattern)
	}
}

// Routes passes the pattern that mux matched back to the enclosing [Observer.Handler].
// Handler sees the pattern by itself when it wraps the ServeMux directly; when other
// middleware sits in between, it hands the mux a copy of the request (r.WithContext), the
// mux records the pattern on that copy, and the span would be named after no route. Wrap
// the mux to fix that:
//
//	obs.Handler(authn.Handler(limits.Handler(observe.Routes(mux))))
//
// Huma operations need nothing of the kind: [Observer.Huma] names them.
func Routes(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if st := stateFrom(r.Context()); st != nil && r.Pattern != "" {
				st.pattern = r.Pattern
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// end records the request once, with the second and last clock reading. A sampled span
// gets all its attributes here in one call, so the SDK grows and deduplicates them once.
func (o *Observer) end(st *state, span trace.Span, op *operation, r *http.Request, status int) {
	end := o.now()
	if status == 0 {
		status = http.StatusOK // the handler wrote nothing; net/http sends 200
	}
	o.record(st, op, r, status, end.Sub(st.start))
	if span.IsRecording() {
		span.SetName(op.spanName(r.Method))
		span.SetAttributes(spanAttrs(r, op, status)...)
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
	// No end timestamp: the SDK reads its clock in End whether given one or not, so passing
	// ours would only cost an allocation.
	span.End()
}

func (o *Observer) record(ctx context.Context, op *operation, r *http.Request, status int, d time.Duration) {
	cls := statusClass(status)
	m := o.metrics
	m.requests.Add(ctx, 1, op.add[cls]...)
	m.duration.Record(ctx, d.Seconds(), op.rec[cls]...)
	if status >= 500 {
		m.errors.Add(ctx, 1, op.other...)
	}
	if o.cfg.AccessLog {
		o.logger.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("operation", op.name), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Duration("duration", d))
	}
}

// recovered logs and counts a panic. The response never carries the panic value or the
// stack; the log record does, with the trace and request ids to find it by.
func (o *Observer) recovered(st *state, op *operation, v any) {
	o.metrics.panics.Add(st, 1, op.other...)
	o.logger.LogAttrs(st, slog.LevelError, "panic serving request",
		slog.String("operation", op.name), slog.String("panic", fmt.Sprint(v)),
		slog.String("stack", string(debug.Stack())))
}

// spanAttrs are the semantic-convention attributes of a sampled request; unsampled
// requests never compute them.
func spanAttrs(r *http.Request, op *operation, status int) []attribute.KeyValue {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := make([]attribute.KeyValue, 0, 11)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.HTTPRoute(op.route),
		semconv.HTTPResponseStatusCode(status),
		semconv.URLScheme(scheme),
		semconv.URLPath(r.URL.Path),
		semconv.NetworkProtocolVersion(protoVersion(r)),
	)
	if host, port := splitHostPort(r.Host); host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	if host, port := splitHostPort(r.RemoteAddr); host != "" {
		attrs = append(attrs, semconv.NetworkPeerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(port))
		}
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	return attrs
}

func protoVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 3:
		return "3"
	default:
		return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
	}
}

// splitHostPort splits "host", "host:port", "[v6]" and "[v6]:port" without allocating;
// port is 0 when absent or invalid.
func splitHostPort(hp string) (host string, port int) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return hp, 0
		}
		host, hp = hp[1:end], hp[end+1:]
		if p, ok := strings.CutPrefix(hp, ":"); ok {
			port, _ = strconv.Atoi(p)
		}
		return host, port
	}
	i := strings.LastIndexByte(hp, ':')
	if i < 0 || strings.IndexByte(hp[:i], ':') >= 0 { // no port, or a bare IPv6 address
		return hp, 0
	}
	port, err := strconv.Atoi(hp[i+1:])
	if err != nil || port < 0 || port > 65535 {
		port = 0
	}
	return hp[:i], port
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
