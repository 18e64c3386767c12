package metering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// HTTPSinkConfig configures an HTTPSink.
type HTTPSinkConfig struct {
	// URL receives the batches, e.g. OpenMeter's "https://openmeter.cloud/api/v1/events".
	// Required.
	URL string
	// Client sends the requests; nil means a client with a 30s timeout. The intended value
	// is the resilient client from the clients package (tracing, circuit breaker); this
	// sink still applies its own retry policy below, which is safe because every event
	// carries a stable id the receiver deduplicates on.
	Client *http.Client
	// Header is added to every request, typically Authorization. Its values are never
	// logged.
	Header http.Header
	// MaxAttempts bounds the tries per Write; zero means 4. The Meter retries a failed
	// Write again later, so this only shapes how quickly one Write gives up.
	MaxAttempts int
	// RetryMin and RetryMax bound the exponential backoff between tries; zero means 200ms
	// and 5s.
	RetryMin, RetryMax time.Duration
	// MaxRetryAfter caps a server's Retry-After; zero means 30s. A longer or unparsable
	// Retry-After ends the Write with an error and leaves the wait to the Meter.
	MaxRetryAfter time.Duration
}

// HTTPSink posts events as a CloudEvents JSON batch (application/cloudevents-batch+json),
// the format OpenMeter's ingest API and other CloudEvents receivers accept.
//
// It retries network errors, 408, 429 and 5xx responses with capped exponential backoff and
// full jitter, honouring Retry-After up to MaxRetryAfter; POST is safe to retry here because
// the receiver deduplicates on the event id. Other 4xx responses are not retried: Write
// returns an *HTTPStatusError and the Meter keeps the batch, retrying with its own backoff
// until the receiver accepts it, so a misconfigured token loses nothing.
type HTTPSink struct {
	cfg HTTPSinkConfig
}

var _ Sink = (*HTTPSink)(nil)

// HTTPStatusError is a response the receiver refused.
type HTTPStatusError struct {
	StatusCode int
	Body       string // the first 512 bytes
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("metering: http sink: status %d: %s", e.StatusCode, e.Body)
}

// NewHTTPSink validates cfg and returns the sink.
func NewHTTPSink(cfg HTTPSinkConfig) (*HTTPSink, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("metering: http sink: URL %q must be an absolute http(s) URL", cfg.URL)
	}
	if cfg.MaxAttempts < 0 || cfg.RetryMin < 0 || cfg.RetryMax < 0 || cfg.MaxRetryAfter < 0 {
		return nil, errors.New("metering: http sink: negative attempts or durations")
	}
	setDefault(&cfg.MaxAttempts, 4)
	setDefault(&cfg.RetryMin, 200*time.Millisecond)
	setDefault(&cfg.RetryMax, 5*time.Second)
	setDefault(&cfg.MaxRetryAfter, 30*time.Second)
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	cfg.Header = cfg.Header.Clone()
	return &HTTPSink{cfg: cfg}, nil
}

// LogValue keeps credentials out of logs: the headers, and the URL's userinfo and query
// (where tokens are often passed).
func (s *HTTPSink) LogValue() slog.Value {
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return slog.GroupValue(slog.String("url", "(invalid)"))
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return slog.GroupValue(slog.String("url", r.String()))
}

// Write posts events and returns nil once the receiver answered 2xx.
func (s *HTTPSink) Write(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	body, err := EncodeBatch(events)
	if err != nil {
		return err
	}
	backoff := s.cfg.RetryMin
	var last error
	for attempt := 1; ; attempt++ {
		wait, err := s.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if wait < 0 || attempt >= s.cfg.MaxAttempts {
			return last
		}
		if wait == 0 {
			wait = time.Duration(rand.Int64N(int64(backoff)) + 1)
			backoff = min(2*backoff, s.cfg.RetryMax)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), last)
		}
	}
}

// post sends one request. wait < 0 means do not retry; 0 means back off; > 0 is the
// server's Retry-After.
func (s *HTTPSink) post(ctx context.Context, body []byte) (wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	for k, vs := range s.cfg.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", ContentTypeBatch)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return 0, fmt.Errorf("metering: http sink: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	serr := &HTTPStatusError{StatusCode: resp.StatusCode, Body: string(snippet)}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode >= 500:
		ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			return 0, serr
		}
		if ra > s.cfg.MaxRetryAfter {
			return -1, serr
		}
		return max(ra, time.Millisecond), serr
	}
	return -1, serr
}

// retryAfter parses a Retry-After header (delay-seconds or HTTP-date).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > 1<<31 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
