package main

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sandbox is a small stand-in for a third-party API on loopback, with the behaviour that
// matters to a client: validation errors as problem+json, replay of requests that repeat an
// Idempotency-Key, and failures on demand (see upstreams.go).
type sandbox struct {
	url    string
	srv    *http.Server
	mux    *http.ServeMux
	mu     sync.Mutex
	mode   failureMode
	left   int // requests still to fail in mode; 0 means until told otherwise
	stats  sandboxStats
	replay map[string]storedReply // by Idempotency-Key
}

type failureMode string

const (
	failureNone  failureMode = "none"
	failure503   failureMode = "503"
	failureReset failureMode = "reset"
	failureSlow  failureMode = "slow"
)

type sandboxStats struct {
	Requests int            `json:"requests"` // every request to the API, failed or not
	Created  int            `json:"created"`  // charges or messages created
	Replayed int            `json:"replayed"` // requests answered from the idempotency store
	ByKey    map[string]int `json:"by_key"`   // requests per Idempotency-Key
	Mode     failureMode    `json:"mode"`
}

type storedReply struct {
	request []byte
	status  int
	body    []byte
}

// create handles a validated request body and returns the created resource.
type create func(body []byte) (status int, resource any, problem string)

func newSandbox(path string, keyRequired bool, h create) *sandbox {
	sb := &sandbox{mux: http.NewServeMux(), mode: failureNone, replay: map[string]storedReply{}}
	sb.stats.ByKey = map[string]int{}
	sb.mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) { sb.serve(w, r, keyRequired, h) })
	sb.mux.HandleFunc("PUT /sandbox/failure", func(w http.ResponseWriter, r *http.Request) {
		mode := failureMode(r.URL.Query().Get("mode"))
		count, err := strconv.Atoi(cmp.Or(r.URL.Query().Get("count"), "0"))
		switch {
		case mode != failureNone && mode != failure503 && mode != failureReset && mode != failureSlow:
			problem(w, http.StatusBadRequest, "mode must be none, 503, reset or slow")
		case err != nil || count < 0:
			problem(w, http.StatusBadRequest, "count must be a non-negative number of requests")
		default:
			sb.setFailure(mode)
			sb.mu.Lock()
			sb.left = count
			sb.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	})
	sb.mux.HandleFunc("GET /sandbox/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, sb.snapshot())
	})
	return sb
}

var (
	e164     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	currency = regexp.MustCompile(`^[A-Z]{3}$`)
)

// newPaymentsSandbox answers POST /v1/charges; like real payment APIs it insists on an
// Idempotency-Key, so a charge retried after a lost answer is never taken twice.
func newPaymentsSandbox() *sandbox {
	return newSandbox("/v1/charges", true, func(body []byte) (int, any, string) {
		var in chargeRequest
		if err := json.Unmarshal(body, &in); err != nil {
			return http.StatusBadRequest, nil, "body must be a JSON charge"
		}
		if in.Amount <= 0 || !currency.MatchString(in.Currency) {
			return http.StatusUnprocessableEntity, nil, "amount must be positive and currency an ISO 4217 code"
		}
		return http.StatusCreated, map[string]any{"id": "ch_" + randomID(), "status": "succeeded",
			"amount": in.Amount, "currency": in.Currency, "reference": in.Reference}, ""
	})
}

// newSMSSandbox answers POST /v1/messages, deduplicating on Idempotency-Key when present.
func newSMSSandbox() *sandbox {
	return newSandbox("/v1/messages", false, func(body []byte) (int, any, string) {
		var in messageRequest
		if err := json.Unmarshal(body, &in); err != nil {
			return http.StatusBadRequest, nil, "body must be a JSON message"
		}
		if !e164.MatchString(in.To) || in.Body == "" || len(in.Body) > 1600 {
			return http.StatusUnprocessableEntity, nil, "to must be an E.164 number and body 1 to 1600 characters"
		}
		return http.StatusAccepted, map[string]any{"id": "msg_" + randomID(), "status": "queued", "to": in.To}, ""
	})
}

func (sb *sandbox) serve(w http.ResponseWriter, r *http.Request, keyRequired bool, h create) {
	key := r.Header.Get("Idempotency-Key")
	sb.mu.Lock()
	sb.stats.Requests++
	if key != "" {
		sb.stats.ByKey[key]++
	}
	mode := sb.mode
	if sb.left > 0 {
		if sb.left--; sb.left == 0 {
			sb.mode = failureNone
		}
	}
	sb.mu.Unlock()
	switch mode {
	case failure503:
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusServiceUnavailable, "sandbox told to fail")
		return
	case failureReset:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, not a clean close
			}
			_ = conn.Close()
		}
		return
	case failureSlow:
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
	if keyRequired && key == "" {
		problem(w, http.StatusBadRequest, "Idempotency-Key header required")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if prev, ok := sb.replay[key]; ok && key != "" {
		if !bytes.Equal(prev.request, body) {
			problem(w, http.StatusUnprocessableEntity, "Idempotency-Key reused with a different request")
			return
		}
		sb.stats.Replayed++
		w.Header().Set("Idempotent-Replayed", "true")
		writeRaw(w, prev.status, prev.body)
		return
	}
	status, resource, detail := h(body)
	if detail != "" {
		problem(w, status, detail)
		return
	}
	out, _ := json.Marshal(resource)
	sb.stats.Created++
	if key != "" {
		sb.replay[key] = storedReply{request: body, status: status, body: out}
	}
	writeRaw(w, status, out)
}

func (sb *sandbox) setFailure(mode failureMode) {
	sb.mu.Lock()
	sb.mode = mode
	sb.mu.Unlock()
}

func (sb *sandbox) snapshot() sandboxStats {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	s := sb.stats
	s.Mode = sb.mode
	s.ByKey = make(map[string]int, len(sb.stats.ByKey))
	for k, v := range sb.stats.ByKey {
		s.ByKey[k] = v
	}
	return s
}

// start listens on a free loopback port.
func (sb *sandbox) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sb.url = "http://" + ln.Addr().String()
	sb.srv = &http.Server{Handler: sb.mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := sb.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			// The sandbox stands in for a remote provider: losing it is an upstream outage,
			// which the clients handle, not a reason to bring the API down.
			slog.Error("sandbox upstream stopped", "url", sb.url, "err", err)
		}
	}()
	return nil
}

func (sb *sandbox) close() {
	if sb.srv != nil {
		_ = sb.srv.Close()
	}
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	body, _ := json.Marshal(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
