package clients

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Named defaults. Each applies when the matching Config field is zero.
const (
	// DefaultTimeout bounds a whole call made through [Client.HTTPClient], retries and
	// reading the response body included.
	DefaultTimeout = 30 * time.Second
	// DefaultAttemptTimeout bounds one attempt up to its response headers; see
	// Config.AttemptTimeout.
	DefaultAttemptTimeout = 10 * time.Second
	// DefaultMaxAttempts is the number of attempts of a retryable call, the first included.
	DefaultMaxAttempts = 3
	// DefaultBaseDelay is the backoff ceiling before the first retry; it doubles per retry.
	DefaultBaseDelay = 100 * time.Millisecond
	// DefaultMaxDelay caps every wait between attempts, Retry-After included.
	DefaultMaxDelay = 5 * time.Second
	// DefaultBudgetRatio lets retries add at most 10% to the calls made.
	DefaultBudgetRatio = 0.1
	// DefaultBudgetMinPerSecond is the floor of retries per second the budget always
	// allows, so a client with little traffic can still retry.
	DefaultBudgetMinPerSecond = 3.0
	// DefaultBudgetBurst is the most retry tokens the budget saves up.
	DefaultBudgetBurst = 10.0
	// DefaultBreakerFailures is the number of consecutive failed calls that opens a breaker.
	DefaultBreakerFailures = 5
	// DefaultBreakerOpenFor is how long an open breaker rejects calls before it lets probes
	// through.
	DefaultBreakerOpenFor = 30 * time.Second
	// DefaultBreakerInterval is the period after which a closed breaker forgets its counts.
	DefaultBreakerInterval = 60 * time.Second
	// DefaultMaxResponseBytes caps a response body.
	DefaultMaxResponseBytes = 10 << 20
	// DefaultMaxBufferedBody is the largest request body without GetBody that is buffered
	// in memory so the call can be retried.
	DefaultMaxBufferedBody = 64 << 10
	// DefaultIdempotencyHeader carries the key that makes a POST or PATCH safe to retry.
	DefaultIdempotencyHeader = "Idempotency-Key"
)

// Config configures a [Client] for one upstream. The zero value is a working client with
// the defaults above: retries, a retry budget and a circuit breaker per host.
type Config struct {
	// Name identifies the upstream in errors, spans and metrics ("payments"). Empty means
	// the host of BaseURL, or "upstream".
	Name string
	// BaseURL resolves requests whose URL is relative (no scheme and host). Empty means
	// every request must carry an absolute URL.
	BaseURL string

	// Timeout bounds a whole call through [Client.HTTPClient] and [Client.Do], including
	// retries and reading the body. Zero means DefaultTimeout; negative means none (the
	// caller's context still applies). [Client.Transport] does not apply it.
	Timeout time.Duration
	// AttemptTimeout bounds each attempt up to the response headers, inside the caller's
	// deadline, so one hung connection costs an attempt rather than the call. An attempt
	// that times out fails with ErrAttemptTimeout, counts against the breaker and may be
	// retried. The transport the Client builds enforces it with its own timers, on
	// connecting, the TLS handshake and waiting for the headers once the request is
	// written, at no cost per call; a Transport given in Config gets a context per attempt
	// covering the whole attempt. Zero means DefaultAttemptTimeout; negative means none.
	AttemptTimeout time.Duration

	// Retry configures retries. See [RetryConfig].
	Retry RetryConfig
	// Breaker configures the circuit breakers. See [BreakerConfig].
	Breaker BreakerConfig

	// Transport sends each attempt. Nil means a clone of [http.DefaultTransport]; with a
	// Guard it must be nil or an *[http.Transport], which is cloned and dials through the
	// guard.
	Transport http.RoundTripper
	// Guard, when set, refuses connections to loopback, private, link-local and cloud
	// metadata addresses, checked on the address actually dialled. Use it for webhooks and
	// any URL a user supplies. Nil means no guard.
	Guard *Guard
	// MaxRedirects is how many redirects [Client.HTTPClient] follows. Zero means none: a
	// 3xx response is returned as is, which keeps a guarded client from being steered.
	MaxRedirects int
	// MaxResponseBytes caps a response body; reading past it fails with
	// [ErrResponseTooLarge]. Zero means DefaultMaxResponseBytes; negative means no cap.
	MaxResponseBytes int64

	// TracerProvider creates the client spans. Nil means the otel global provider.
	TracerProvider trace.TracerProvider
	// MeterProvider creates the client metrics. Nil means the otel global provider.
	MeterProvider metric.MeterProvider
	// Propagator injects the trace context into requests. Nil means the otel global
	// propagator.
	Propagator propagation.TextMapPropagator
	// Now is the clock of the retry budget and of Retry-After dates. Nil means [time.Now].
	// The breakers use the real clock: gobreaker takes none.
	Now func() time.Time
}

// RetryConfig configures retries. Only requests that are safe to repeat are retried: GET,
// HEAD, PUT, DELETE, OPTIONS and TRACE, and other methods (POST, PATCH) when they carry an
// idempotency key. A request that failed while connecting was never sent, so it is always
// retried.
type RetryConfig struct {
	// MaxAttempts is the number of attempts, the first included. Zero means
	// DefaultMaxAttempts; 1 or negative disables retries.
	MaxAttempts int
	// BaseDelay is the backoff ceiling before the first retry, doubled for each further
	// retry; the wait is drawn uniformly below the ceiling (full jitter). Zero means
	// DefaultBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps every wait, including one asked for by Retry-After. Zero means
	// DefaultMaxDelay.
	MaxDelay time.Duration
	// Budget limits how much load retries may add. See [BudgetConfig].
	Budget BudgetConfig
	// IdempotencyHeader names the header that makes a POST or PATCH retryable. Empty means
	// DefaultIdempotencyHeader.
	IdempotencyHeader string
	// GenerateIdempotencyKey adds a random key to a POST or PATCH that has none, so it can be
	// retried; every attempt carries the same key. Only enable it for upstreams that
	// deduplicate on the key.
	GenerateIdempotencyKey bool
	// MaxBufferedBody is the largest request body without GetBody that is buffered so the
	// call can be retried; a larger or unknown-length body is streamed once, without
	// retries. Zero means DefaultMaxBufferedBody; negative means never buffer.
	MaxBufferedBody int64
	// RetryOnStatus reports whether a response status is worth retrying. Nil retries 408,
	// 429, 500, 502, 503 and 504.
	RetryOnStatus func(status int) bool
}

// BudgetConfig is a token bucket shared by every call of a [Client]: each call adds Ratio
// tokens, each retry takes one, and MinPerSecond tokens are added every second. Retries
// therefore add at most Ratio of the calls plus MinPerSecond per second, however many
// attempts a failing upstream would otherwise cause.
type BudgetConfig struct {
	// Ratio is the share of retries to calls. Zero means DefaultBudgetRatio; negative
	// disables the budget.
	Ratio float64
	// MinPerSecond is the floor of retries per second. Zero means
	// DefaultBudgetMinPerSecond; negative means no floor.
	MinPerSecond float64
	// Burst is the most tokens saved up. Zero means DefaultBudgetBurst.
	Burst float64
}

// BreakerConfig configures the circuit breakers, one per upstream host. A breaker judges a
// whole call, after its retries: a transport error, an attempt timeout or a 5xx status is a
// failure (429 too with TripOn429); the caller giving up is not counted.
type BreakerConfig struct {
	// Disabled turns the breakers off.
	Disabled bool
	// Failures is the number of consecutive failed calls that opens the breaker. Zero means
	// DefaultBreakerFailures. Ignored when ReadyToTrip is set.
	Failures uint32
	// ReadyToTrip, when set, decides from the counts of the closed breaker whether to open.
	ReadyToTrip func(Counts) bool
	// OpenFor is how long an open breaker rejects calls with [ErrCircuitOpen] before it
	// turns half-open. Zero means DefaultBreakerOpenFor.
	OpenFor time.Duration
	// Probes is how many calls a half-open breaker lets through; as many successes in a row
	// close it, any failure opens it again. Zero means 1.
	Probes uint32
	// Interval is the period after which a closed breaker clears its counts. Zero means
	// DefaultBreakerInterval; negative means never.
	Interval time.Duration
	// TripOn429 counts 429 Too Many Requests as a failure.
	TripOn429 bool
	// OnStateChange, when set, is called when the breaker of host changes state.
	OnStateChange func(host string, from, to State)
}

// settings are the Config with defaults applied and validated.
type settings struct {
	name             string
	base             *url.URL
	timeout          time.Duration
	attemptTimeout   time.Duration
	maxAttempts      int
	baseDelay        time.Duration
	maxDelay         time.Duration
	idemHeader       string
	genKey           bool
	maxBuffered      int64
	maxResponseBytes int64
	retryOnStatus    func(int) bool
	now              func() time.Time
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (cfg *Config) settings() (settings, error) {
	s := settings{
		name:             cfg.Name,
		timeout:          orDefault(cfg.Timeout, DefaultTimeout),
		attemptTimeout:   orDefault(cfg.AttemptTimeout, DefaultAttemptTimeout),
		maxAttempts:      orDefault(cfg.Retry.MaxAttempts, DefaultMaxAttempts),
		baseDelay:        orDefault(cfg.Retry.BaseDelay, DefaultBaseDelay),
		maxDelay:         orDefault(cfg.Retry.MaxDelay, DefaultMaxDelay),
		idemHeader:       http.CanonicalHeaderKey(orDefault(cfg.Retry.IdempotencyHeader, DefaultIdempotencyHeader)),
		genKey:           cfg.Retry.GenerateIdempotencyKey,
		maxBuffered:      orDefault(cfg.Retry.MaxBufferedBody, DefaultMaxBufferedBody),
		maxResponseBytes: orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		retryOnStatus:    cfg.Retry.RetryOnStatus,
		now:              cfg.Now,
	}
	if s.retryOnStatus == nil {
		s.retryOnStatus = defaultRetryOnStatus
	}
	if s.now == nil {
		s.now = time.Now
	}
	var errs []error
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("BaseURL: %w", err))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			errs = append(errs, fmt.Errorf("BaseURL %q: want an absolute http or https URL", cfg.BaseURL))
		default:
			s.base = u
		}
	}
	if s.name == "" {
		s.name = "upstream"
		if s.base != nil {
			s.name = s.base.Host
		}
	}
	if s.maxAttempts < 1 {
		s.maxAttempts = 1
	}
	if s.baseDelay < 0 || s.maxDelay < 0 {
		errs = append(errs, errors.New("Retry.BaseDelay and Retry.MaxDelay must not be negative"))
	}
	if s.baseDelay > s.maxDelay {
		errs = append(errs, fmt.Errorf("Retry.BaseDelay %v exceeds Retry.MaxDelay %v", s.baseDelay, s.maxDelay))
	}
	if cfg.MaxRedirects < 0 {
		errs = append(errs, errors.New("MaxRedirects must not be negative"))
	}
	if cfg.Retry.Budget.Burst < 0 {
		errs = append(errs, errors.New("Retry.Budget.Burst must not be negative"))
	}
	if cfg.Guard != nil && cfg.Transport != nil {
		if _, ok := cfg.Transport.(*http.Transport); !ok {
			errs = append(errs, fmt.Errorf("Guard needs Transport to be nil or *http.Transport, not %T", cfg.Transport))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s, fmt.Errorf("clients: invalid config: %w", err)
	}
	return s, nil
}

func defaultRetryOnStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
