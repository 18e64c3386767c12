package clients

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.opentelemetry.io/otel/metric"
)

// Client calls one upstream. Its round-trip chain is, from the caller inward:
//
//	circuit breaker (per host) → client span → retries (retryablehttp, with the budget)
//	→ per-attempt timeout and body cap → Config.Transport
//
// The breaker sits outside the retries so that it judges whole calls and an open breaker
// is never retried. A Client is safe for concurrent use; make one per upstream and reuse
// it, since it holds the connection pool, the budget and the breakers.
type Client struct {
	s    settings
	base http.RoundTripper
	// transportTimeouts is set when base enforces the attempt timeout itself.
	transportTimeouts bool
	retry             *retryablehttp.Client
	budget            *budget
	breakers          *breakers
	tel               *telemetry
	rt                *transport
	hc                *http.Client
	doClient          *http.Client
	reg               metric.Registration
}

// New returns a Client for the upstream described by cfg; see [Config] for the defaults.
func New(cfg Config) (*Client, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	c := &Client{s: s, budget: newBudget(cfg.Retry.Budget, s.now)}
	c.base, c.transportTimeouts = baseTransport(&cfg, s.attemptTimeout)
	c.breakers = newBreakers(cfg.Breaker, s.name)
	if c.tel, err = newTelemetry(&cfg, s.name); err != nil {
		return nil, err
	}
	c.retry = &retryablehttp.Client{
		// The inner client sends single attempts: no redirects (the outer client follows
		// them, each as a new guarded call) and no timeout (the attempt transport has it).
		HTTPClient: &http.Client{
			Transport:     &attemptTransport{c: c},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		RetryMax:       s.maxAttempts - 1,
		RequestLogHook: c.beforeAttempt,
		CheckRetry:     c.checkRetry,
		// checkRetry has already waited, honouring the caller's context; see there.
		Backoff:      func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return 0 },
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	c.rt = &transport{c: c}
	redirect := func(_ *http.Request, via []*http.Request) error {
		if len(via) > cfg.MaxRedirects {
			return http.ErrUseLastResponse
		}
		return nil
	}
	c.hc = &http.Client{Transport: c.rt, CheckRedirect: redirect, Timeout: max(s.timeout, 0)}
	c.doClient = &http.Client{Transport: c.rt, CheckRedirect: redirect}
	if c.reg, err = c.tel.meter.RegisterCallback(c.observeBreakers, c.tel.state); err != nil {
		return nil, err
	}
	return c, nil
}

// Name returns the upstream name used in errors and telemetry.
func (c *Client) Name() string { return c.s.name }

// HTTPClient returns an [http.Client] that sends through the Client, with its overall
// timeout and redirect policy. Like any http.Client it returns a response for every status;
// use [Client.Do] or [CheckResponse] to turn error statuses into errors.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Transport returns the Client's round-trip chain, to use in an [http.Client] of your own or
// under another RoundTripper. It applies breakers, retries and attempt timeouts, but not
// the overall timeout or the redirect policy, which belong to the http.Client.
func (c *Client) Transport() http.RoundTripper { return c.rt }

// NewRequest builds a request for path, resolved against the base URL.
func (c *Client) NewRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	u := path
	if c.s.base != nil {
		ref, err := url.Parse(path)
		if err != nil {
			return nil, err
		}
		u = c.s.base.ResolveReference(ref).String()
	}
	return http.NewRequestWithContext(ctx, method, u, body)
}

// Do sends req and returns the response when its status is below 400. An error status
// becomes an *[Error] matching [ErrStatus] (with the attempts made and the upstream's
// problem+json), the body read and closed. The overall timeout covers the call and reading
// the returned body, which the caller must close.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	cancel := context.CancelFunc(func() {})
	if c.s.timeout > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeoutCause(req.Context(), c.s.timeout, errCallTimeout)
		req = req.WithContext(ctx)
	}
	resp, err := c.doClient.Do(req)
	if err != nil {
		cancel()
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	attempts, exhausted := 1, false
	if ab, ok := resp.Body.(*attemptBody); ok {
		attempts, exhausted = ab.attempts, ab.exhausted
	}
	if err := CheckResponse(c.s.name, resp); err != nil {
		cancel()
		e := err.(*Error)
		e.Attempts = attempts
		if exhausted {
			// A retry might have turned this status into a success, so the caller hears
			// that the budget, not only the upstream, is why it failed.
			e.Err = &budgetError{e.Err}
		}
		return nil, e
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// BreakerState returns the state of the breaker of host, given with its port
// ("api.example.com:443" for https://api.example.com); a host not yet called is closed.
func (c *Client) BreakerState(host string) State { return c.breakers.state(host) }

// CloseIdleConnections closes the idle connections of the transport.
func (c *Client) CloseIdleConnections() {
	if ci, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Close stops reporting breaker metrics and closes idle connections. The Client still works
// after Close.
func (c *Client) Close() error {
	c.CloseIdleConnections()
	return c.reg.Unregister()
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// resolve makes a relative request URL absolute against the base URL.
func (c *Client) resolve(req *http.Request) *http.Request {
	if c.s.base == nil || req.URL == nil || req.URL.IsAbs() || strings.HasPrefix(req.URL.String(), "//") {
		return req
	}
	r := req.Clone(req.Context())
	r.URL = c.s.base.ResolveReference(req.URL)
	r.Host = ""
	return r
}
