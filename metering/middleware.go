package metering

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/internal/ctxvalue"
	"github.com/tollgate-dev/tollgate/internal/problem"
)

// metadataKey holds an operation's metering settings in huma.Operation.Metadata.
const metadataKey = "tollgate.metering"

// ExtensionKey is the OpenAPI extension that documents an operation's default units.
const ExtensionKey = "x-tollgate-meter"

type opSpec struct {
	units map[string]int64
	skip  bool
}

func specOf(op *huma.Operation) opSpec {
	if op == nil || op.Metadata == nil {
		return opSpec{}
	}
	s, _ := op.Metadata[metadataKey].(opSpec)
	return s
}

func setSpec(op *huma.Operation, f func(*opSpec)) {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	s := specOf(op)
	s.units = maps.Clone(s.units)
	f(&s)
	op.Metadata[metadataKey] = s
}

// Units is an operation modifier declaring that each successful call of the operation
// consumes n units of meter. It configures the middleware and documents the meter in the
// OpenAPI document as the "x-tollgate-meter" extension ({"deliveries": 1}), so what the
// documentation promises is what is billed. Apply it several times for several meters.
// Failed calls (status 400 and above) are metered with no declared units.
//
// The name is checked here, once, rather than on every event: Units panics when the
// operation is registered if meter is empty, over 1024 bytes, not UTF-8 or holds NUL.
func Units(meter string, n int64) func(*huma.Operation) {
	if err := checkMeter(meter); err != nil {
		panic(fmt.Sprintf("metering.Units(%q): %v", meter, err))
	}
	return func(op *huma.Operation) {
		setSpec(op, func(s *opSpec) {
			if s.units == nil {
				s.units = map[string]int64{}
			}
			s.units[meter] = n
		})
		if op.Extensions == nil {
			op.Extensions = map[string]any{}
		}
		op.Extensions[ExtensionKey] = maps.Clone(specOf(op).units)
	}
}

// Skip is an operation modifier that leaves the operation unmetered (health checks, the
// usage endpoint itself if it should not count).
func Skip() func(*huma.Operation) {
	return func(op *huma.Operation) { setSpec(op, func(s *opSpec) { s.skip = true }) }
}

// Huma returns huma middleware that records one event per call of every operation not
// marked Skip, including rejected calls (a 429 from a rate limiter placed after it, a 4xx
// from validation), which carry only the units the handler added. Place it after
// authentication so the event carries the consumer.
//
// Under OverflowReject, a billable operation (one with Units) is refused with 503 and
// Retry-After while the queue is full, before its handler runs. Call it before registering
// operations: it documents that 503 on every billable operation.
func (m *Meter) Huma(api huma.API) func(huma.Context, func(huma.Context)) {
	oapi := api.OpenAPI()
	oapi.OnAddOperation = append(oapi.OnAddOperation, func(oapi *huma.OpenAPI, op *huma.Operation) {
		// Saturated also holds without a spool directory, or while the spool fails, under
		// any overflow policy: every billable operation can be refused.
		if len(specOf(op).units) == 0 {
			return
		}
		r := problem.ErrorResponse(oapi, op, http.StatusServiceUnavailable, "Usage metering is saturated; retry shortly.")
		problem.Header(r, "Retry-After", "integer", "Seconds to wait before retrying.")
	})
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		spec := specOf(op)
		if spec.skip {
			next(ctx)
			return
		}
		if len(spec.units) > 0 && m.Saturated() {
			ctx.SetHeader("Retry-After", "1")
			_ = huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "usage metering is saturated; retry shortly")
			return
		}
		// One allocation holds the call's accumulator, the context that carries it and the
		// byte counters.
		cc := &countingContext{humaCtx: ctx}
		cc.vctx = ctxvalue.Context[accumulatorKey, *Accumulator]{Context: ctx.Context(), Val: &cc.acc}
		acc := &cc.acc
		start := m.cfg.Now()
		var opID string
		if op != nil {
			opID = op.OperationID
		}
		var reqBytes int64
		if cl := ctx.Header("Content-Length"); cl != "" {
			// Only a present header is parsed: ParseInt's error for "" allocates.
			reqBytes, _ = strconv.ParseInt(cl, 10, 64)
		}
		defer func() {
			status := ctx.Status()
			if p := recover(); p != nil {
				status = http.StatusInternalServerError
				defer panic(p)
			}
			m.finish(cc.Context(), acc, spec, opID, status, start, max(reqBytes, cc.read), cc.n, ctx.Header("Idempotency-Key"))
		}()
		next(cc)
	}
}

// Handler returns net/http middleware that records one event per request. The operation is
// the http.ServeMux pattern that matched ("POST /v1/deliveries"), or the method when the
// mux is not the standard one. Handlers add units with FromContext(ctx).Add.
//
// Without huma's operation metadata the adapter cannot tell billable routes apart, so under
// OverflowReject a saturated Meter refuses every request with 503.
func (m *Meter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.Saturated() {
			w.Header().Set("Retry-After", "1")
			problem.New(w, r, http.StatusServiceUnavailable, "usage metering is saturated; retry shortly")
			return
		}
		acc := &Accumulator{}
		r = r.WithContext(NewContext(r.Context(), acc))
		cw := &countingWriter{ResponseWriter: w}
		start := m.cfg.Now()
		defer func() {
			op := r.Pattern
			if op == "" {
				op = boundAttr(r.Method) // client-chosen with other routers
			}
			status := cw.status
			if status == 0 {
				status = http.StatusOK
			}
			if p := recover(); p != nil {
				status = http.StatusInternalServerError
				defer panic(p)
			}
			m.finish(r.Context(), acc, opSpec{}, op, status, start, max(r.ContentLength, 0), cw.n, r.Header.Get("Idempotency-Key"))
		}()
		next.ServeHTTP(cw, r)
	})
}

func (m *Meter) finish(ctx context.Context, acc *Accumulator, spec opSpec, op string, status int,
	start time.Time, reqBytes, respBytes int64, idemKey string) {
	if status == 0 {
		status = http.StatusOK
	}
	// The header is the client's: bound it so no key can make Record refuse the event.
	idemKey = boundAttr(idemKey)
	ok := status < 400
	ev := Event{
		Time: start, Operation: op, Status: status, Latency: m.cfg.Now().Sub(start),
		RequestBytes: max(reqBytes, 0), ResponseBytes: respBytes,
		Units: acc.merge(spec.units, ok), IdempotencyKey: idemKey,
	}
	if p := auth.FromContext(ctx); p != nil && p.Consumer != "" && idemKey != "" && ok {
		// Only a successful call by a known consumer takes the derived id: a failed attempt
		// must not hide the retry that succeeds, and anonymous callers must not share keys.
		ev.ID = DeriveID(m.cfg.Source, p.Consumer, op, idemKey)
	}
	// The request context may already be cancelled; Record does not care.
	// The meter names were checked where they were declared: Units and Accumulator.Add.
	switch err := m.record(ctx, &ev, false); {
	case errors.Is(err, ErrNotDurable):
		m.log.WarnContext(ctx, "metering: usage event accepted but not yet spooled", slog.String("operation", op),
			slog.Int("status", status), slog.Any("err", err))
	case err != nil:
		m.log.ErrorContext(ctx, "metering: usage event not accepted", slog.String("operation", op),
			slog.Int("status", status), slog.Any("err", err))
	}
}

// humaCtx lets countingContext embed huma.Context without the field's name hiding the
// interface's Context method.
type humaCtx huma.Context

// countingContext is the huma.Context the operation sees: its Context carries the call's
// Accumulator, and it counts the body bytes read and written.
type countingContext struct {
	humaCtx
	vctx ctxvalue.Context[accumulatorKey, *Accumulator]
	acc  Accumulator
	n    int64
	w    *countingWriterTo
	read int64
}

// Context returns the request's context with the call's Accumulator in it.
func (c *countingContext) Context() context.Context { return &c.vctx }

// BodyReader counts the request body bytes the operation reads; huma reads the whole body
// before the handler runs, so this is the body size even without a Content-Length.
func (c *countingContext) BodyReader() io.Reader {
	return &countingReader{r: c.humaCtx.BodyReader(), n: &c.read}
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

func (c *countingContext) BodyWriter() io.Writer {
	if c.w == nil {
		c.w = &countingWriterTo{w: c.humaCtx.BodyWriter(), n: &c.n}
	}
	return c.w
}

// Unwrap lets adapter helpers such as humago.Unwrap reach the router's context.
func (c *countingContext) Unwrap() huma.Context { return c.humaCtx }

type countingWriterTo struct {
	w io.Writer
	n *int64
}

func (c *countingWriterTo) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// Flush passes streaming flushes through.
func (c *countingWriterTo) Flush() {
	if f, ok := c.w.(http.Flusher); ok {
		f.Flush()
	}
}

// countingWriter records the status and counts the body bytes of a net/http response.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Unwrap gives http.ResponseController the underlying writer (Flush, deadlines, hijack).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
